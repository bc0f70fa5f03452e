/**
 * `concurrencyPerOrigin`: checked from the servers' side on real loopback
 * listeners (one origin per port, in-flight counted per port and in all), and
 * the scheduler's paths (ordered, streams, the read-ahead bound) on a fake
 * client that knows every request's origin.
 */
import { HttpClient, HttpClientResponse } from "effect/http"
import { NodeHttpClient } from "@effect/platform-node"
import { Clump, Options } from "@loamy/core"
import { it } from "@effect/vitest"
import { Effect, Result, Layer, Stream } from "effect"
import * as fc from "fast-check"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect } from "vitest"

/** Several listeners, one origin each, counting requests in flight per origin and in all. */
interface Origins {
  readonly urls: ReadonlyArray<string>
  readonly maxInFlight: Array<number>
  maxTotal: number
  requests: number
  /** Requests to `/hold` wait until this is called. */
  release(): void
  readonly held: Array<number>
  reset(): void
  close(): Promise<void>
}

const startOrigins = async (count: number): Promise<Origins> => {
  const inFlight = new Array<number>(count).fill(0)
  let total = 0
  let holding: Array<() => void> = []
  let released = false
  const origins: Origins = {
    urls: [],
    maxInFlight: new Array<number>(count).fill(0),
    maxTotal: 0,
    requests: 0,
    held: new Array<number>(count).fill(0),
    release: () => {
      released = true
      for (const go of holding.splice(0)) go()
    },
    reset: () => {
      origins.maxInFlight.fill(0)
      origins.held.fill(0)
      origins.maxTotal = 0
      origins.requests = 0
      released = false
    },
    close: async () => {
      origins.release()
      await Promise.all(servers.map((server) =>
        new Promise<void>((resolve) => {
          server.closeAllConnections()
          server.close(() => resolve())
        })
      ))
    }
  }
  const servers = Array.from({ length: count }, (_, i) =>
    http.createServer((req, res) => {
      origins.requests++
      inFlight[i]!++
      total++
      origins.maxInFlight[i] = Math.max(origins.maxInFlight[i]!, inFlight[i]!)
      origins.maxTotal = Math.max(origins.maxTotal, total)
      const answer = () => {
        inFlight[i]!--
        total--
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({ origin: i }))
      }
      const delay = /^\/delay\/(\d+)/.exec(req.url ?? "")
      if (req.url === "/hold" && !released) {
        origins.held[i]!++
        holding.push(answer)
      } else if (delay !== null) setTimeout(answer, Number(delay[1]))
      else answer()
    }))
  for (const server of servers) {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    ;(origins.urls as Array<string>).push(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
  }
  return origins
}

let origins: Origins
beforeAll(async () => {
  origins = await startOrigins(3)
})
afterAll(() => origins.close())

describe("concurrencyPerOrigin, from the servers' side", () => {
  it.live("never more than the bound in flight to one origin, nor more than concurrency in all", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 8 })), {
            minLength: 1,
            maxLength: 40
          }),
          fc.integer({ min: 2, max: 8 }),
          fc.integer({ min: 1, max: 3 }),
          fc.boolean(),
          async (items, concurrency, perOrigin, ordered) => {
            origins.reset()
            const requests = items.map(([o, ms]) => ({ url: `${origins.urls[o]}/delay/${ms}`, httpOp: "GET" as const }))
            const clump = Clump.make(requests, { concurrency, concurrencyPerOrigin: perOrigin })
            const responses = await Effect.runPromise(
              (ordered
                ? Effect.map(Stream.runCollect(Clump.stream(clump, { ordered: true })), (c) =>
                  c.map((e) => e.response))
                : Clump.send(clump)).pipe(Effect.provide(NodeHttpClient.layerUndici))
            )
            expect(responses.map((r) => (r.body as { origin: number }).origin)).toEqual(items.map(([o]) => o))
            expect(origins.requests).toBe(items.length)
            for (const max of origins.maxInFlight) expect(max).toBeLessThanOrEqual(perOrigin)
            expect(origins.maxTotal).toBeLessThanOrEqual(concurrency)
          }
        ),
        { numRuns: 30 }
      )
    ), 120_000)

  it.live("a stalled origin holds only its own requests: the others finish while it waits", () =>
    Effect.gen(function*() {
      origins.reset()
      const [slow, fast, other] = origins.urls as [string, string, string]
      const requests = [
        ...Array.from({ length: 6 }, () => ({ url: `${slow}/hold`, httpOp: "GET" as const })),
        ...Array.from({ length: 30 }, (_, i) => ({ url: `${i % 2 === 0 ? fast : other}/`, httpOp: "GET" as const }))
      ]
      const seen: Array<string> = []
      // Completion order: every fast response arrives while the slow origin's requests are still held.
      yield* Clump.stream(Clump.make(requests, { concurrency: 4, concurrencyPerOrigin: 2 })).pipe(
        Stream.tap(({ index }) =>
          Effect.sync(() => {
            seen.push(index < 6 ? "slow" : "fast")
            if (seen.filter((s) => s === "fast").length === 30) origins.release()
          })
        ),
        Stream.runDrain,
        Effect.provide(NodeHttpClient.layerUndici)
      )
      expect(seen.slice(0, 30).every((s) => s === "fast")).toBe(true)
      expect(seen.length).toBe(36)
      // Only two of the held origin's requests were ever sent before the release.
      expect(origins.held[0]).toBe(2)
      expect(origins.maxInFlight[0]).toBeLessThanOrEqual(2)
    }), 60_000)
})

