/**
 * Progress at the Effect door: the figures reported while `send`, `stream`
 * and `streamFrom` run against the loopback test server.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { Clump, Progress } from "@loamy/core"
import { start, type TestServer } from "@loamy/test-server"
import { it } from "@effect/vitest"
import { Effect, Fiber, Ref, Schedule, Stream, SubscriptionRef } from "effect"
import { afterAll, beforeAll, describe, expect } from "vitest"

let server: TestServer
beforeAll(async () => {
  server = await start()
})
afterAll(() => server.close())

const requests = (n: number) =>
  Array.from({ length: n }, (_, i) =>
    i % 10 === 3
      ? { url: `http://127.0.0.1:1/refused`, httpOp: "GET" as const }
      : { url: `${server.url}/delay/${i % 4}`, httpOp: "GET" as const })

/** Checks what every snapshot must satisfy, and that the figures only grow. */
const checkSeries = (series: ReadonlyArray<Progress.Progress>, concurrency: number) => {
  for (const [i, p] of series.entries()) {
    expect(p.ok + p.failed).toBe(p.done)
    expect(p.inFlight).toBeGreaterThanOrEqual(0)
    expect(p.inFlight).toBeLessThanOrEqual(concurrency)
    if (p.total !== undefined) expect(p.done).toBeLessThanOrEqual(p.total)
    if (i > 0) {
      expect(p.done).toBeGreaterThanOrEqual(series[i - 1]!.done)
      expect(p.elapsedMs).toBeGreaterThanOrEqual(series[i - 1]!.elapsedMs)
    }
  }
}

describe("Progress at the Effect door", () => {
  it.live("send reports to a SubscriptionRef while it runs, and the last snapshot is the whole call", () =>
    Effect.gen(function*() {
      const progress = yield* SubscriptionRef.make(Progress.empty)
      const seen: Array<Progress.Progress> = []
      const watcher = yield* SubscriptionRef.changes(progress).pipe(
        Stream.runForEach((p) => Effect.sync(() => seen.push(p))),
        Effect.forkChild
      )
      const responses = yield* Clump.send(Clump.make(requests(300), { concurrency: 8 })).pipe(
        Progress.reportTo(progress, { interval: "20 millis" }),
        Effect.provide(NodeHttpClient.layerUndici)
      )
      const last = yield* SubscriptionRef.get(progress)
      const failed = responses.filter((r) => r.error !== undefined).length
      expect(failed).toBe(30)
      expect(last).toMatchObject({ total: 300, done: 300, ok: 270, failed: 30, inFlight: 0 })
      // The watcher gets the last change on its own fiber: wait for it (bounded).
      yield* Effect.repeat(Effect.sync(() => seen.at(-1)?.done === 300), {
        until: (got) => got,
        schedule: Schedule.spaced("5 millis")
      }).pipe(Effect.timeout("10 seconds"))
      yield* Fiber.interrupt(watcher)
      // The start, some snapshots on the way, the end (the first value seen may be Progress.empty).
      const reported = seen.filter((p) => p.total !== undefined)
      expect(reported.length).toBeGreaterThanOrEqual(3)
      expect(reported.some((p) => p.done > 0 && p.done < 300)).toBe(true)
      expect(reported.at(-1)).toEqual(last)
      checkSeries(reported, 8)
    }), 60_000)

  it.live("snapshots are taken on the timer, not per request", () =>
    Effect.gen(function*() {
      const reports = yield* Ref.make<Array<Progress.Progress>>([])
      const before = performance.now()
      yield* Clump.send(Clump.make(requests(400), { concurrency: 50 })).pipe(
        Progress.reportTo((p) => Ref.update(reports, (all) => [...all, p]), { interval: "100 millis" }),
        Effect.provide(NodeHttpClient.layerUndici)
      )
      const elapsed = performance.now() - before
      const all = yield* Ref.get(reports)
      // One at the start, one per interval at most, one at the end.
      expect(all.length).toBeLessThanOrEqual(2 + Math.ceil(elapsed / 100))
      expect(all.at(-1)).toMatchObject({ done: 400, inFlight: 0 })
    }), 60_000)

  it.live("stream and streamFrom report too (streamFrom has no total)", () =>
    Effect.gen(function*() {
      const fromStream = yield* Ref.make(Progress.empty)
      yield* Clump.stream(Clump.make(requests(50), { concurrency: 4 }), { ordered: true }).pipe(
        Stream.runDrain,
        Progress.reportTo(fromStream),
        Effect.provide(NodeHttpClient.layerUndici)
      )
      expect(yield* Ref.get(fromStream)).toMatchObject({ total: 50, done: 50, ok: 45, failed: 5, inFlight: 0 })

      const fromSource = yield* Ref.make(Progress.empty)
      const items: Array<unknown> = [...requests(20), "{not json"]
      yield* Clump.streamFrom(Stream.fromIterable(items), { concurrency: 4 }).pipe(
        Progress.reportTo(fromSource),
        Stream.runDrain,
        Effect.provide(NodeHttpClient.layerUndici)
      )
      expect(yield* Ref.get(fromSource)).toMatchObject({ total: undefined, done: 21, ok: 18, failed: 3, inFlight: 0 })
    }), 60_000)

  it.live("a call interrupted midway reports where it stopped, with nothing in flight", () =>
    Effect.gen(function*() {
      const progress = yield* Ref.make(Progress.empty)
      const slow = Array.from({ length: 20 }, (_, i) => ({
        url: `${server.url}/${i < 4 ? "delay/0" : "stall?ms=30000"}`,
        httpOp: "GET" as const
      }))
      const fiber = yield* Clump.send(Clump.make(slow, { concurrency: 8 })).pipe(
        Progress.reportTo(progress, { interval: "10 millis" }),
        Effect.provide(NodeHttpClient.layerUndici),
        Effect.forkChild
      )
      // Wait for the snapshot that shows the quick ones done and the stalled ones in flight.
      yield* Effect.repeat(Ref.get(progress), {
        until: (p) => p.done === 4 && p.inFlight === 8,
        schedule: Schedule.spaced("5 millis")
      })
      yield* Fiber.interrupt(fiber)
      expect(yield* Ref.get(progress)).toMatchObject({ total: 20, done: 4, ok: 4, failed: 0, inFlight: 0 })
    }), 60_000)

  it("a bad interval is refused where it is given", () => {
    expect(() => Progress.reportTo(() => Effect.void, { interval: 0 })).toThrow(/interval must be positive/)
  })
})
