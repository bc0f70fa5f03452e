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
 * The limited client is the runner's own client with the wait in front of
 * each attempt (`HttpClient.transform`): it keeps what the transport reads
 * from the context (loamy's `Transport`: the per-call socket cap, the
 * proxy). The wait is queueing, which a timeout does not count: the
 * attempt's deadline (`Transport.AttemptDeadline`) moves by as much.
 *
 * @since 0.1.0
 */
import * as Transport from "@loamy/core/Transport"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HttpClient from "effect/http/HttpClient"
import * as Layer from "effect/Layer"
import * as Redis from "effect/persistence/Redis"
import * as Semaphore from "effect/Semaphore"

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
 * @category services
 */
export class SharedRateLimit extends Context.Service<SharedRateLimit, {
  /** A client that waits for the job's limiter before each attempt. */
  readonly limit: (client: HttpClient.HttpClient, job: string, rate: Rate) => Effect.Effect<HttpClient.HttpClient>
}>()("@loamy/cluster/SharedRateLimit") {}

/**
 * Where the starts are logged: `take` logs one for `key` when fewer than
 * `limit` are logged within the last `windowMs` and answers 0, or answers
 * the milliseconds until one leaves the window (ask again then).
 */
interface Store {
  readonly take: (key: string, limit: number, windowMs: number) => Effect.Effect<number>
}

const originOf = (url: string): string => {
  try {
    return new URL(url).origin
  } catch {
    return url
  }
}

/** The margin (see above): 10% of the interval, at most 250 ms. */
const marginMs = (intervalMs: number): number => Math.min(intervalMs / 10, 250)

/** The attempt's end moved by the time spent waiting since `started` (undefined: the engine times the attempt). */
const later = (started: number) => (end: number | undefined): number | undefined =>
  end === undefined ? undefined : end + (performance.now() - started)

/** `runners`: undefined when the store is shared (every runner takes from the whole limit). */
const make = (store: Store, runners: Effect.Effect<number> | undefined) =>
  Effect.sync(() => {
    // One request per key asks the store at a time on this runner, first come first served.
    const turns = new Map<string, Semaphore.Semaphore>()
    const turnOf = (key: string) => {
      let turn = turns.get(key)
      if (turn === undefined) turns.set(key, turn = Semaphore.makeUnsafe(1))
      return turn
    }
    const limited = (client: HttpClient.HttpClient, job: string, rate: Rate, share: number) => {
      const windowMs = Math.ceil(rate.intervalMs + marginMs(rate.intervalMs))
      return HttpClient.transform(client, (attempt, request) => {
        const key = rate.perOrigin ? `${job}|${originOf(request.url)}` : job
        const started = performance.now()
        const take: Effect.Effect<void> = Effect.flatMap(
          store.take(key, share, windowMs),
          (ms) => ms <= 0 ? Effect.void : Effect.andThen(Effect.sleep(ms), take)
        )
        return Effect.andThen(
          turnOf(key).withPermits(1)(take),
          Effect.updateService(attempt, Transport.AttemptDeadline, later(started))
        )
      })
    }
    return SharedRateLimit.of({
      limit: (client, job, rate) =>
        runners === undefined
          ? Effect.succeed(limited(client, job, rate, rate.limit))
          : Effect.map(runners, (count) => limited(client, job, rate, Math.max(1, Math.floor(rate.limit / count))))
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
const takeScript = Redis.script(
  (key: string, limit: number, windowMs: number, member: string) => [key, limit, windowMs, member],
  {
    numberOfKeys: 1,
    lua: `
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
  }
).withReturnType<number>()

/** The log in the `Redis` service's store, every key under `loamy:ratelimit:`. */
const redisStore: Effect.Effect<Store, never, Redis.Redis> = Effect.map(Redis.Redis, (redis) => {
  const take = redis.eval(takeScript)
  const runner = `${process.pid}.${Math.random().toString(36).slice(2)}`
  let starts = 0
  return {
    // A store that fails mid-job fails the chunk's requests as defects, as a lost database does.
    take: (key, limit, windowMs) =>
      Effect.orDie(Effect.map(take(`loamy:ratelimit:${key}`, limit, windowMs, `${runner}.${++starts}`), Number))
  }
})

/**
 * `@effect/platform-node`'s node-redis client (both optional peers, loaded
 * here only): connected when the layer is built, closed with it.
 */
const nodeRedis = (url: string): Layer.Layer<Redis.Redis, Redis.RedisError> =>
  Layer.unwrap(Effect.map(
    Effect.tryPromise({
      try: () => import("@effect/platform-node/NodeRedis"),
      catch: (cause) =>
        new Redis.RedisError({
          cause: new Error(
            "a rate limit shared through Redis needs the packages @effect/platform-node and redis " +
              "(npm install @effect/platform-node redis)",
            { cause }
          )
        })
    }),
    (NodeRedis) => NodeRedis.layer({ url })
  ))

/**
 * The limit shared through Redis (`redis://[user:password@]host:port[/db]`,
 * node-redis's URL): every runner logs its starts in the same sorted sets,
 * and takes from the whole limit. Needs the optional peers
 * `@effect/platform-node` and `redis`. Building the layer connects and fails
 * with a `RedisError` when Redis cannot be reached.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerRedis = (url: string): Layer.Layer<SharedRateLimit, Redis.RedisError> =>
  Layer.provide(layerStore(redisStore, undefined), nodeRedis(url))

/**
 * No shared store: each runner keeps its own log and takes
 * `limit / runners`, `runners` being the count this effect gives when a chunk
 * starts.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSplit = <R>(runners: Effect.Effect<number, never, R>): Layer.Layer<SharedRateLimit, never, R> =>
  layerStore(Effect.sync(memoryStore), runners)

const layerStore = <R, RS>(
  store: Effect.Effect<Store, never, RS>,
  runners: Effect.Effect<number, never, R> | undefined
): Layer.Layer<SharedRateLimit, never, R | RS> =>
  Layer.effect(
    SharedRateLimit,
    Effect.gen(function*() {
      const context = yield* Effect.context<R>()
      return yield* make(
        yield* store,
        runners && Effect.map(Effect.provide(runners, context), (count) => Math.max(1, count))
      )
    })
  )