/** A fake client answering after `/ms/N`, counting in flight per origin. */
const fake = (probe: { inFlight: Map<string, number>; max: Map<string, number>; maxTotal: number; total: number }) =>
  Layer.succeed(
    HttpClient.HttpClient,
    HttpClient.make((request) => {
      const origin = new URL(request.url).origin
      const ms = Number(/\/ms\/(\d+)/.exec(request.url)?.[1] ?? 0)
      return Effect.suspend(() => {
        const n = (probe.inFlight.get(origin) ?? 0) + 1
        probe.inFlight.set(origin, n)
        probe.max.set(origin, Math.max(probe.max.get(origin) ?? 0, n))
        probe.total++
        probe.maxTotal = Math.max(probe.maxTotal, probe.total)
        return Effect.promise(() => new Promise((resolve) => setTimeout(resolve, ms)))
      }).pipe(
        Effect.map(() =>
          HttpClientResponse.fromWeb(
            request,
            new Response(JSON.stringify({ origin, ms }), { headers: { "content-type": "application/json" } })
          )
        ),
        Effect.ensuring(Effect.sync(() => {
          probe.inFlight.set(origin, probe.inFlight.get(origin)! - 1)
          probe.total--
        }))
      )
    })
  )

const newProbe = () => ({ inFlight: new Map<string, number>(), max: new Map<string, number>(), maxTotal: 0, total: 0 })

describe("concurrencyPerOrigin, the scheduler's paths", () => {
  it.live("ordered and unordered streams from a source: every item once, bounds kept, bad items in place", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(
            fc.oneof(
              { weight: 12, arbitrary: fc.tuple(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 0, max: 6 })) },
              { weight: 1, arbitrary: fc.constant("bad" as const) }
            ),
            { maxLength: 60 }
          ),
          fc.integer({ min: 1, max: 6 }),
          fc.integer({ min: 1, max: 3 }),
          fc.boolean(),
          async (items, concurrency, perOrigin, ordered) => {
            const probe = newProbe()
            // Origins spelt differently (case, default port) are still one origin.
            const spell = (o: number, i: number) =>
              o === 4 ? (i % 2 === 0 ? "HTTP://Host-4.test:80" : "http://host-4.test") : `http://host-${o}.test`
            const source = items.map((item, i) =>
              item === "bad" ? { url: "not a url", httpOp: "GET" } : { url: `${spell(item[0], i)}/ms/${item[1]}`, httpOp: "GET" }
            )
            const emitted = await Effect.runPromise(
              Clump.streamFrom(Stream.fromIterable(source), { concurrency, concurrencyPerOrigin: perOrigin, ordered }).pipe(
                Stream.runCollect,
                Effect.provide(fake(probe))
              )
            )
            const indices = emitted.map((e) => e.index)
            if (ordered) expect(indices).toEqual(items.map((_, i) => i))
            else expect([...indices].sort((a, b) => a - b)).toEqual(items.map((_, i) => i))
            for (const e of emitted) {
              expect(e.response.error?._tag).toBe(items[e.index] === "bad" ? "InvalidInputError" : undefined)
            }
            for (const max of probe.max.values()) expect(max).toBeLessThanOrEqual(perOrigin)
            expect(probe.maxTotal).toBeLessThanOrEqual(concurrency)
            expect(probe.max.size).toBeLessThanOrEqual(4)
          }
        ),
        { numRuns: 60 }
      )
    ), 120_000)

  it.live("a stream with more items for one busy origin than it reads ahead still finishes, in order", () =>
    Effect.gen(function*() {
      const probe = newProbe()
      const items = Array.from({ length: 1500 }, (_, i) => ({
        url: i % 100 === 99 ? `http://other.test/ms/0` : `http://busy.test/ms/0`,
        httpOp: "GET"
      }))
      const emitted = yield* Clump.streamFrom(Stream.fromIterable(items), {
        concurrency: 4,
        concurrencyPerOrigin: 1,
        ordered: true
      }).pipe(Stream.runCollect, Effect.provide(fake(probe)))
      expect(emitted.map((e) => e.index)).toEqual(items.map((_, i) => i))
      expect(probe.max.get("http://busy.test")).toBe(1)
    }), 120_000)

  it("a bound at or above the concurrency bounds nothing; a bad bound names the option", () => {
    expect(Result.getOrThrow(Options.decode({ concurrency: 4, concurrencyPerOrigin: 4 })).concurrencyPerOrigin)
      .toBeUndefined()
    expect(Result.getOrThrow(Options.decode({ concurrency: 4, concurrencyPerOrigin: 2 })).concurrencyPerOrigin).toBe(2)
    const bad = Options.decode({ concurrencyPerOrigin: 0 })
    expect(Result.isFailure(bad) && bad.failure.option).toBe("concurrencyPerOrigin")
  })
})
