/**
 * The CLI's input and output edges, run as a real process against a loopback
 * test server: a reader that goes away (`| head -1`), secrets in lines that
 * are not requests, and input that is not UTF-8. (An output that cannot be
 * written: signals.test.ts.)
 */
import { start, type TestServer } from "@loamy/test-server"
import * as fs from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { jsonl, loamy, records, scratchDir, spawnLoamy, within } from "./helpers.js"

let server: TestServer
beforeAll(async () => {
  server = await start()
})
afterAll(async () => {
  await server?.close()
})

const scratch = scratchDir("loamy-cli-io-")
const { file } = scratch

const timeout = 60_000

describe("output", () => {
  it("stops sending and exits 0, quietly, when the reader of stdout goes away (| head -1)", async () => {
    const total = 400
    // At 2 at a time and 20 ms each, sending everything would take over 4 s and reach every request.
    const input = file("many.jsonl", jsonl(Array.from({ length: total }, () => ({ url: `${server.url}/delay/20`, httpOp: "GET" }))))
    server.resetStats()
    const { child, exited } = spawnLoamy(["send", input, "--concurrency", "2"])
    // Read the first line, then close the pipe, as `head -1` does.
    const first = await within(
      new Promise<string>((resolve, reject) => {
        let seen = ""
        child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
          seen += chunk
          const end = seen.indexOf("\n")
          if (end !== -1) {
            child.stdout!.destroy()
            resolve(seen.slice(0, end))
          }
        })
        child.stdout!.on("end", () => reject(new Error("stdout ended before a line")))
      }),
      timeout / 2,
      "the first line",
      () => child.kill("SIGKILL")
    )
    expect(JSON.parse(first)).toMatchObject({ index: 0, statusCode: 200 })
    const { code, signal, stderr } = await within(exited, timeout / 2, "loamy", () => child.kill("SIGKILL"))
    expect({ code, signal }).toEqual({ code: 0, signal: null })
    // No stack trace, no summary, no message: the reader chose to stop reading.
    expect(stderr).toBe("")
    // It stopped: far from every request was sent.
    expect(server.stats.byPath["/delay/20"]).toBeLessThan(total / 2)
  }, timeout)

  it("a file output that works is unchanged: every record, exit 0", async () => {
    const input = file("ok.jsonl", jsonl([{ url: `${server.url}/`, httpOp: "GET" }, { url: `${server.url}/text`, httpOp: "GET" }]))
    const out = scratch.at("out.jsonl")
    const r = await loamy(["send", input, "-q", "-o", out], { timeoutMs: timeout })
    expect(r.stderr).toBe("")
    expect(records(fs.readFileSync(out, "utf8")).map((x) => x.index)).toEqual([0, 1])
  }, timeout)
})

