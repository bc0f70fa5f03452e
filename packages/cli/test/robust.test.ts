/**
 * A record the CLI cannot write whole does not stop the run: a response body
 * nested 5,000 levels deep, a request line nested 10,000 deep shown with
 * --show-secrets, and (in this process) bodies no JSON writer can write at
 * any depth. Each becomes a record with a typed error for its index, the
 * others are written, the exit code is 1 (never "--fail-fast" when it was not
 * given), and --resume gets past it.
 */
import { RequestResponse } from "@loamy/core"
import { type Listening, listen } from "@loamy/test-kit"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeRedaction, responseRecord } from "../dist/internal/output.js"
import { jsonl, loamy, records } from "./helpers.js"

/** `/deep?depth=N`: a JSON body of N nested arrays; anything else: `{"ok":true}`. Counts requests by path. */
let server: Listening
let url: string
const hits = new Map<string, number>()
let dir: string
beforeAll(async () => {
  server = await listen((req, res) => {
    const at = new URL(req.url!, "http://x")
    hits.set(at.pathname, (hits.get(at.pathname) ?? 0) + 1)
    res.setHeader("content-type", "application/json")
    const depth = Number(at.searchParams.get("depth") ?? "0")
    res.end(at.pathname === "/deep" ? "[".repeat(depth) + "]".repeat(depth) : "{\"ok\":true}")
  })
  url = server.url
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "loamy-cli-robust-"))
})
afterAll(async () => {
  await server.close()
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
})

describe("records that cannot be written whole", () => {
  it("a response nested 5,000 levels deep: its own record with an error, the others written, exit 1, not --fail-fast; --resume gets past it", async () => {
    hits.clear()
    const input = path.join(dir, "deep.jsonl")
    fs.writeFileSync(input, jsonl([
      { url: `${url}/a`, httpOp: "GET" },
      { url: `${url}/deep?depth=5000`, httpOp: "GET" },
      { url: `${url}/b`, httpOp: "GET" }
    ]))
    const out = path.join(dir, "deep.out.jsonl")
    const r = await loamy(["send", "--resume", out, input], { timeoutMs: 60_000 })
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).not.toContain("--fail-fast")
    expect(r.stderr).toContain("3 requests in")
    const byIndex = new Map(records(fs.readFileSync(out, "utf8")).map((x) => [x["index"], x]))
    expect([...byIndex.keys()].sort()).toEqual([0, 1, 2])
    expect(byIndex.get(0)).toMatchObject({ statusCode: 200, body: { ok: true } })
    expect(byIndex.get(2)).toMatchObject({ statusCode: 200, body: { ok: true } })
    const deep = byIndex.get(1)!
    expect(deep["statusCode"]).toBe(200)
    expect(typeof deep["error"]?._tag).toBe("string")
    expect(deep["error"].message).toMatch(/nest|deep/i)
    // The record reads back as a RequestResponse, its error as a class of the core.
    const decoded = Schema.decodeUnknownSync(RequestResponse.RequestResponse)(deep)
    expect(decoded.error?._tag).toBe(deep["error"]._tag)
    // Once written, the record is there: a resume sends nothing again.
    const again = await loamy(["send", "--resume", out, input], { timeoutMs: 60_000 })
    expect(again.code, again.stderr).toBe(1)
    expect(again.stderr).toContain("nothing left to send")
    expect(hits.get("/deep")).toBe(1)
  }, 60_000)

  it("a request line nested 10,000 deep, shown raw by --show-secrets: its record says so, the run goes on", async () => {
    hits.clear()
    const deepBody = "[".repeat(10_000) + "]".repeat(10_000)
    const input = path.join(dir, "deep-line.jsonl")
    fs.writeFileSync(
      input,
      [
        JSON.stringify({ url: `${url}/a`, httpOp: "GET" }),
        `{"url": "${url}/echo", "httpOp": "POST", "body": ${deepBody}}`,
        JSON.stringify({ url: `${url}/b`, httpOp: "GET" })
      ].join("\n") + "\n"
    )
    const out = path.join(dir, "deep-line.out.jsonl")
    const [shown, hidden] = await Promise.all([
      loamy(["send", "--show-secrets", "-o", out, input], { timeoutMs: 60_000 }),
      loamy(["send", input], { timeoutMs: 60_000 })
    ])
    for (const [r, text] of [[shown, fs.readFileSync(out, "utf8")], [hidden, hidden.stdout]] as const) {
      expect(r.code, r.stderr).toBe(1)
      expect(r.stderr).not.toContain("--fail-fast")
      const byIndex = new Map(records(text).map((x) => [x["index"], x]))
      expect([...byIndex.keys()].sort()).toEqual([0, 1, 2])
      expect(byIndex.get(1)!["error"]).toMatchObject({ _tag: "InvalidInputError", index: 1 })
      expect(byIndex.get(1)!["line"]).toBe(2)
      expect(byIndex.get(0)!["statusCode"]).toBe(200)
    }
    // The core refuses such a line as its text without building it, so --show-secrets writes the line as it was.
    expect(records(fs.readFileSync(out, "utf8")).find((x) => x["index"] === 1)!["requestMap"]).toBe(
      `{"url": "${url}/echo", "httpOp": "POST", "body": ${deepBody}}`
    )
    // The line was not sent; the others were, by both runs.
    expect(hits.get("/echo")).toBeUndefined()
    expect(hits.get("/a")).toBe(2)
  }, 60_000)
})

