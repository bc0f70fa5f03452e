/**
 * The one scheduler under `send`, `stream` and `streamFrom`, on a fake
 * `HttpClient` that answers after a delay the request names (`/ms/N`), so
 * order, concurrency, back-pressure and fail-fast are checked without a
 * network. HTTP itself is tested against real servers elsewhere.
 */
import { HttpClient, HttpClientResponse } from "effect/http"
import { Clump, LoamyError, Options } from "@loamy/core"
import * as Unchecked from "@loamy/core/Unchecked"
import { it } from "@effect/vitest"
import { Effect, Result, Fiber, Layer, Stream } from "effect"
import * as fc from "fast-check"
import { describe, expect } from "vitest"
import { sleepLive, waitUntilLive } from "./helpers.js"

interface Probe {
  started: number
  inFlight: number
  maxInFlight: number
  interrupted: number
}

const fake = (probe: Probe) =>
  Layer.succeed(
    HttpClient.HttpClient,
    HttpClient.make((request) => {
      const ms = Number(/\/ms\/(\d+)/.exec(request.url)?.[1] ?? 0)
      const status = Number(/\/status\/(\d+)/.exec(request.url)?.[1] ?? 200)
      return Effect.suspend(() => {
        probe.started++
        probe.inFlight++
        probe.maxInFlight = Math.max(probe.maxInFlight, probe.inFlight)
        return Effect.promise(() => new Promise((resolve) => setTimeout(resolve, ms)))
      }).pipe(
        Effect.map(() =>
          HttpClientResponse.fromWeb(
            request,
            // 299: a body that is not JSON, the failure fail-fast stops at.
            new Response(status === 299 ? "not json" : JSON.stringify({ ms }), {
              status,
              headers: { "content-type": status === 299 ? "text/plain" : "application/json" }
            })
          )
        ),
        Effect.onInterrupt(() => Effect.sync(() => probe.interrupted++)),
        Effect.ensuring(Effect.sync(() => probe.inFlight--))
      )
    })
  )

const newProbe = (): Probe => ({ started: 0, inFlight: 0, maxInFlight: 0, interrupted: 0 })
const get = (ms: number, status = 200) => ({ url: `http://127.0.0.1:1/ms/${ms}/status/${status}`, httpOp: "GET" as const })

