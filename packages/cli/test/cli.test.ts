/**
 * The `loamy` command, run as a real process against a loopback test
 * server started here.
 */
import { LoamyError, RequestResponse } from "@loamy/core"
import { start, type TestServer } from "@loamy/test-server"
import * as Schema from "effect/Schema"
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

const scratch = scratchDir("loamy-cli-test-")
const { file } = scratch

const version = JSON.parse(fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")).version as string

describe("help and version", () => {
  it("--version prints the package version", async () => {
    const r = await loamy(["--version"])
    expect(r.code).toBe(0)
    expect(r.stdout.trim()).toBe(version)
  })

  it("--help lists both commands; send --help documents every flag and the exit codes", async () => {
    const [root, send, demo] = await Promise.all([loamy(["--help"]), loamy(["send", "--help"]), loamy(["demo", "--help"])])
    expect(root.code).toBe(0)
    expect(root.stdout).toContain("send")
    expect(root.stdout).toContain("demo")
    expect(send.code).toBe(0)
    for (
      const flag of [
        "--output",
        "--ordered",
        "--concurrency",
        "--timeout",
        "--deadline",
        "--retry",
        "--rate",
        "--rate-per-origin",
        "--header",
        "--fail-fast",
        "--max-body-bytes",
        "--max-redirects",
        "--redact",
        "--show-secrets",
        "--quiet"
      ]
    ) expect(send.stdout).toContain(flag)
    expect(send.stdout).toContain("Exit codes")
    expect(demo.code).toBe(0)
    expect(demo.stdout).toContain("test server")
  })

  it("exits 2 on usage errors: no command, an unknown flag, a bad duration, a bad rate, a bad header", async () => {
    const cases = [
      [],
      ["send", "--no-such-flag", "x.json"],
      ["send", "--timeout", "5 fortnights", "-"],
      ["send", "--rate", "ten per second", "-"],
      ["send", "--header", "no colon here", "-"],
      ["send", "--concurrency", "0", "-"]
    ]
    // In parallel: each case is a process start, and they are independent.
    const results = await Promise.all(cases.map((args) => loamy(args)))
    results.forEach((r, i) => {
      expect(r.code, `loamy ${cases[i]!.join(" ")}: ${r.stderr}`).toBe(2)
      expect(r.stdout).toBe("")
    })
    expect(results[2]!.stderr).toContain("--timeout")
    expect(results[5]!.stderr).toContain("--concurrency")
  })
})

describe("send", () => {
  it("sends a JSON array file and writes one record per request, exit 0", async () => {
    const input = file(
      "array.json",
      JSON.stringify([
        { url: `${server.url}/`, httpOp: "GET" },
        { url: `${server.url}/foo`, httpOp: "POST", body: { hello: "loamy" } },
        { url: `${server.url}/status/404`, httpOp: "GET" }
      ])
    )
    const r = await loamy(["send", input])
    expect(r.code).toBe(0)
    const out = records(r.stdout)
    expect(out.map((o) => o.index).sort()).toEqual([0, 1, 2])
    const byIndex = Object.fromEntries(out.map((o) => [o.index, o]))
    expect(byIndex[0]).toMatchObject({ statusCode: 200, body: { message: "Hello, world!" }, attempts: 1 })
    expect(byIndex[0]).not.toHaveProperty("error")
    expect(byIndex[0]!.line).toBeUndefined()
    expect(byIndex[1]).toMatchObject({ statusCode: 200, body: { foo: "bar" }, headers: { "x-test": "Test" } })
    expect(byIndex[1]!.requestMap).toEqual({ url: `${server.url}/foo`, httpOp: "POST", body: { hello: "loamy" } })
    // A non-2xx status is a response, not a failure.
    expect(byIndex[2]).toMatchObject({ statusCode: 404 })
    expect(byIndex[2]).not.toHaveProperty("error")
    expect(typeof byIndex[2]!.elapsedMs).toBe("number")
    // Not a terminal: no progress bar, but the summary.
    expect(r.stderr).toContain("3 requests")
    expect(r.stderr).toMatch(/2xx 2\s+4xx 1/)
    expect(r.stderr).toMatch(/p50 .* p95 .* p99/)
    expect(r.stderr).not.toContain("\r")
  })

  it("reads JSONL with snake_case fields from stdin", async () => {
    const r = await loamy(["send", "-q"], {
      stdin: jsonl([
        { url: `${server.url}/echo`, http_op: "put", query_params: { page: "2" }, body: [1, 2] },
        { url: `${server.url}/`, http_op: "GET" }
      ])
    })
    expect(r.code).toBe(0)
    expect(r.stderr).toBe("")
    const out = records(r.stdout).sort((a, b) => a.index - b.index)
    expect(out).toHaveLength(2)
    expect(out[0]).toMatchObject({
      index: 0,
      line: 1,
      requestMap: { httpOp: "PUT", queryParams: { page: "2" } },
      body: { method: "PUT", query: { page: "2" }, body: [1, 2] }
    })
    expect(out[1]).toMatchObject({ index: 1, line: 2, statusCode: 200 })
  })

  it("exits 1 when a request fails, with the error's tag, message and fields", async () => {
    const r = await loamy(["send", "-q", "-"], {
      stdin: jsonl([{ url: `${server.url}/`, httpOp: "GET" }, { url: `${server.url}/exception`, httpOp: "GET" }])
    })
    expect(r.code).toBe(1)
    const failed = records(r.stdout).find((o) => o.index === 1)!
    expect(failed.statusCode).toBe(500)
    expect(failed.body.text).toContain("500 Internal Server Error")
    expect(failed.error).toMatchObject({ _tag: "BodyDecodeError", method: "GET", statusCode: 500 })
    expect(failed.error.message).toContain(`GET ${server.url}/exception`)
  })

  it("refuses a JSON array with a bad request before sending anything: exit 2, index and field named", async () => {
    server.resetStats()
    const input = file(
      "bad-array.json",
      JSON.stringify([
        { url: `${server.url}/`, httpOp: "GET" },
        { url: `${server.url}/`, httpOp: "GET" },
        { url: "ftp://example.com/", httpOp: "GET" }
      ])
    )
    const r = await loamy(["send", input])
    expect(r.code).toBe(2)
    expect(r.stdout).toBe("")
    expect(r.stderr).toContain("index 2")
    expect(r.stderr).toContain("field url")
    expect(server.stats.requests).toBe(0)

    const notJson = await loamy(["send", file("broken.json", "[{\"url\": ")])
    expect(notJson.code).toBe(2)
    expect(notJson.stderr).toContain("not a valid JSON array")

    const missing = await loamy(["send", scratch.at("missing.jsonl")])
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain("cannot read")
  })

  it("reports bad JSONL lines as their own records (line, field) without losing the others: exit 1", async () => {
    const text = [
      JSON.stringify({ url: `${server.url}/`, httpOp: "GET" }),
      "",
      "{ not json",
      JSON.stringify({ url: `${server.url}/`, httpOp: "FETCH" }),
      JSON.stringify({ url: `${server.url}/status/201`, httpOp: "GET" })
    ].join("\n")
    const r = await loamy(["send", "-q", "--ordered", file("bad-lines.jsonl", text)])
    expect(r.code).toBe(1)
    const out = records(r.stdout)
    expect(out.map((o) => [o.index, o.line])).toEqual([[0, 1], [1, 3], [2, 4], [3, 5]])
    expect(out[0]).toMatchObject({ statusCode: 200 })
    expect(out[0]).not.toHaveProperty("error")
    expect(out[1]).toMatchObject({ line: 3, error: { _tag: "InvalidInputError", index: 1, field: "" } })
    expect(out[1]!.error.message).toContain("line 3")
    expect(out[2]).toMatchObject({ line: 4, error: { _tag: "InvalidInputError", index: 2, field: "httpOp" } })
    expect(out[2]).toMatchObject({ statusCode: 0, attempts: 0 })
    expect(out[3]).toMatchObject({ statusCode: 201 })
    expect(out[3]).not.toHaveProperty("error")
  })

  it("--ordered writes input order; by default a fast response is written before a slow one", async () => {
    const input = jsonl([
      { url: `${server.url}/delay/400`, httpOp: "GET" },
      { url: `${server.url}/`, httpOp: "GET" },
      { url: `${server.url}/delay/100`, httpOp: "GET" },
      { url: `${server.url}/`, httpOp: "GET" }
    ])
    const unordered = await loamy(["send", "-q"], { stdin: input })
    expect(unordered.code).toBe(0)
    const indexes = records(unordered.stdout).map((o) => o.index)
    expect(indexes.sort()).toEqual([0, 1, 2, 3])
    expect(records(unordered.stdout).at(-1)!.index).toBe(0)

    const ordered = await loamy(["send", "-q", "--ordered"], { stdin: input })
    expect(ordered.code).toBe(0)
    expect(records(ordered.stdout).map((o) => o.index)).toEqual([0, 1, 2, 3])
  })

  it("--ordered holds at most --concurrency requests in flight and results waiting", async () => {
    server.resetStats()
    const input = jsonl(
      Array.from({ length: 12 }, (_, i) => ({ url: `${server.url}/delay/${i % 3 === 0 ? 150 : 10}`, httpOp: "GET" }))
    )
    const r = await loamy(["send", "-q", "--ordered", "--concurrency", "3"], { stdin: input })
    expect(r.code).toBe(0)
    expect(records(r.stdout).map((o) => o.index)).toEqual([...Array(12).keys()])
    expect(server.stats.requests).toBe(12)
    expect(server.stats.maxInFlight).toBeLessThanOrEqual(3)
  })

  it("writes RequestResponse's own JSON form: every line decodes back into the same classes", async () => {
    const input = jsonl([
      { url: `${server.url}/`, httpOp: "GET" },
      { url: `${server.url}/exception`, httpOp: "GET" },
      { url: `${server.url}/binary?type=image/png`, httpOp: "GET" },
      { url: "ftp://x/", httpOp: "GET" },
      { url: `${server.url}/cookies`, httpOp: "GET" }
    ])
    const r = await loamy(["send", "-q", "--ordered", "--show-secrets"], { stdin: input })
    expect(r.code).toBe(1)
    // A response or, for a line the core refused, a RequestResponse.Refused (its requestMap is the line as read).
    const decode = Schema.decodeUnknownSync(RequestResponse.Any)
    const out = records(r.stdout)
    expect(out.map((o) => [o.index, o.line])).toEqual([[0, 1], [1, 2], [2, 3], [3, 4], [4, 5]])
    const decoded = out.map((o) => decode(o))
    expect(decoded[0]!.body).toEqual({ message: "Hello, world!" })
    expect(decoded[1]!.error).toBeInstanceOf(LoamyError.BodyDecodeError)
    expect(decoded[1]!.error!.message).toBe(out[1]!.error.message)
    expect(decoded[2]!.body).toEqual(Uint8Array.from({ length: 256 }, (_, i) => i))
    expect(decoded[3]!.error).toBeInstanceOf(LoamyError.InvalidInputError)
    expect(decoded[3]!.error).toMatchObject({ index: 3, field: "url" })
    expect(decoded[3]!.requestMap).toEqual({ url: "ftp://x/", httpOp: "GET" })
    expect(decoded[4]!.headers["set-cookie"]).toHaveLength(2)
  })

  it("speaks HTTP as servers do: compressed and latin-1 bodies, the original's null fields, no CR/LF in URLs, no query in messages", async () => {
    const text = [
      JSON.stringify({ url: `${server.url}/gzip`, httpOp: "GET" }),
      JSON.stringify({ url: `${server.url}/latin1`, http_op: "get", body: null, query_params: null, headers: null }),
      JSON.stringify({ url: `${server.url}/echo\r\nX-Injected: 1`, httpOp: "GET" }),
      JSON.stringify({ url: `${server.url}/destroy?token=s3cret`, httpOp: "GET" })
    ].join("\n")
    server.resetStats()
    const r = await loamy(["send", "-q", "--ordered", "--show-secrets"], { stdin: text })
    expect(r.code).toBe(1)
    const out = records(r.stdout)
    expect(out[0]).toMatchObject({ statusCode: 200, body: { compressed: "gzip", message: "Hello, world!" } })
    expect(out[1]).toMatchObject({ statusCode: 200, body: { word: "café" } })
    expect(out[1]).not.toHaveProperty("error")
    expect(out[2]).toMatchObject({ statusCode: 0, attempts: 0, error: { _tag: "InvalidInputError", field: "url" } })
    expect(out[3]!.error.message).toContain("/destroy")
    expect(out[3]!.error.message).not.toContain("s3cret")
    expect(server.stats.byPath["/echo"] ?? 0).toBe(0)
  })

  it("redacts Authorization, Cookie and --redact headers in requests, responses, bodies and errors", async () => {
    const input = jsonl([
      { url: `${server.url}/echo`, httpOp: "GET", headers: { Authorization: "Bearer tok-123456", "X-Api-Key": "key-987654" } },
      { url: `${server.url}/stall?ms=10000`, httpOp: "GET", headers: { Authorization: "Bearer tok-123456" } }
    ])
    const args = ["send", "-q", "--timeout", "1500ms", "-H", "Cookie: session=cookie-555555", "--redact", "x-api-key"]
    const r = await loamy(args, { stdin: input })
    expect(r.code).toBe(1)
    for (const secret of ["tok-123456", "key-987654", "cookie-555555"]) expect(r.stdout).not.toContain(secret)
    const echo = records(r.stdout).find((o) => o.index === 0)!
    expect(echo.requestMap.headers).toEqual({ Authorization: "<redacted>", "X-Api-Key": "<redacted>" })
    // The echo server puts the sent headers in its body.
    expect(echo.body.headers.authorization).toBe("<redacted>")
    expect(echo.body.headers.cookie).toBe("<redacted>")
    expect(echo.body.headers["x-api-key"]).toBe("<redacted>")
    const stalled = records(r.stdout).find((o) => o.index === 1)!
    expect(stalled.error._tag).toBe("TimeoutError")

    const shown = await loamy([...args, "--show-secrets"], { stdin: input })
    expect(shown.stdout).toContain("tok-123456")
    expect(shown.stdout).toContain("cookie-555555")
  })

  it("maps the flags onto the core's options: timeout, retry, max body bytes, max redirects, deadline", async () => {
    const input = jsonl([
      { url: `${server.url}/stall?ms=3000`, httpOp: "GET" },
      { url: `${server.url}/flaky?key=cli-retry&fails=1&status=503`, httpOp: "GET" },
      { url: `${server.url}/big?bytes=20000`, httpOp: "GET" },
      { url: `${server.url}/redirect-chain/2`, httpOp: "GET" }
    ])
    const r = await loamy(
      ["send", "-q", "--ordered", "--timeout", "300", "--retry", "2", "--max-body-bytes", "1000", "--max-redirects", "0"],
      { stdin: input }
    )
    expect(r.code).toBe(1)
    const out = records(r.stdout)
    expect(out[0]!.error._tag).toBe("TimeoutError")
    expect(out[0]!.error.timeoutMs).toBe(300)
    expect(out[1]).toMatchObject({ statusCode: 200, attempts: 2 })
    expect(out[1]).not.toHaveProperty("error")
    expect(out[2]!.error).toMatchObject({ _tag: "BodyTooLargeError", maxBodyBytes: 1000 })
    expect([301, 302, 303, 307, 308]).toContain(out[3]!.statusCode)

    const deadline = await loamy(["send", "-q", "--deadline", "0.3s"], {
      stdin: jsonl([{ url: `${server.url}/stall?ms=3000`, httpOp: "GET" }])
    })
    expect(deadline.code).toBe(1)
    expect(records(deadline.stdout)[0]!.error._tag).toBe("DeadlineError")
    // Cut off at the deadline, not when the stalled response would have come.
    expect(records(deadline.stdout)[0]!.elapsedMs).toBeLessThan(2000)
  })

  it("--rate paces the requests", async () => {
    const input = jsonl(Array.from({ length: 4 }, () => ({ url: `${server.url}/`, httpOp: "GET" })))
    const paced = await loamy(["send", "-q", "--rate", "2/400ms"], { stdin: input })
    expect(paced.code).toBe(0)
    const elapsed = records(paced.stdout).map((o) => o.elapsedMs as number).sort((a, b) => a - b)
    expect(elapsed).toHaveLength(4)
    // Two per 400 ms window: the last two wait for the second window (elapsed time includes the wait).
    expect(elapsed[3]).toBeGreaterThan(300)
  })

  it("--fail-fast stops at the first failure and exits 1", async () => {
    const input = jsonl([
      { url: `${server.url}/exception`, httpOp: "GET" },
      ...Array.from({ length: 20 }, () => ({ url: `${server.url}/delay/200`, httpOp: "GET" }))
    ])
    const r = await loamy(["send", "--fail-fast", "--concurrency", "2"], { stdin: input })
    expect(r.code).toBe(1)
    const out = records(r.stdout)
    expect(out.length).toBeLessThan(21)
    expect(out.some((o) => o.error?._tag === "BodyDecodeError")).toBe(true)
    expect(r.stderr).toContain("--fail-fast")
  })

  it("--output writes the records to a file and nothing to stdout", async () => {
    const target = scratch.at("out.jsonl")
    const r = await loamy(["send", "-q", "--output", target], {
      stdin: jsonl([{ url: `${server.url}/`, httpOp: "GET" }])
    })
    expect(r.code).toBe(0)
    expect(r.stdout).toBe("")
    expect(records(fs.readFileSync(target, "utf8"))).toHaveLength(1)
    const unwritable = await loamy(["send", "--output", scratch.at("no/such/scratch.dir/out.jsonl"), "-"], { stdin: "" })
    expect(unwritable.code).toBe(2)
  })

  it("an empty input sends nothing and exits 0", async () => {
    const r = await loamy(["send", "-"], { stdin: "\n\n" })
    expect(r.code).toBe(0)
    expect(r.stdout).toBe("")
    expect(r.stderr).toContain("0 requests")
  })
})

describe("demo", () => {
  it("runs the mixed clump against the embedded server: a table on stdout, the summary on stderr, exit 0", async () => {
    const r = await loamy(["demo"], { timeoutMs: 60_000 })
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/STATUS\s+#\s+METHOD\s+TIME\s+PATH\s+BODY OR ERROR/)
    expect(r.stdout).toContain("/exception")
    expect(r.stdout).toContain("BodyDecodeError")
    expect(r.stdout).toContain("TransportError")
    expect(r.stdout).toContain("TimeoutError")
    expect(r.stdout).toContain("<redacted>")
    expect(r.stdout).not.toContain("demo-secret-token")
    expect(r.stderr).toMatch(/requests in .* req\/s/)
    expect(r.stderr).toMatch(/errors\s+.*TransportError/)
  })
})
