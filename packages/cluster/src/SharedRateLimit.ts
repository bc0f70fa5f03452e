/**
 * A job's `rateLimit` across every runner: `@effect/experimental`'s
 * `RateLimiter` (delaying rather than failing) in front of the runner's
 * `HttpClient`, keyed by job (and origin with `perOrigin`). Starts are paced
 * evenly, one per `interval × (limit + 1) / limit²` (a token bucket holding
 * one token, asked by one request per key and runner at a time): no span of
 * one interval holds more than `limit` of them at the server even when some
 * are held up on the way by up to `interval / limit`, at the cost of a rate
 * of `limit × limit / (limit + 1)` per interval.
 *
 * With a store every runner reaches (Redis, `layerRedis`) the pace is shared
 * exactly. Without one (`layerSplit`), each runner paces itself at
 * `limit / runners` (rounded down, at least 1), the runners being those
 * registered in the cluster's storage when a chunk starts: the total holds
 * while the number of runners does not change (a runner that joins mid-job
 * makes it exceed the limit until the next chunks start; one that leaves
 * makes it slower).
 *
 * @since 0.1.0
 */
import * as RateLimiter from "@effect/experimental/RateLimiter"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

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

const make = (runners: Effect.Effect<number>, shared: boolean) =>
  Effect.gen(function*() {
    const limiter = yield* RateLimiter.RateLimiter
    // One request per key waits for its turn at a time on this runner, and starts at least one turn after the
    // one before it here: a timer that fired late (a busy event loop) makes the store's bucket hold a token that
    // would otherwise let the next request start right behind the late one.
    const turns = new Map<string, { readonly permit: Effect.Semaphore; last: number }>()
    const turnOf = (key: string) => {
      let turn = turns.get(key)
      if (turn === undefined) {
        turn = { permit: Effect.unsafeMakeSemaphore(1), last: -Infinity }
        turns.set(key, turn)
      }
      return turn
    }
    return SharedRateLimit.of({
      limit: (client, job, rate) =>
        Effect.map(runners, (count) => {
          // Evenly paced starts (a window of `limit` starts at once would let twice that through across a
          // boundary) from a token bucket of one token, with slack: a turn for each runner pacing the key, since
          // each may start one turn early behind a late start of another (the bucket refills while a late timer
          // waits), so that a span of one interval holds at most `limit` starts. Without a shared store each
          // runner paces its own share of the limit, rounded down, with one turn of slack.
          const runnersNow = Math.max(1, count)
          const share = shared ? rate.limit : Math.max(1, Math.floor(rate.limit / runnersNow))
          const slack = shared ? runnersNow : 1
          // Whole milliseconds: the Redis store's expiries are.
          const turnMs = Math.ceil((rate.intervalMs * (share + slack)) / (share * share))
          const wait = (request: HttpClientRequest.HttpClientRequest) => {
            const key = rate.perOrigin ? `${job}|${originOf(request.url)}` : job
            const started = performance.now()
            const turn = turnOf(key)
            return limiter.consume({ key, limit: 1, window: turnMs, onExceeded: "delay", algorithm: "token-bucket" })
              .pipe(
                Effect.flatMap(({ delay }) => Duration.isZero(delay) ? Effect.void : Effect.sleep(delay)),
                Effect.zipRight(Effect.suspend(() => {
                  const early = turn.last + turnMs - performance.now()
                  return early > 0 ? Effect.sleep(Duration.millis(early)) : Effect.void
                })),
                Effect.zipRight(Effect.sync(() => {
                  turn.last = performance.now()
                })),
                turn.permit.withPermits(1),
                Effect.map(() => {
                  const end = (request as unknown as Record<symbol, number | undefined>)[attemptDeadline]
                  if (end !== undefined) {
                    ;(request as unknown as Record<symbol, number>)[attemptDeadline] = end + (performance.now() - started)
                  }
                  return request
                }),
                // The store is part of the runner: when it fails the chunk fails and is run again.
                Effect.orDie
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

/**
 * The limit shared through Redis (`redis://host:port`): every runner takes
 * its turns from the same bucket. `runners` (how many pace a key) sets the
 * slack.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerRedis = <R>(url: string, runners: Effect.Effect<number, never, R>): Layer.Layer<SharedRateLimit, never, R> =>
  Layer.effect(
    SharedRateLimit,
    Effect.flatMap(Effect.context<R>(), (context) => make(Effect.provide(runners, context), true))
  ).pipe(
    Layer.provide(RateLimiter.layer),
    // ioredis is an optional peer: loaded only when a runner is given a Redis.
    Layer.provide(Layer.unwrapEffect(Effect.map(
      Effect.promise(() => import("@effect/experimental/RateLimiter/Redis")),
      (RateLimiterRedis) => {
        const parsed = new URL(url)
        return RateLimiterRedis.layerStore({
          host: parsed.hostname,
          port: parsed.port === "" ? 6379 : Number(parsed.port),
          ...(parsed.password === "" ? {} : { password: decodeURIComponent(parsed.password) }),
          ...(parsed.username === "" ? {} : { username: decodeURIComponent(parsed.username) }),
          ...(parsed.pathname.length > 1 ? { db: Number(parsed.pathname.slice(1)) } : {}),
          prefix: "loamy:ratelimit:"
        })
      }
    )))
  )

/**
 * No shared store: each runner keeps its own windows and takes
 * `limit / runners`, `runners` being the count this effect gives when a chunk
 * starts.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerSplit = <R>(runners: Effect.Effect<number, never, R>): Layer.Layer<SharedRateLimit, never, R> =>
  Layer.effect(
    SharedRateLimit,
    Effect.flatMap(Effect.context<R>(), (context) => make(Effect.provide(runners, context), false))
  ).pipe(Layer.provide(RateLimiter.layer), Layer.provide(RateLimiter.layerStoreMemory))
