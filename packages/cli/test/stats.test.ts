/**
 * `loamy stats FILE...`, run as a user runs it (the built CLI in a child
 * process): on the files of a real sharded `loamy send` run against the test
 * server (two origins, statuses, errors, a line that is not a request), on
 * hand-written records whose percentiles are worked out below, on lines
 * that are not records (reported by file and line, never shown), and on a
 * 1,000,000-line file read with a heap far smaller than the file.
 */
import { start, type TestServer } from "@loamy/test-server"
import { spawn } from "node:child_process"
import { once } from "node:events"
import { createWriteStream, rmSync, statSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bin, jsonl, loamy, scratchDir } from "./helpers.js"

let server: TestServer
beforeAll(async () => {
  server = await start()
})
afterAll(async () => {
  await server.close()
})

const scratch = scratchDir("loamy-stats-")
const { file } = scratch

describe("loamy stats --help", () => {
  it("is listed by loamy --help, with an example; documents --json, the exit codes and its examples", async () => {
    const [root, stats] = await Promise.all([loamy(["--help"]), loamy(["stats", "--help"])])
    expect(root.code).toBe(0)
    expect(root.stdout).toMatch(/^ {2}stats +Print the summary of a run/m)
    expect(root.stdout).toContain("loamy stats out-0.jsonl out-1.jsonl")
    expect(stats.code).toBe(0)
    expect(stats.stdout).toContain("loamy stats [flags] <FILE...>")
    expect(stats.stdout).toMatch(/^ {2}--json +Print one JSON object/m)
    expect(stats.stdout).toContain("Exit codes: 0 every line was a record")
    expect(stats.stdout).toContain("loamy stats out-0.jsonl out-1.jsonl --json")
  }, 60_000)
})

describe("loamy stats on the files of a real run", () => {
  it("sums two shards into one summary: by status, by error tag, latency, per origin (origin only)", async () => {
    const input = file("in.jsonl", jsonl([
      { url: `${server.url}/echo?token=s3cret-q`, httpOp: "GET" },
      { url: `${server.url}/status/404`, httpOp: "GET" },
      { url: `${server.url}/exception`, httpOp: "GET" },
      { url: `${server.url}/destroy`, httpOp: "GET" },
      { url: `${server.otherUrl}/echo`, httpOp: "GET" },
      { url: "not a url", httpOp: "GET", headers: { Authorization: "s3cret-h" } },
      { url: `${server.otherUrl}/status/503`, httpOp: "GET" }
    ]))
    const a = scratch.at("out-0.jsonl")
    const b = scratch.at("out-1.jsonl")
    for (const [shard, out] of [["0/2", a], ["1/2", b]] as const) {
      const ran = await loamy(["send", "-q", "--shard", shard, "-o", out, input])
      expect(ran.code, ran.stderr).toBe(1)
    }
    const ran = await loamy(["stats", "--json", a, b])
    expect(ran.stderr).toBe("")
    expect(ran.code).toBe(0)
    const summary = JSON.parse(ran.stdout)
    expect(summary).toMatchObject({
      files: 2,
      records: 7,
      superseded: 0,
      badLines: 0,
      requests: 7,
      ok: 4,
      failed: 3,
      statuses: { "0": 2, "200": 2, "404": 1, "500": 1, "503": 1 },
      errors: { BodyDecodeError: 1, InvalidInputError: 1, TransportError: 1 }
    })
    // Six were sent; the line that was not a request was not.
    expect(summary.latencyMs.count).toBe(6)
    expect(summary.latencyMs.max).toBeGreaterThanOrEqual(summary.latencyMs.p50)
    expect(Object.keys(summary.origins).sort()).toEqual([server.url, server.otherUrl, "(no valid url)"].sort())
    expect(summary.origins[server.url]).toMatchObject({
      requests: 4,
      ok: 2,
      failed: 2,
      statuses: { "0": 1, "200": 1, "404": 1, "500": 1 }
    })
    expect(summary.origins[server.otherUrl]).toMatchObject({ requests: 2, ok: 2, statuses: { "200": 1, "503": 1 } })
    expect(ran.stdout).not.toContain("s3cret")

    // A file given twice (as a resumed run's records repeat indexes): each index counts once, the later record wins.
    const again = JSON.parse((await loamy(["stats", "--json", a, b, a])).stdout)
    expect(again).toMatchObject({ files: 3, records: 7 + (summary.records - 3), requests: 7, failed: 3 })
    expect(again.superseded).toBe(again.records - 7)

    const table = await loamy(["stats", a, b])
    expect(table.code).toBe(0)
    expect(table.stdout).toContain("2 files, 7 records\n")
    expect(table.stdout).toContain("requests  7  ok 4  failed 3\n")
    expect(table.stdout).toContain("statuses  0 (no response): 2  200: 2  404: 1  500: 1  503: 1\n")
    expect(table.stdout).toMatch(/^origin +requests +ok +failed +p50 ms +p90 ms +p99 ms +max ms$/m)
    expect(table.stdout).toMatch(new RegExp(`^${server.url.replaceAll(".", "\\.")} +4 +2 +2 `, "m"))
    expect(table.stdout).not.toContain("s3cret")
  }, 120_000)
})