describe("scheduler", () => {
  it.live("send: one response per request in input order, never more than concurrency in flight", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 0, max: 15 }), { minLength: 0, maxLength: 40 }),
          fc.integer({ min: 1, max: 8 }),
          async (delays, concurrency) => {
            const probe = newProbe()
            const responses = await Effect.runPromise(
              Clump.send(Clump.make(delays.map((ms) => get(ms)), { concurrency })).pipe(Effect.provide(fake(probe)))
            )
            expect(responses.map((r) => (r.body as { ms: number }).ms)).toEqual(delays)
            expect(probe.started).toBe(delays.length)
            expect(probe.maxInFlight).toBeLessThanOrEqual(concurrency)
          }
        ),
        { numRuns: 25 }
      )
    ))

  it.live("an effect of send can run again: each run sends every request and gets its own results", () =>
    Effect.gen(function*() {
      const probe = newProbe()
      const resolved = Options.decode({ concurrency: 2 }).pipe(Result.getOrThrow)
      const once = Unchecked.unsafeSend([get(1), get(0), get(2)], resolved).pipe(Effect.provide(fake(probe)))
      const first = yield* once
      const second = yield* once
      expect(second).not.toBe(first)
      expect(second.map((r) => (r.body as { ms: number }).ms)).toEqual([1, 0, 2])
      expect(probe.started).toBe(6)
    }))

  it.live("stream { ordered: true } emits in input order whatever the completion order", () =>
    Effect.gen(function*() {
      const delays = [40, 0, 30, 0, 20, 10, 0, 5, 25, 0]
      const probe = newProbe()
      const emitted = yield* Stream.runCollect(
        Clump.stream(Clump.make(delays.map((ms) => get(ms)), { concurrency: 4 }), { ordered: true })
      ).pipe(Effect.provide(fake(probe)))
      expect(emitted.map((e) => e.index)).toEqual(delays.map((_, i) => i))
      expect(probe.maxInFlight).toBeLessThanOrEqual(4)
    }))

  it.live("stream emits every response once, in chunks of those that finished in the same turn", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 0, max: 6 }), { minLength: 0, maxLength: 60 }),
          fc.integer({ min: 1, max: 16 }),
          fc.boolean(),
          async (delays, concurrency, ordered) => {
            const probe = newProbe()
            const chunks = await Effect.runPromise(
              Stream.runCollect(
                Stream.chunks(Clump.stream(Clump.make(delays.map((ms) => get(ms)), { concurrency }), { ordered }))
              ).pipe(Effect.provide(fake(probe)))
            )
            const indices = chunks.flatMap((chunk) => chunk.map((e) => e.index))
            if (ordered) expect(indices).toEqual(delays.map((_, i) => i))
            else expect([...indices].sort((a, b) => a - b)).toEqual(delays.map((_, i) => i))
            expect(probe.maxInFlight).toBeLessThanOrEqual(concurrency)
          }
        ),
        { numRuns: 25 }
      )
    ))

  it.live("a waiting consumer gets the responses that finish in one turn as one chunk", () =>
    Effect.gen(function*() {
      const probe = newProbe()
      // Sixteen requests that all finish on the same timer turn.
      const chunks = yield* Stream.runCollect(
        Stream.chunks(Clump.stream(Clump.make(Array.from({ length: 16 }, () => get(20)), { concurrency: 16 })))
      ).pipe(Effect.provide(fake(probe)))
      const sizes = chunks.map((chunk) => chunk.length)
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(16)
      expect(Math.max(...sizes)).toBeGreaterThan(1)
    }))

  it.live("streamFrom holds back the source when the consumer is slow (back-pressure)", () =>
    Effect.gen(function*() {
      const probe = newProbe()
      let pulled = 0
      const endless = Stream.fromEffectRepeat(Effect.sync(() => {
        pulled++
        return get(0)
      }))
      // Take 20 responses slowly from an endless source.
      const taken = yield* Clump.streamFrom(endless, { concurrency: 4 }).pipe(
        Stream.tap(() => sleepLive(5)),
        Stream.take(20),
        Stream.runCollect,
        Effect.provide(fake(probe))
      )
      expect((taken).length).toBe(20)
      // Bounded by what was taken plus the requests in flight, the responses buffered for the consumer and the source's chunk buffer.
      expect(probe.started).toBeLessThanOrEqual(20 + 4 + 4 + 16)
      expect(pulled).toBeLessThan(200)
    }))

  it.live("returnExceptions: false fails on the first failure and interrupts the requests in flight", () =>
    Effect.gen(function*() {
      const probe = newProbe()
      const requests = [get(5, 299), ...Array.from({ length: 10 }, () => get(5_000))]
      const fiber = yield* Effect.forkChild(
        Clump.send(Clump.make(requests, { concurrency: 4, returnExceptions: false })).pipe(Effect.provide(fake(probe)))
      )
      const exit = yield* Fiber.await(fiber)
      expect(exit._tag).toBe("Failure")
      const error = yield* Effect.flip(Fiber.join(fiber))
      expect(error).toBeInstanceOf(LoamyError.BodyDecodeError)
      expect(yield* waitUntilLive(() => probe.inFlight === 0, 2_000)).toBe(true)
      expect(probe.interrupted).toBe(3)
      expect(probe.started).toBe(4)
    }))

  it.live("a bad stream item is folded in place under one rule, and fails the stream with returnExceptions: false", () =>
    Effect.gen(function*() {
      const probe = newProbe()
      const items: Array<unknown> = [get(0), "{not json", { url: "http://127.0.0.1:1/", httpOp: "BREW" }, JSON.stringify(get(0))]
      const emitted = yield* Stream.runCollect(Clump.streamFrom(Stream.fromIterable(items), { ordered: true })).pipe(
        Effect.provide(fake(probe))
      )
      const responses = emitted.map((e) => e.response)
      expect(responses.map((r) => r.error?._tag)).toEqual([undefined, "InvalidInputError", "InvalidInputError", undefined])
      expect(responses[1]!.error).toMatchObject({ index: 1, field: "" })
      expect((responses[1]!.error as LoamyError.InvalidInputError).detail).toMatch(/^not valid JSON/)
      expect(responses[2]!.error).toMatchObject({ index: 2, field: "httpOp" })
      expect(responses[2]!.requestMap).toBe(items[2])
      expect(probe.started).toBe(2)
      const failed = yield* Effect.flip(
        Stream.runCollect(Clump.streamFrom(Stream.fromIterable(items), { returnExceptions: false })).pipe(
          Effect.provide(fake(newProbe()))
        )
      )
      expect(failed).toBeInstanceOf(LoamyError.InvalidInputError)
    }))
})
