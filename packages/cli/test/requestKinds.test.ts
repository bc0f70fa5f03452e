/**
 * Issue 21 in files (items 1, 3, 4 and 5): a JSONL file's requests carry
 * text, form, bytes (base64) and multipart bodies (files by path), their own
 * options, relative urls with `--base-url`, and `--fail-on` makes chosen
 * statuses failures. Run as the real executable against the test server on
 * 127.0.0.1, which reads bodies with real parsers (`Request.formData()`,
 * `URLSearchParams`).
 */
import { start, type TestServer } from "@loamy/test-server"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { jsonl, loamy, records, scratchDir } from "./helpers.js"

let server: TestServer
beforeAll(async () => {
  server = await start()
})
afterAll(async () => {
  await server?.close()
})

const scratch = scratchDir("loamy-cli-kinds-")
const { file } = scratch

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")
const timeout = 60_000
const byIndex = (stdout: string) => Object.fromEntries(records(stdout).map((o) => [o.index, o]))

describe("bodies beyond JSON in a JSONL file", () => {
  it("text, form, base64 bytes and multipart (a file by path, bytes) arrive as real parsers read them", async () => {
    const upload = file("upload.csv", "id,name\n1,ünïcode\n".repeat(500))
    const bytes = Buffer.from(Uint8Array.from({ length: 256 }, (_, i) => i))
    const url = `${server.url}/parse`
    const input = file("kinds.jsonl", jsonl([
      { url, httpOp: "POST", text: "plain text" },
      { url, httpOp: "POST", form: { name: "Ada Lovelace", tags: ["a&b", "c=d"] } },
      { url, httpOp: "PUT", bytes: bytes.toString("base64") },
      {
        url,
        httpOp: "POST",
        multipart: [
          { name: "title", value: "report" },
          { name: "file", path: upload, contentType: "text/csv" },
          { name: "raw", bytes: bytes.toString("base64"), filename: "raw.bin" }
        ]
      },
      { url, httpOp: "POST", multipart: [{ name: "file", path: scratch.at("missing.csv") }] }
    ]))
    const r = await loamy(["send", input, "--ordered"])
    expect(r.code).toBe(1)
    const out = byIndex(r.stdout)
    expect(out[0]!.body).toMatchObject({ contentType: "text/plain; charset=utf-8", text: "plain text" })
    expect(out[1]!.body).toMatchObject({
      contentType: "application/x-www-form-urlencoded",
      form: [["name", "Ada Lovelace"], ["tags", "a&b"], ["tags", "c=d"]]
    })
    expect(out[2]!.body).toMatchObject({ contentType: "application/octet-stream", base64: bytes.toString("base64") })
    const uploaded = fs.readFileSync(upload)
    expect(out[3]!.body.parts).toEqual([
      { name: "title", value: "report" },
      { name: "file", filename: "upload.csv", type: "text/csv", size: uploaded.length, sha256: sha256(uploaded) },
      { name: "raw", filename: "raw.bin", type: "application/octet-stream", size: 256, sha256: sha256(bytes) }
    ])
    // The records hold the requests as the file does: bytes as base64.
    expect(out[2]!.requestMap).toEqual({ url, httpOp: "PUT", bytes: bytes.toString("base64") })
    expect(out[3]!.requestMap.multipart[2]).toEqual({ name: "raw", bytes: bytes.toString("base64"), filename: "raw.bin" })
    // An unreadable file is that request's error; the run goes on.
    expect(out[4]!.error).toMatchObject({ _tag: "RequestBodyError", field: "multipart[0].path" })
    for (const i of [0, 1, 2, 3]) expect(out[i]).not.toHaveProperty("error")
  }, timeout)

  it("a bad body is that line's InvalidInputError naming the line and field; a JSON array is refused whole", async () => {
    const lines = file("bad.jsonl", jsonl([
      { url: `${server.url}/`, httpOp: "GET" },
      { url: `${server.url}/parse?token=s3cret`, httpOp: "POST", form: { a: 1 } },
      { url: `${server.url}/parse`, httpOp: "POST", text: "x", bytes: "AA==" }
    ]))
    const r = await loamy(["send", lines, "--ordered"])
    expect(r.code).toBe(1)
    const out = byIndex(r.stdout)
    expect(out[1]!.error).toMatchObject({ _tag: "InvalidInputError", field: "form.a" })
    expect(out[2]!.error).toMatchObject({ _tag: "InvalidInputError", field: "bytes" })
    expect(r.stdout + r.stderr).not.toContain("s3cret")
    const array = file("bad.json", JSON.stringify([{ url: `${server.url}/`, httpOp: "GET", multipart: [{ name: "a" }] }]))
    const refused = await loamy(["send", array])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain("multipart[0]")
  }, timeout)

  it("a resumed run compares the new fields: a changed form is a mismatch, the same bytes are not", async () => {
    const url = `${server.url}/parse`
    const same = [
      { url, httpOp: "POST", form: { a: "1" } },
      { url, httpOp: "PUT", bytes: "AAEC" },
      { url, httpOp: "GET", options: { timeout: "Infinity" } }
    ]
    const input = file("resume.jsonl", jsonl(same))
    const output = scratch.at("resume-out.jsonl")
    expect((await loamy(["send", input, "-o", output])).code).toBe(0)
    // The same input: nothing to send.
    const again = await loamy(["send", input, "--resume", output])
    expect(again.code).toBe(0)
    expect(records(fs.readFileSync(output, "utf8")).length).toBe(3)
    fs.writeFileSync(input, jsonl([{ url, httpOp: "POST", form: { a: "2" } }, ...same.slice(1)]))
    const changed = await loamy(["send", input, "--resume", output])
    expect(changed.code).toBe(2)
    expect(changed.stderr).toMatch(/index 0|0\b/)
  }, timeout)
})