/** A record as `loamy send` writes one (the fields stats reads, and a body it ignores). */
const record = (
  index: number,
  origin: string,
  elapsedMs: number,
  extra: { statusCode?: number; error?: string; attempts?: number } = {}
) =>
  JSON.stringify({
    index,
    line: index + 1,
    requestMap: { url: `${origin}/path?key=s3cret-${index}`, httpOp: "GET" },
    statusCode: extra.statusCode ?? 200,
    body: { ok: true },
    headers: {},
    ...(extra.error === undefined ? {} : { error: { _tag: extra.error, message: "..." } }),
    elapsedMs,
    attempts: extra.attempts ?? 1
  })

describe("loamy stats on hand-written records", () => {
  const A = "http://a.test:8080"
  const B = "https://b.test"

  it("computes nearest-rank percentiles, lets a later record of an index replace the earlier one, reports bad lines by file and line", async () => {
    // First file: indexes 0..5 at A (elapsed 1..6, index 3 a 1000 ms timeout that the second file replaces), then
    // four lines that are not records and a blank line.
    const one = file("one.jsonl", [
      record(0, A, 1),
      record(1, A, 2),
      record(2, A, 3),
      record(3, A, 1000, { statusCode: 0, error: "TimeoutError" }),
      record(4, A, 5),
      record(5, A, 6),
      "garbage secret-token-xyz",
      "",
      JSON.stringify({ index: -1, statusCode: 200, elapsedMs: 1, attempts: 1, token: "secret-token-xyz" }),
      "[1,2]",
      "{\"index\":9,\"statusCode\":200,\"elapsedMs\":1,\"attempts\":1,\"error\":{\"message\":\"secret-token-xyz\"}}"
    ].join("\n") + "\n")
    // Second file: index 3 again (4 ms, fine), 6..9 at A (7..10), 10 at B (100 ms, a 503), 11 not sent.
    const two = file("two.jsonl", [
      record(3, A, 4),
      record(6, A, 7),
      record(7, A, 8),
      record(8, A, 9),
      record(9, A, 10),
      record(10, B, 100, { statusCode: 503 }),
      JSON.stringify({
        index: 11,
        line: 12,
        requestMap: { url: "<redacted>" },
        statusCode: 0,
        body: null,
        headers: {},
        error: { _tag: "InvalidInputError", message: "..." },
        elapsedMs: 0,
        attempts: 0
      })
    ].join("\r\n"))
    const ran = await loamy(["stats", "--json", one, two])
    expect(ran.code).toBe(1)
    expect(ran.stderr.split("\n").filter((line) => line !== "")).toEqual([
      `loamy stats: ${one}:7: not a record: not JSON`,
      `loamy stats: ${one}:9: not a record: no index (a whole number >= 0)`,
      `loamy stats: ${one}:10: not a record: not a JSON object`,
      `loamy stats: ${one}:11: not a record: an error without a _tag name`
    ])
    expect(ran.stderr + ran.stdout).not.toContain("secret-token-xyz")
    expect(ran.stdout).not.toContain("s3cret")
    const summary = JSON.parse(ran.stdout)
    expect(summary).toEqual({
      files: 2,
      records: 13,
      superseded: 1,
      badLines: 4,
      requests: 12,
      ok: 11,
      failed: 1,
      statuses: { "0": 1, "200": 10, "503": 1 },
      errors: { InvalidInputError: 1 },
      // Sent: 1..10 and 100 (n = 11). Nearest rank k = ceil(p/100 * 11): p50 -> 6th (6), p90 -> 10th (10),
      // p95 -> 11th (100), p99 -> 11th (100); mean 155/11 = 14.09.
      latencyMs: { count: 11, min: 1, mean: 14.09, p50: 6, p90: 10, p95: 100, p99: 100, max: 100 },
      origins: {
        // n = 10: p50 -> 5th (5), p90 -> 9th (9), p95 and p99 -> 10th (10).
        [A]: {
          requests: 10,
          ok: 10,
          failed: 0,
          statuses: { "200": 10 },
          errors: {},
          latencyMs: { count: 10, min: 1, mean: 5.5, p50: 5, p90: 9, p95: 10, p99: 10, max: 10 }
        },
        [B]: {
          requests: 1,
          ok: 1,
          failed: 0,
          statuses: { "503": 1 },
          errors: {},
          latencyMs: { count: 1, min: 100, mean: 100, p50: 100, p90: 100, p95: 100, p99: 100, max: 100 }
        },
        "(no valid url)": {
          requests: 1,
          ok: 0,
          failed: 1,
          statuses: { "0": 1 },
          errors: { InvalidInputError: 1 },
          latencyMs: null
        }
      }
    })

    const table = await loamy(["stats", one, two])
    expect(table.stdout).toContain(
      "2 files, 13 records (1 replaced by a later record of the same index; 4 lines not a record, skipped)\n"
    )
    expect(table.stdout).toContain(
      "latency   p50 6  p90 10  p95 100  p99 100  max 100  (ms; min 1, mean 14.09, over 11 sent requests)\n"
    )
    expect(table.stdout).toContain("errors    InvalidInputError: 1\n")
    expect(table.stdout).toMatch(/^http:\/\/a\.test:8080 +10 +10 +0 +5 +9 +10 +10$/m)
    expect(table.stdout).toMatch(/^\(no valid url\) +1 +0 +1 +- +- +- +-$/m)
  }, 60_000)

  it("reads stdin for -, and refuses a file it cannot read (exit 2, nothing printed)", async () => {
    const piped = await loamy(["stats", "--json", "-"], { stdin: record(0, A, 3) + "\n" })
    expect(piped.code).toBe(0)
    expect(JSON.parse(piped.stdout)).toMatchObject({ requests: 1, latencyMs: { p50: 3 } })

    const missing = scratch.at("missing.jsonl")
    const ran = await loamy(["stats", file("ok.jsonl", record(0, A, 1)), missing])
    expect(ran.code).toBe(2)
    expect(ran.stdout).toBe("")
    expect(ran.stderr).toBe(`loamy stats: cannot read ${missing}: ENOENT\n`)
    expect((await loamy(["stats", scratch.dir])).stderr).toBe(`loamy stats: cannot read ${scratch.dir}: EISDIR\n`)
  }, 60_000)

  it("reports the first 20 bad lines and counts the rest", async () => {
    const bad = file("bad.jsonl", Array.from({ length: 25 }, () => "nope").join("\n"))
    const ran = await loamy(["stats", bad])
    expect(ran.code).toBe(1)
    const lines = ran.stderr.trimEnd().split("\n")
    expect(lines).toHaveLength(21)
    expect(lines[19]).toBe(`loamy stats: ${bad}:20: not a record: not JSON`)
    expect(lines[20]).toBe("loamy stats: 5 more lines that are not records")
  }, 60_000)
})