describe("responseRecord (in this process)", () => {
  const request = { url: "http://127.0.0.1:1/x?token=secret", httpOp: "GET" as const }
  const base = { requestMap: request, statusCode: 200, headers: { "content-type": "application/json" }, elapsedMs: 1.5, attempts: 1 }
  const redaction = makeRedaction(false, [], {})

  it("a body no JSON writer can write at any depth (a cycle, a BigInt, a throwing toJSON) gives a record with a BodyDecodeError and no body", () => {
    const cycle: Record<string, unknown> = { a: 1 }
    cycle["self"] = cycle
    const bodies = [cycle, { n: 10n }, { toJSON: () => { throw new Error("no") } }]
    for (const body of bodies) {
      let tag: string | undefined
      const text = responseRecord(7, 3, { ...base, body } as never, redaction, (t) => (tag = t))
      const record = JSON.parse(text)
      expect(record).toMatchObject({ index: 7, line: 3, requestMap: request, statusCode: 200, body: null, attempts: 1 })
      expect(record.error).toMatchObject({ _tag: "BodyDecodeError", method: "GET", statusCode: 200 })
      // No query string in the error it makes.
      expect(record.error.url).toBe("http://127.0.0.1:1/x")
      expect(record.error.message).toContain("with a body that is not writable as JSON (")
      expect(tag).toBe("BodyDecodeError")
      expect(Schema.decodeUnknownSync(RequestResponse.RequestResponse)(record).error?._tag).toBe("BodyDecodeError")
    }
  })

  it("keeps the response's own error when it has one; writable records are unchanged", () => {
    const cycle: Record<string, unknown> = {}
    cycle["self"] = cycle
    const error = { _tag: "TimeoutError", method: "GET", url: request.url, timeoutMs: 5, message: "timed out" }
    const record = JSON.parse(responseRecord(1, undefined, { ...base, body: cycle, error } as never, redaction))
    expect(record.error).toMatchObject({ _tag: "TimeoutError", timeoutMs: 5 })
    expect(record.body).toBeNull()
    const plainRecord = responseRecord(2, undefined, { ...base, body: { ok: true } } as never, redaction)
    expect(plainRecord).toBe(JSON.stringify({ index: 2, requestMap: request, statusCode: 200, body: { ok: true }, headers: base.headers, elapsedMs: 1.5, attempts: 1 }))
  })
})