describe("per-request options, --base-url and --fail-on in files", () => {
  it("a line's own options override the run's flags for that line", async () => {
    const input = file("options.jsonl", jsonl([
      { url: `${server.url}/delay/1500`, httpOp: "GET", options: { timeout: "100ms" } },
      { url: `${server.url}/delay/200`, httpOp: "GET" },
      { url: `${server.url}/big?bytes=5000`, httpOp: "GET", options: { maxBodyBytes: 1000 } },
      { url: `${server.url}/flaky?key=cli-opts-${process.pid}&fails=1`, httpOp: "GET", options: { retry: { attempts: 2, baseDelay: "5ms" } } },
      { url: `${server.url}/`, httpOp: "GET", options: { timeout: "later" } }
    ]))
    const r = await loamy(["send", input, "--timeout", "1s"])
    expect(r.code).toBe(1)
    const out = byIndex(r.stdout)
    expect(out[0]!.error).toMatchObject({ _tag: "TimeoutError", timeoutMs: 100 })
    expect(out[1]).not.toHaveProperty("error")
    expect(out[2]!.error).toMatchObject({ _tag: "BodyTooLargeError" })
    expect([out[3]!.statusCode, out[3]!.attempts]).toEqual([200, 2])
    expect(out[4]!.error).toMatchObject({ _tag: "InvalidInputError", field: "options.timeout" })
    expect(out[0]!.requestMap.options).toEqual({ timeout: 100 })
  }, timeout)

  it("--base-url joins relative urls; without it a relative url is refused with its line and field", async () => {
    const input = file("relative.jsonl", jsonl([
      { url: "/echo?x=1", httpOp: "GET" },
      { url: "echo", httpOp: "GET" },
      { url: `${server.otherUrl}/`, httpOp: "GET" }
    ]))
    const r = await loamy(["send", input, "--base-url", server.url, "--ordered"])
    expect(r.code, r.stdout + r.stderr).toBe(0)
    const out = byIndex(r.stdout)
    expect(out[0]!.requestMap.url).toBe(`${server.url}/echo?x=1`)
    expect(out[1]!.body).toMatchObject({ path: "/echo" })
    expect(out[2]!.requestMap.url).toBe(`${server.otherUrl}/`)
    const without = await loamy(["send", input, "--ordered"])
    expect(without.code).toBe(1)
    expect(byIndex(without.stdout)[0]!.error).toMatchObject({ _tag: "InvalidInputError", field: "url" })
    expect(byIndex(without.stdout)[0]!.error.detail).toContain("needs the baseUrl option")
    const bad = await loamy(["send", input, "--base-url", "ftp://x/"])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("--base-url")
  }, timeout)

  it("--fail-on makes chosen statuses failures (exit 1), and --fail-fast stops on one", async () => {
    const input = file("statuses.jsonl", jsonl([
      { url: `${server.url}/status/500`, httpOp: "GET" },
      { url: `${server.url}/status/404`, httpOp: "GET" },
      { url: `${server.url}/`, httpOp: "GET" }
    ]))
    const plain = await loamy(["send", input])
    expect(plain.code).toBe(0)
    const r = await loamy(["send", input, "--fail-on", "5xx"])
    expect(r.code).toBe(1)
    const out = byIndex(r.stdout)
    expect(out[0]!.error).toMatchObject({ _tag: "HttpStatusError", statusCode: 500 })
    expect(out[0]!.body).toEqual({ status: 500 })
    expect(out[1]).not.toHaveProperty("error")
    server.resetStats()
    const many = file("fail-fast.jsonl", jsonl([
      { url: `${server.url}/status/503`, httpOp: "GET" },
      ...Array.from({ length: 30 }, () => ({ url: `${server.url}/delay/100`, httpOp: "GET" }))
    ]))
    const fast = await loamy(["send", many, "--fail-on", "500-599", "--fail-fast", "-c", "1"])
    expect(fast.code).toBe(1)
    expect(server.stats.requests).toBeLessThan(5)
    const badFlag = await loamy(["send", input, "--fail-on", "6xx"])
    expect(badFlag.code).toBe(2)
    expect(badFlag.stderr).toContain("--fail-on")
  }, timeout)
})
