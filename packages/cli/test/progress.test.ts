/**
 * The CLI's progress bar draws the core's progress figures (run under a
 * pseudo-terminal, as a user sees it), and `--concurrency-per-origin` holds
 * from two servers' side.
 */
import { start, type TestServer } from "@loamy/test-server"
import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bin, jsonl, loamy, records, within } from "./helpers.js"

let one: TestServer
let two: TestServer
let dir: string
beforeAll(async () => {
  ;[one, two] = await Promise.all([start(), start()])
  dir = mkdtempSync(path.join(tmpdir(), "loamy-progress-"))
})
afterAll(async () => {
  await Promise.all([one.close(), two.close()])
  rmSync(dir, { recursive: true, force: true })
})

/** `script` gives the CLI a terminal on stderr (util-linux, in every Debian). */
const hasScript = spawnSync("script", ["--version"]).status === 0

describe("loamy send's progress bar", () => {
  it.skipIf(!hasScript)("draws done/total, failures and requests in flight from the core's figures", async () => {
    const input = path.join(dir, "bar.jsonl")
    const output = path.join(dir, "bar.out.jsonl")
    const requests = Array.from({ length: 120 }, (_, i) =>
      i % 6 === 5 ? { url: `${one.url}/exception`, httpOp: "GET" } : { url: `${one.url}/delay/40`, httpOp: "GET" })
    writeFileSync(input, jsonl(requests))
    const command = [process.execPath, bin, "send", "-c", "6", "-o", output, input]
      .map((arg) => `'${arg.replaceAll("'", "'\\''")}'`)
      .join(" ")
    const child = spawn("script", ["-qfec", command, "/dev/null"], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", COLUMNS: "120" }
    })
    let screen = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (screen += chunk))
    const code = await within(
      new Promise<number | null>((resolve) => child.on("close", resolve)),
      60_000,
      "loamy send under script",
      () => child.kill("SIGKILL")
    )
    expect(code).toBe(1)
    expect(records(readFileSync(output, "utf8"))).toHaveLength(120)
    // Each redraw is a line of its own after a carriage return.
    const frames = screen.split("\r").map((frame) => frame.replace(/\x1b\[2K/g, "").trim()).filter((frame) =>
      /\/120 /.test(frame)
    )
    const parsed = frames.map((frame) => {
      const m = /(\d+)\/120 {2}failed (\d+) {2}in flight (\d+)/.exec(frame)
      return m === null ? undefined : { done: Number(m[1]), failed: Number(m[2]), inFlight: Number(m[3]) }
    }).filter((f) => f !== undefined)
    expect(parsed.length).toBeGreaterThan(2)
    // On the way: some done, some in flight (at most the concurrency), failures counted as they come.
    expect(parsed.some((f) => f.done > 0 && f.done < 120 && f.inFlight > 0)).toBe(true)
    for (const f of parsed) {
      expect(f.inFlight).toBeLessThanOrEqual(6)
      expect(f.failed).toBeLessThanOrEqual(20)
    }
    expect(screen).toMatch(/120 requests in .* 100 ok, 20 failed/)
  }, 90_000)
})

describe("loamy send --concurrency-per-origin", () => {
  it("holds each origin under its bound while the run uses its whole concurrency", async () => {
    one.resetStats()
    two.resetStats()
    const requests = Array.from({ length: 90 }, (_, i) => ({
      url: `${i % 3 === 0 ? two.url : one.url}/delay/10`,
      httpOp: "GET"
    }))
    const ran = await loamy(["send", "-c", "8", "--concurrency-per-origin", "3", "-q"], { stdin: jsonl(requests) })
    expect(ran.code).toBe(0)
    expect(records(ran.stdout)).toHaveLength(90)
    expect(one.stats.requests + two.stats.requests).toBe(90)
    expect(one.stats.maxInFlight).toBe(3)
    expect(two.stats.maxInFlight).toBeLessThanOrEqual(3)
  }, 60_000)

  it("a bad bound is a usage error naming the flag, and nothing is sent", async () => {
    one.resetStats()
    const ran = await loamy(["send", "--concurrency-per-origin", "0", "-q"], {
      stdin: jsonl([{ url: `${one.url}/`, httpOp: "GET" }])
    })
    expect(ran.code).toBe(2)
    expect(ran.stderr).toContain("--concurrency-per-origin")
    expect(one.stats.requests).toBe(0)
  }, 60_000)
})
