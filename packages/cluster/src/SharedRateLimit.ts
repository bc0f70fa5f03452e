/**
 * A job's `rateLimit` across every runner, in front of the runner's
 * `HttpClient`, keyed by job (and origin with `perOrigin`): at most `limit`
 * starts in any span of `interval`, as the core's own limit (a sliding log,
 * not fixed windows or a bucket).
 *
 * With a store every runner reaches (Redis, `layerRedis`) the log is one
 * sorted set of start times per key, read and written by one Lua script on
 * Redis's clock: a start is taken when fewer than `limit` are logged within
 * the last interval, else the script says how long until the oldest leaves
 * it. Without one (`layerSplit`), each runner keeps its own log and takes
 * `limit / runners` (rounded down, at least 1), the runners being those
 * registered in the cluster's storage when a chunk starts: the total holds
 * while the number of runners does not change (a runner that joins mid-job
 * makes it exceed the limit until the next chunks start; one that leaves
 * makes it slower).
 *
 * As in the core, the interval is counted with a margin for what lies
 * between a start and its arrival at the server, here 10% of it, at most
 * 250 ms (twice the core's: a start taken in Redis still has the way back
 * to its runner before it leaves). On each runner one request per key asks
 * the store at a time, in the order they came.
 *
 * @since 0.1.0
 */
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"

/**
 * A job's rate limit as it travels with each chunk.
 *
 * @since 0.1.0
 * @category models
 */
export interface Rate {
  readonly limit: number
  readonly intervalMs: number
  readonly perOrigin: boolean
}

/**
 * @since 0.1.0
 * @category tags
 */
export class SharedRateLimit extends Context.Tag("@loamy/cluster/SharedRateLimit")<SharedRateLimit, {
  /** A client that waits for the job's limiter before each attempt. */
  readonly limit: (client: HttpClient.HttpClient, job: string, rate: Rate) => Effect.Effect<HttpClient.HttpClient>
}>() {}

/**
 * Where the starts are logged: `take` logs one for `key` when fewer than
 * `limit` are logged within the last `windowMs` and answers 0, or answers
 * the milliseconds until one leaves the window (ask again then).
 */
interface Store {
  readonly take: (key: string, limit: number, windowMs: number) => Effect.Effect<number>
}

// loamy's undici client bounds each attempt itself: the engine puts the attempt's end (a performance.now() time)
// on the request under this key. Time spent waiting for the limiter is queueing, which a timeout does not count,
// so the wait moves the end by as much. The key is loamy's own (see @loamy/core's internal/timeout.ts).
const attemptDeadline: unique symbol = Symbol.for("@loamy/core/attemptDeadline")
const deadlineAware: unique symbol = Symbol.for("@loamy/core/deadlineAware")

const originOf = (url: string): string => {
  try {
    return new URL(url).origin
  } catch {
    return url
  }
}

/** The margin (see above): 10% of the interval, at most 250 ms. */
const marginMs = (intervalMs: number): number => Math.min(intervalMs / 10, 250)

const make = (store: Store, runners: Effect.Effect<number>, shared: boolean) =>
  Effect.sync(() => {
    // One request per key asks the store at a time on this runner, first come first served.
    const turns = new Map<string, Effect.Semaphore>()
    const turnOf = (key: string) => {
      let turn = turns.get(key)
      if (turn === undefined) turns.set(key, turn = Effect.unsafeMakeSemaphore(1))
      return turn
    }
    return SharedRateLimit.of({
      limit: (client, job, rate) =>
        Effect.map(runners, (count) => {
          const share = shared ? rate.limit : Math.max(1, Math.floor(rate.limit / Math.max(1, count)))
          const windowMs = Math.ceil(rate.intervalMs + marginMs(rate.intervalMs))
          const wait = (request: HttpClientRequest.HttpClientRequest) => {
            const key = rate.perOrigin ? `${job}|${originOf(request.url)}` : job
            const started = performance.now()
            const take: Effect.Effect<void> = Effect.flatMap(
              store.take(key, share, windowMs),
              (ms) => ms <= 0 ? Effect.void : Effect.zipRight(Effect.sleep(ms), take)
            )
            return turnOf(key).withPermits(1)(take).pipe(
              Effect.map(() => {
                const end = (request as unknown as Record<symbol, number | undefined>)[attemptDeadline]
                if (end !== undefined) {
                  ;(request as unknown as Record<symbol, number>)[attemptDeadline] = end + (performance.now() - started)
                }
                return request
              })
            )
          }
          const limited = HttpClient.mapRequestEffect(client, wait)
          if ((client as unknown as Record<symbol, unknown>)[deadlineAware] === true) {
            ;(limited as unknown as Record<symbol, unknown>)[deadlineAware] = true
          }
          return limited
        })
    })
  })