describe("loamy stats on a large file", () => {
  it("reads 1,000,000 records line by line, with a heap far smaller than the file", async () => {
    const path = scratch.at("large.jsonl")
    const out = createWriteStream(path)
    const body = "x".repeat(120)
    const origins = ["http://127.0.0.1:8001", "http://127.0.0.1:8002"]
    let chunk = ""
    for (let i = 0; i < 1_000_000; i++) {
      chunk += `{"index":${i},"line":${i + 1},"requestMap":{"url":"${origins[i % 2]}/item/${i}","httpOp":"GET"},` +
        `"statusCode":${i % 100 === 0 ? 500 : 200},"body":{"text":"${body}"},"headers":{},"elapsedMs":${(i % 1000) + 1},"attempts":1}\n`
      if (chunk.length > 1 << 20) {
        if (!out.write(chunk)) await once(out, "drain")
        chunk = ""
      }
    }
    out.end(chunk)
    await once(out, "finish")
    const size = statSync(path).size
    expect(size).toBeGreaterThan(250_000_000)
    // A 64 MB old space: a reader that held the file (or its lines) would run out of memory long before the end
    // (the young generation as usual, or the many short-lived lines make it slow).
    const child = spawn(process.execPath, ["--max-old-space-size=64", "--max-semi-space-size=16", bin, "stats", "--json", path], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (text: string) => (stdout += text))
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text))
    const [code] = await once(child, "close")
    rmSync(path)
    expect(stderr).toBe("")
    expect(code).toBe(0)
    const summary = JSON.parse(stdout)
    expect(summary).toMatchObject({ records: 1_000_000, requests: 1_000_000, statuses: { "200": 990_000, "500": 10_000 } })
    // elapsedMs cycles 1..1000: nearest-rank percentiles are exact.
    expect(summary.latencyMs).toMatchObject({ count: 1_000_000, min: 1, p50: 500, p90: 900, p99: 990, max: 1000 })
    expect(summary.origins["http://127.0.0.1:8001"].requests).toBe(500_000)
  }, 300_000)
})
