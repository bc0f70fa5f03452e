/**
 * `SharedRateLimit` on its own, without a cluster: two instances of a layer stand for two runners (each has its
 * own connection to the store and its own turns), in front of loamy's undici client, against the test server in a
 * process of its own, which times arrivals. The limit is a sliding log: `limit` requests start at once, and no
 * span of the interval holds more, across runners, as the server measures.
 */
import { Clump, type RequestMap } from "@loamy/core"
import { SharedRateLimit } from "@loamy/cluster"
import { redisServer, startRedis } from "@loamy/test-kit/services"
import { arrivalSlack, type ServerProcess, shortestSpan, startProcess } from "@loamy/test-server"
import { Context, Effect, Layer, type Scope } from "effect"
import * as HttpClient from "effect/http/HttpClient"
import * as UndiciHttpClient from "loamy/UndiciHttpClient"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

let timing: ServerProcess
beforeAll(async () => {
  timing = await startProcess()
})
afterAll(async () => {
  await timing?.close()
})

const redis = redisServer()
const requireRedis = process.env["LOAMY_REQUIRE_REDIS"] === "1"

/** A client limited for a job at a rate, in the context of the runner that made it (loamy's `Transport` in it). */
type Limited = Context.Context<HttpClient.HttpClient>

/** A runner: its own instance of `layer` (alive for the scope), giving its client limited for a job at a rate. */
const runner = (
  layer: Layer.Layer<SharedRateLimit.SharedRateLimit, unknown>
): Effect.Effect<(job: string, rate: SharedRateLimit.Rate) => Effect.Effect<Limited>, unknown, Scope.Scope> =>
  Effect.map(Layer.build(Layer.merge(layer, UndiciHttpClient.layer)), (context) => (job, rate) =>
    Effect.map(
      Context.get(context, SharedRateLimit.SharedRateLimit).limit(Context.get(context, HttpClient.HttpClient), job, rate),
      (limited) => Context.add(context, HttpClient.HttpClient, limited)
    ))

const send = (client: Limited, requests: ReadonlyArray<RequestMap.RequestMap>, options: Clump.Options = {}) =>
  Clump.send(Clump.make(requests, { concurrency: requests.length, ...options })).pipe(Effect.provide(client))

const get = (path: string): RequestMap.RequestMap => ({ url: `${timing.url}${path}`, httpOp: "GET" })

const arrivals = async (tag: string) => {
  const stats = await timing.stats()
  return stats.arrivals.filter((_, i) => stats.arrivalPaths[i]!.includes(tag)).sort((a, b) => a - b)
}

const stores: ReadonlyArray<
  readonly [string, boolean, () => Promise<{ layer: () => Layer.Layer<SharedRateLimit.SharedRateLimit, unknown>; stop(): Promise<void> }>]
> = [
  ["without a store (each runner takes its share)", false, async () => ({
    layer: () => SharedRateLimit.layerSplit(Effect.succeed(2)),
    stop: async () => undefined
  })],
  ["through Redis", true, async () => {
    if (redis === undefined) throw new Error("LOAMY_REQUIRE_REDIS=1 but there is no redis-server on the PATH")
    const store = await startRedis(redis)
    return { layer: () => SharedRateLimit.layerRedis(store.url), stop: () => store.stop() }
  }]
]

describe.each(stores)("SharedRateLimit %s", (_name, needsRedis, makeStore) => {
  it.skipIf(needsRedis && redis === undefined && !requireRedis)(
    "lets the limit's starts go at once, not one per share of the interval",
    async () => {
      // 4 per minute over two runners: each may start its 2 at once. A paced limit (one start per quarter
      // minute, or per half a minute for each runner's share) would keep the last of them waiting for 15 s or more.
      const store = await makeStore()
      const tag = `burst-${process.pid}-${Date.now()}`
      try {
        const rate = { limit: 4, intervalMs: 60_000, perOrigin: false }
        const responses = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
          const [a, b] = [yield* (yield* runner(store.layer()))(tag, rate), yield* (yield* runner(store.layer()))(tag, rate)]
          return yield* Effect.all([
            send(a!, [get(`/?${tag}-0`), get(`/?${tag}-1`)]),
            send(b!, [get(`/?${tag}-2`), get(`/?${tag}-3`)])
          ], { concurrency: 2 })
        })).pipe(Effect.timeout("10 seconds")))
        expect(responses.flat().map((r) => r.statusCode)).toEqual([200, 200, 200, 200])
        expect(await arrivals(tag)).toHaveLength(4)
      } finally {
        await store.stop()
      }
    },
    30_000
  )

  it.skipIf(needsRedis && redis === undefined && !requireRedis)(
    "no span of the interval holds more than the limit's starts, across runners, as the server measures",
    async () => {
      // 4 per second over two runners, one request at a time each: the first of each runner waits 800 ms at the
      // server, then each sends 4 more. Fixed windows would let a second burst start right after the first.
      const store = await makeStore()
      const tag = `sliding-${process.pid}-${Date.now()}`
      try {
        const rate = { limit: 4, intervalMs: 1_000, perOrigin: false }
        await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
          const runners = [yield* runner(store.layer()), yield* runner(store.layer())]
          // Each runner's first request (its first connection, its first script) is not part of it: another job.
          for (const limited of runners) yield* send(yield* limited(`${tag}-warm`, rate), [get("/?warm")])
          const clients = [yield* runners[0]!(tag, rate), yield* runners[1]!(tag, rate)]
          yield* Effect.forEach(clients, (client, r) =>
            Effect.forEach([`/delay/800?${tag}-${r}-0`, ...[1, 2, 3, 4].map((i) => `/?${tag}-${r}-${i}`)], (path) =>
              send(client, [get(path)])), { concurrency: 2 })
        })))
        const times = await arrivals(tag)
        expect(times).toHaveLength(10)
        expect(shortestSpan(times, 4), times.map(Math.round).join(", ")).toBeGreaterThanOrEqual(1_000 - arrivalSlack(1_000))
      } finally {
        await store.stop()
      }
    },
    30_000
  )
})

describe("SharedRateLimit's client", () => {
  it("keeps loamy's transport: the attempt's timeout starts after the wait for the limiter", async () => {
    // 1 per second: the second request waits about 1.1 s for the limiter, twice its 500 ms timeout, then takes
    // 200 ms at the server. The transport bounds each attempt (the engine runs no timer of its own beside loamy's
    // Transport); were the wait counted, or the Transport lost behind the wrapper (the engine's own timer around
    // the whole exchange), the second request would time out.
    const tag = `deadline-${process.pid}-${Date.now()}`
    const responses = await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
      const limited = yield* (yield* runner(SharedRateLimit.layerSplit(Effect.succeed(1))))(tag, {
        limit: 1,
        intervalMs: 1_000,
        perOrigin: false
      })
      return yield* send(limited, [get(`/delay/200?${tag}-0`), get(`/delay/200?${tag}-1`)], { timeout: 500 })
    })).pipe(Effect.timeout("10 seconds")))
    expect(responses.map((r) => [r.statusCode, r.error?._tag])).toEqual([[200, undefined], [200, undefined]])
    const times = await arrivals(tag)
    expect(times).toHaveLength(2)
    // It did wait: the second started a second after the first.
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(1_000 - arrivalSlack(1_000))
  }, 30_000)
})
