/**
 * The `rateLimit` option: Effect's fixed-window `RateLimiter`, one for the
 * call or one per origin, living in the call's scope.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as RateLimiter from "effect/RateLimiter"
import * as Scope from "effect/Scope"
import type { ResolvedRateLimit } from "../Options.js"

/** Waits for a slot for `origin`; undefined when there is no limit. @internal */
export const makeLimiter = (
  rateLimit: ResolvedRateLimit | undefined,
  scope: Scope.Scope | undefined
): Effect.Effect<((origin: string) => Effect.Effect<void>) | undefined> => {
  if (rateLimit === undefined) return Effect.succeed(undefined)
  if (scope === undefined) return Effect.dieMessage("loamy: a rate limit needs a scope to live in")
  const make = Scope.extend(
    RateLimiter.make({ limit: rateLimit.limit, interval: rateLimit.intervalMs, algorithm: "fixed-window" }),
    scope
  )
  if (!rateLimit.perOrigin) {
    return Effect.map(make, (limiter) => () => limiter(Effect.void))
  }
  return Effect.map(
    Effect.cachedFunction((_origin: string) => make),
    (limiterOf) => (origin: string) => Effect.flatMap(limiterOf(origin), (limiter) => limiter(Effect.void))
  )
}