describe("secrets in lines that are not requests", () => {
  it("shows no header value, query string or userinfo of a line it cannot use, in records or messages (an unquoted Authorization value included)", async () => {
    const lines = [
      `{"url": "${server.url}/", "httpOp": "GET", "headers": {"Authorization": "Bearer tok-111111", "X-Api-Key": "key-222222"}`,
      `{"url": "${server.url}/", "httpOp": "GET", "headers": {"x-auth-token": "tt-333333", "X-Custom": "cu-444444"}} trailing`,
      `{url: "${server.url}/", headers: {cookie: 'c-555555', proxy-authorization: "Basic pa-666666"`,
      `not json at all, known secret dflt-777777`,
      JSON.stringify({ url: `${server.url}/`, httpOp: "GET" }),
      // Unquoted: V8's parse error quotes the text around the error, here the token itself.
      `{"url": "${server.url}/?token=q-888888", "httpOp": "GET", "headers": {"Authorization": Bearer unq-999999}}`,
      // JSON, but not a request: shown, with nothing that could be a secret.
      JSON.stringify({
        url: "http://bob:pw-121212@127.0.0.1/x?token=q-131313",
        httpOp: "FETCH",
        headers: { "X-Custom": "cu-141414", Authorization: "Basic au-151515" },
        query_params: { sig: "s-161616" },
        header: { Cookie: "c-171717" }
      }),
      // Valid JSON with a header value and a query parameter that are not strings: the check names the field, not the value.
      JSON.stringify({ url: `${server.url}/`, httpOp: "GET", headers: { "X-Api-Key": 212121 } }),
      JSON.stringify({ url: `${server.url}/`, httpOp: "GET", queryParams: { token: 232323 } })
    ]
    const input = file("raw.jsonl", lines.join("\n") + "\n")
    const secrets = ["tok-111111", "key-222222", "tt-333333", "cu-444444", "c-555555", "pa-666666", "dflt-777777", "q-888888",
      "unq-999999", "pw-121212", "q-131313", "cu-141414", "au-151515", "s-161616", "c-171717", "212121", "232323"]
    const r = await loamy(["send", input, "--redact", "x-custom", "-H", "Authorization: dflt-777777"], { timeoutMs: timeout })
    expect(r.code).toBe(1)
    const out = records(r.stdout).sort((a, b) => a.index - b.index)
    expect(out.map((x) => x.line)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(out[7]!.error).toMatchObject({ field: "headers.X-Api-Key", detail: "must be a string, got a number" })
    expect(out[8]!.error).toMatchObject({ field: "queryParams.token", detail: "must be a string, got a number" })
    for (const secret of secrets) {
      expect(r.stdout, secret).not.toContain(secret)
      expect(r.stderr, secret).not.toContain(secret)
    }
    for (const n of [0, 1, 2, 3, 5]) {
      expect(out[n]!.requestMap, `line ${n + 1}`).toMatch(/^<not shown: \d+ characters that are not a JSON request \(--show-secrets shows them\)>$/)
      expect(out[n]).toMatchObject({ line: n + 1, statusCode: 0, error: { _tag: "InvalidInputError", index: n } })
    }
    expect(out[0]!.error.detail).toMatch(/^not valid JSON/)
    // The parse error keeps what is wrong and where, not the text around it.
    expect(out[5]!.error.detail).toBe("not valid JSON: Unexpected token 'B'")
    expect(out[5]!.error.message).toBe("Invalid request on line 6: not valid JSON: Unexpected token 'B'")
    expect(out[4]!.statusCode).toBe(200)
    expect(out[6]!.requestMap).toEqual({
      url: "http://<redacted>@127.0.0.1/x?<redacted>",
      httpOp: "FETCH",
      headers: { "X-Custom": "<redacted>", Authorization: "<redacted>" },
      query_params: { sig: "<redacted>" },
      header: { Cookie: "<redacted>" }
    })
    // A JSON array is refused whole (exit 2), saying why without the secrets.
    const arrays = [
      `[{"url": "${server.url}/", "httpOp": "GET", "headers": {"Authorization": Bearer arr-181818}}]`,
      `[{"url": "http://bob:arr-191919@127.0.0 .1/?token=arr-202020", "httpOp": "GET"}]`,
      `[{"url": "${server.url}/", "httpOp": "GET", "headers": {"Authorization": 242424}}]`
    ]
    for (const [n, text] of arrays.entries()) {
      const refused = await loamy(["send", file(`raw-${n}.json`, text)], { timeoutMs: timeout })
      expect(refused.code, refused.stderr).toBe(2)
      expect(refused.stderr).toMatch(
        [/is not a valid JSON array: Unexpected token 'B'$/m, /request at index 0 is invalid, field url/, /field headers\.Authorization: must be a string, got a number$/m][n]!
      )
      for (const secret of ["arr-181818", "arr-191919", "arr-202020", "242424"]) expect(refused.stderr).not.toContain(secret)
    }
    // --show-secrets shows them, as for every other record.
    const shown = await loamy(["send", input, "-q", "--show-secrets"], { timeoutMs: timeout })
    const shownOut = records(shown.stdout).sort((a, b) => a.index - b.index)
    expect(shownOut[0]!.requestMap).toBe(lines[0])
    expect(shownOut[5]!.requestMap).toBe(lines[5])
    expect(shownOut[6]!.requestMap).toEqual(JSON.parse(lines[6]!))
  }, timeout)
})

describe("input that is not UTF-8", () => {
  const good = (n: number) => JSON.stringify({ url: `${server.url}/echo?n=${n}`, httpOp: "GET", headers: { "x-word": "café" } })

  it("refuses a JSONL line that is not UTF-8 with its line number, and sends the others intact", async () => {
    const bad = Buffer.concat([Buffer.from(`{"url": "${server.url}/echo", "httpOp": "GET", "headers": {"x-word": "caf`), Buffer.from([0xe9]), Buffer.from(`"}}`)])
    const input = file("latin1.jsonl", Buffer.concat([Buffer.from(good(1) + "\n"), bad, Buffer.from("\n" + good(3) + "\n")]))
    server.resetStats()
    const r = await loamy(["send", input, "-q"], { timeoutMs: timeout })
    expect(r.code).toBe(1)
    const out = records(r.stdout).sort((a, b) => a.index - b.index)
    expect(out.map((x) => [x.line, x.statusCode])).toEqual([[1, 200], [2, 0], [3, 200]])
    expect(out[1]).toMatchObject({ line: 2, error: { _tag: "InvalidInputError", index: 1, detail: "not valid UTF-8" } })
    expect(out[1]!.error.message).toContain("not valid UTF-8")
    expect(out[0]!.body.headers["x-word"]).toBe("café")
    expect(server.stats.byPath["/echo"]).toBe(2)
  }, timeout)

  it("decodes characters cut by a read-chunk boundary whole (stdin, written in pieces)", async () => {
    // 1,000 lines of 'café' and '☕', over 256 KiB, so reads split multi-byte characters.
    const lines = Array.from({ length: 1000 }, (_, i) =>
      JSON.stringify({ url: `${server.url}/status/200`, httpOp: "POST", body: { pad: "☕é".repeat(100 + (i % 7)) } }))
    const r = await loamy(["send", "-q", "--concurrency", "20", "-"], { stdin: lines.join("\n") + "\n", timeoutMs: timeout })
    expect(r.stderr).toBe("")
    expect(r.code).toBe(0)
    const out = records(r.stdout)
    expect(out).toHaveLength(1000)
    for (const record of out) expect(record.requestMap.body.pad).toMatch(/^(☕é)+$/)
  }, timeout)

  it("refuses a JSON array file that is not UTF-8: exit 2 with the line, nothing sent", async () => {
    const bytes = Buffer.concat([
      Buffer.from(`[\n${good(1)},\n{"url": "${server.url}/echo", "httpOp": "GET", "headers": {"x": "`),
      Buffer.from([0xff, 0xfe]),
      Buffer.from(`"}}\n]\n`)
    ])
    const input = file("bad-array.json", bytes)
    server.resetStats()
    const r = await loamy(["send", input, "-q"], { timeoutMs: timeout })
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("not valid UTF-8 (line 3)")
    expect(r.stdout).toBe("")
    expect(server.stats.requests).toBe(0)
  }, timeout)
})
