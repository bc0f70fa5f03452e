/**
 * The engine's bounds through `loamy send`, run as a real process: `--ordered` goes on with other origins while
 * one is slow (the reorder buffer), `--rate` holds for any interval of its length as a server in a process of its
 * own measures starts, `--body-budget` lets reads wait for each other, and `--help` says so.
 */
import { type SlowAndFast, startSlowAndFast, waitUntil } from "@loamy/test-kit"
import { arrivalSlack, type ServerProcess, shortestSpan, startProcess } from "@loamy/test-server"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { jsonl, loamy, records } from "./helpers.js"

/** Origin A (`slow`) holds its answers until `release`; origin B (`fast`) answers at once and counts. */
let origins: SlowAndFast
let timing: ServerProcess

beforeAll(async () => {
  ;[origins, timing] = await Promise.all([startSlowAndFast(), startProcess()])
})

afterAll(async () => {
  await origins?.close()
  await timing?.close()
})

describe("loamy send and the engine's bounds", () => {
  it("--ordered: 40 requests to a fast origin are all sent while 12 to a slow one are held", async () => {
    origins.reset()
    const input = jsonl(origins.batch(12, 40))
    const run = loamy(["send", "-q", "--ordered", "--concurrency", "16"], { stdin: input, timeoutMs: 30_000 })
    const reached = await waitUntil(() => origins.arrived === 40 && origins.held === 12, 15_000)
    expect({ arrivedB: origins.arrived, heldA: origins.held }).toEqual({ arrivedB: 40, heldA: 12 })
    expect(reached).toBe(true)
    origins.release()
    const r = await run
    expect(r.code, r.stderr).toBe(0)
    const out = records(r.stdout)
    expect(out.map((o) => o.index)).toEqual([...Array(52).keys()])
    expect(out.map((o) => o.body.origin)).toEqual([...Array(52).keys()].map((i) => (i < 12 ? "A" : "B")))
  }, 40_000)

  it("--rate 5/1s: no second holds more than 5 starts at the server", async () => {
    const tag = `cli-${process.pid}-${Date.now()}`
    const input = jsonl([
      { url: `${timing.url}/delay/800?${tag}-0`, httpOp: "GET" },
      ...Array.from({ length: 9 }, (_, i) => ({ url: `${timing.url}/?${tag}-${i + 1}`, httpOp: "GET" }))
    ])
    const r = await loamy(["send", "-q", "--concurrency", "1", "--rate", "5/1s"], { stdin: input, timeoutMs: 30_000 })
    expect(r.code, r.stderr).toBe(0)
    const stats = await timing.stats()
    const times = stats.arrivals.filter((_, i) => stats.arrivalPaths[i]!.includes(tag)).sort((a, b) => a - b)
    expect(times).toHaveLength(10)
    expect(shortestSpan(times, 5), times.map(Math.round).join(", ")).toBeGreaterThanOrEqual(1000 - arrivalSlack(1000))
  }, 40_000)

  it("--body-budget: bodies that together pass it all come back whole", async () => {
    const input = jsonl(Array.from({ length: 10 }, (_, i) => ({ url: `${origins.slow.url}/?n=200000&i=${i}`, httpOp: "GET" })))
    const r = await loamy(["send", "-q", "--body-budget", "300000"], { stdin: input, timeoutMs: 30_000 })
    expect(r.code, r.stderr).toBe(0)
    expect(records(r.stdout).map((o) => o.body.length)).toEqual(Array(10).fill(199_998))
  }, 40_000)

  it("send --help describes the reorder buffer, the body budget and the sliding rate limit", async () => {
    const r = await loamy(["send", "--help"])
    expect(r.code).toBe(0)
    const text = r.stdout.replace(/\s+/g, " ")
    expect(text).toContain("--reorder-buffer N")
    expect(text).toContain("--body-budget BYTES")
    expect(text).toContain("reorder buffer")
    // The wording is the core's option description (`Options.descriptors.rateLimit`), which --rate's help shows.
    expect(text).toMatch(/in any span of (interval|INTERVAL) \(sliding/)
  })
})
