/**
 * Progress reports and per-origin bounds at the plain doors: `onProgress` at
 * the Promise door, a clear refusal at the synchronous one, and
 * `concurrencyPerOrigin` checked from two servers' side at both.
 */
import { isInvalidOptionsError, type Progress, sendRequests, sendRequestsSync } from "loamy"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { testing } from "../dist/internal/sync.js"
import { type RemoteServer, startRemote } from "./helpers.js"

let one: RemoteServer
let two: RemoteServer
beforeAll(async () => {
  ;[one, two] = await Promise.all([startRemote(), startRemote()])
})
afterAll(async () => {
  await testing.stop()
  await Promise.all([one.close(), two.close()])
})

const mixed = (n: number) =>
  Array.from({ length: n }, (_, i) =>
    i % 5 === 4
      ? { url: `${one.url}/exception`, httpOp: "GET" as const }
      : { url: `${i % 2 === 0 ? one.url : two.url}/delay/${i % 7}`, httpOp: "GET" as const })

describe("onProgress (Promise door)", () => {
  it("is called at the start, on the way and at the end, with figures that add up", async () => {
    const seen: Array<Progress> = []
    const responses = await sendRequests(mixed(200), {
      concurrency: 10,
      progressInterval: 20,
      onProgress: (p) => seen.push(p)
    })
    const failed = responses.filter((r) => r.error !== undefined).length
    expect(failed).toBe(40)
    expect(seen.at(-1)).toMatchObject({ total: 200, done: 200, ok: 160, failed: 40, inFlight: 0 })
    expect(seen[0]!.done).toBeLessThan(200)
    expect(seen.some((p) => p.done > 0 && p.done < 200)).toBe(true)
    for (const [i, p] of seen.entries()) {
      expect(p.ok + p.failed).toBe(p.done)
      expect(p.inFlight).toBeLessThanOrEqual(10)
      if (i > 0) expect(p.done).toBeGreaterThanOrEqual(seen[i - 1]!.done)
    }
  })

  it("a callback that throws is warned about once and the batch still completes", async () => {
    const warnings: Array<Error> = []
    const onWarning = (warning: Error) => warnings.push(warning)
    process.on("warning", onWarning)
    let calls = 0
    try {
      const responses = await sendRequests(mixed(50), {
        concurrency: 4,
        progressInterval: 5,
        onProgress: () => {
          calls++
          throw new Error("bar broke")
        }
      })
      expect(responses).toHaveLength(50)
      // Warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve))
    } finally {
      process.off("warning", onWarning)
    }
    expect(calls).toBe(1)
    expect(warnings.filter((w) => w.message.includes("onProgress threw"))).toHaveLength(1)
    expect(warnings[0]!.message).toContain("bar broke")
  })

  it("refuses a bad callback or interval before sending anything", async () => {
    const before = (await one.stats()).requests
    for (const [options, option] of [
      [{ onProgress: 5 }, "onProgress"],
      [{ progressInterval: 0 }, "progressInterval"],
      [{ onProgress: () => {}, concurrencyPerOrigin: 0 }, "concurrencyPerOrigin"]
    ] as const) {
      const error = await sendRequests(mixed(3), options as never).catch((e: unknown) => e)
      expect(isInvalidOptionsError(error)).toBe(true)
      expect(error).toMatchObject({ option })
    }
    expect((await one.stats()).requests).toBe(before)
  })

  it("the synchronous door says why it cannot report progress", () => {
    let error: unknown
    try {
      sendRequestsSync(mixed(3), { onProgress: () => {} } as never)
    } catch (e) {
      error = e
    }
    expect(isInvalidOptionsError(error)).toBe(true)
    expect(error).toMatchObject({ option: "onProgress" })
    expect((error as Error).message).toMatch(/blocks .*cannot report progress; use sendRequests/)
  })
})

describe("concurrencyPerOrigin at the plain doors", () => {
  const batch = () =>
    Array.from({ length: 60 }, (_, i) => ({
      url: `${i % 3 === 0 ? two.url : one.url}/delay/${5 + (i % 4)}`,
      httpOp: "GET" as const
    }))

  it("the Promise door keeps each origin under its bound", async () => {
    await Promise.all([one.reset(), two.reset()])
    const responses = await sendRequests(batch(), { concurrency: 8, concurrencyPerOrigin: 3 })
    expect(responses.every((r) => r.statusCode === 200)).toBe(true)
    const [a, b] = await Promise.all([one.stats(), two.stats()])
    expect(a.requests + b.requests).toBe(60)
    expect(a.maxInFlight).toBeLessThanOrEqual(3)
    expect(b.maxInFlight).toBeLessThanOrEqual(3)
    // Both origins were kept busy at their bound at some point: the bound is the limit, not a slowdown.
    expect(a.maxInFlight).toBe(3)
  })

  it("the synchronous door keeps each origin under its bound", async () => {
    await Promise.all([one.reset(), two.reset()])
    const responses = sendRequestsSync(batch(), { concurrency: 8, concurrencyPerOrigin: 2 })
    expect(responses.every((r) => r.statusCode === 200)).toBe(true)
    const [a, b] = await Promise.all([one.stats(), two.stats()])
    expect(a.requests + b.requests).toBe(60)
    expect(a.maxInFlight).toBeLessThanOrEqual(2)
    expect(b.maxInFlight).toBeLessThanOrEqual(2)
  }, 60_000)
})