/** A log in this process: the start times (`performance.now()`) of each key within its window, oldest first. */
const memoryStore = (): Store => {
  const logs = new Map<string, Array<number>>()
  return {
    take: (key, limit, windowMs) =>
      Effect.sync(() => {
        const now = performance.now()
        let log = logs.get(key)
        if (log === undefined) logs.set(key, log = [])
        let expired = 0
        while (expired < log.length && log[expired]! <= now - windowMs) expired++
        if (expired > 0) log.splice(0, expired)
        if (log.length < limit) {
          log.push(now)
          return 0
        }
        return Math.max(1, Math.ceil(log[0]! + windowMs - now))
      })
  }
}

/**
 * KEYS[1]: the key's log, a sorted set of start times (ms, Redis's clock). ARGV: limit, window (ms), a member
 * unique to this start. Returns 0 when the start is logged, else the ms until the oldest leaves the window.
 */
const takeScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window))
  return 0
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(1, math.ceil(tonumber(oldest[2]) + window - now))
`

interface RedisClient {
  takeStart(key: string, limit: number, windowMs: number, member: string): Promise<number>
  quit(): Promise<unknown>
  disconnect(): void
}

/** The log in Redis (`redis://[user:pass@]host:port[/db]`), through ioredis, an optional peer loaded here. */
const redisStore = (url: string): Effect.Effect<Store, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { Redis } = yield* Effect.promise(() => import("ioredis"))
    const parsed = new URL(url)
    const redis = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const client = new Redis({
          host: parsed.hostname,
          port: parsed.port === "" ? 6379 : Number(parsed.port),
          ...(parsed.password === "" ? {} : { password: decodeURIComponent(parsed.password) }),
          ...(parsed.username === "" ? {} : { username: decodeURIComponent(parsed.username) }),
          ...(parsed.pathname.length > 1 ? { db: Number(parsed.pathname.slice(1)) } : {}),
          keyPrefix: "loamy:ratelimit:"
        })
        client.defineCommand("takeStart", { numberOfKeys: 1, lua: takeScript })
        return client as unknown as RedisClient
      }),
      (client) => Effect.promise(() => client.quit().catch(() => client.disconnect()))
    )
    const runner = `${process.pid}.${Math.random().toString(36).slice(2)}`
    let starts = 0
    return {
      take: (key, limit, windowMs) =>
        Effect.promise(() => redis.takeStart(key, limit, windowMs, `${runner}.${++starts}`)).pipe(
          Effect.map(Number)
        )
    }
  })

/**
 * The limit shared through Redis (`redis://host:port`): every runner logs
 * its starts in the same sorted sets. `runners` is not needed for the
 * limit (kept for callers that pass it).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerRedis = <R>(url: string, runners: Effect.Effect<number, never, R>): Layer.Layer<SharedRateLimit, never, R> =>
  Layer.scoped(
    SharedRateLimit,
    Effect.flatMap(Effect.context<R>(), (context) =>
      Effect.flatMap(redisStore(url), (store) => make(store, Effect.provide(runners, context), true)))
  )

/**
 * No shared store: each runner keeps its own log and takes
 * `limit / runners`, `runners` being the count this effect gives when a chunk
 * starts.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSplit = <R>(runners: Effect.Effect<number, never, R>): Layer.Layer<SharedRateLimit, never, R> =>
  Layer.effect(
    SharedRateLimit,
    Effect.flatMap(Effect.context<R>(), (context) => make(memoryStore(), Effect.provide(runners, context), false))
  )
