/**
 * A job's `rateLimit` across every runner: `@effect/experimental`'s
 * `RateLimiter` (delaying rather than failing) in front of the runner's
 * `HttpClient`, keyed by job (and origin with `perOrigin`). Starts are paced
 * evenly, one per `interval / limit`, so no span of one interval holds more
 * than `limit` of them.
 *
 * With a store every runner reaches (Redis, `layerRedis`) the pace is shared
 * exactly. Without one (`layerSplit`), each runner paces itself at
 * `limit / runners`, the runners being those registered in the cluster's
 * storage when a chunk starts: the total holds while the number of runners
 * does not change (a runner that joins mid-job makes it exceed the limit
 * until the next chunks start; one that leaves makes it slower).
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

const make = (runners: Effect.Effect<number>) =>
  Effect.gen(function*() {
    const limiter = yield* RateLimiter.RateLimiter
    return SharedRateLimit.of({
      limit: (client, job, rate) =>
        Effect.map(runners, (count) => {
          // One start per slot of interval × runners / limit: evenly paced, so any span of one interval holds
          // at most `limit` starts (a window of `limit` starts at once would allow twice that across a boundary).
          const slot = Duration.millis(rate.intervalMs * Math.max(1, count) / rate.limit)
          const wait = (request: HttpClientRequest.HttpClientRequest) => {
            const key = rate.perOrigin ? `${job}|${originOf(request.url)}` : job
            return limiter.consume({ key, limit: 1, window: slot, onExceeded: "delay", algorithm: "fixed-window" })
              .pipe(
                Effect.flatMap(({ delay }) => {
                  if (Duration.isZero(delay)) return Effect.succeed(request)
                  const ms = Duration.toMillis(delay)
                  return Effect.as(
                    Effect.zipRight(
                      Effect.sleep(delay),
                      Effect.sync(() => {
                        const end = (request as unknown as Record<symbol, number | undefined>)[attemptDeadline]
                        if (end !== undefined) (request as unknown as Record<symbol, number>)[attemptDeadline] = end + ms
                      })
                    ),
                    request
                  )
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
 * The limit shared exactly through Redis (`redis://host:port`): every
 * runner consumes from the same windows.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerRedis = (url: string): Layer.Layer<SharedRateLimit> =>
  Layer.effect(SharedRateLimit, make(Effect.succeed(1))).pipe(
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
    Effect.flatMap(Effect.context<R>(), (context) => make(Effect.provide(runners, context)))
  ).pipe(Layer.provide(RateLimiter.layer), Layer.provide(RateLimiter.layerStoreMemory))
