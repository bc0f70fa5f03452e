/**
 * Retrying an attempt: which outcomes are worth another attempt, which
 * requests are safe to repeat, and how long to wait (full-jitter exponential
 * backoff, or the server's `Retry-After`, never past the deadline).
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import type { ResolvedRetry } from "../Options.js"
import type { RequestMap } from "../RequestMap.js"
import type { Outcome } from "./body.js"

const idempotentMethods: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"])

/** Seconds or an HTTP date, as milliseconds from `now`. @internal */
export const parseRetryAfter = (value: string | ReadonlyArray<string> | undefined, now: number): number | undefined => {
  if (typeof value !== "string") return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const at = Date.parse(trimmed)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

/** Retries only requests that are safe to repeat, unless the caller says otherwise. @internal */
export const mayRetry = (retry: ResolvedRetry, request: RequestMap): boolean => {
  if (retry.nonIdempotent || idempotentMethods.has(request.httpOp)) return true
  if (request.headers === undefined) return false
  for (const name in request.headers) if (name.toLowerCase() === "idempotency-key") return true
  return false
}

const isRetryable = (retry: ResolvedRetry, outcome: Outcome): boolean => {
  const error = outcome.error
  if (error !== undefined) {
    if (error._tag === "TimeoutError") return true
    if (error._tag === "TransportError") return error.code !== "ENOTFOUND" && error.reason !== "Tls"
    if (error._tag !== "BodyDecodeError") return false
  }
  return retry.statuses.includes(outcome.statusCode)
}

/** The wait before the next attempt, or none to stop retrying. */
const nextDelay = (
  retry: ResolvedRetry,
  deadlineAt: number | undefined,
  outcome: Outcome,
  retryIndex: number
): Effect.Effect<Option.Option<number>> =>
  Effect.gen(function*() {
    const now = yield* Clock.currentTimeMillis
    let delay: number
    const retryAfter = outcome.statusCode === 0 ? undefined : parseRetryAfter(outcome.headers["retry-after"], now)
    if (retryAfter !== undefined) {
      if (retryAfter > retry.maxRetryAfterMs) return Option.none()
      delay = retryAfter
    } else {
      const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** retryIndex)
      delay = yield* Random.nextRange(0, ceiling)
    }
    // No point waiting for an attempt the deadline would cut off: keep what we have.
    if (deadlineAt !== undefined && now + delay >= deadlineAt) return Option.none()
    return Option.some(delay)
  })

/**
 * Runs `attempt` until its outcome is not worth retrying or the attempts run
 * out; the last outcome is kept either way.
 *
 * @internal
 */
export const withRetries = (
  attempt: Effect.Effect<Outcome>,
  retry: ResolvedRetry,
  deadlineAt: number | undefined
): Effect.Effect<Outcome> => {
  const failing = Effect.flatMap(attempt, (outcome) =>
    isRetryable(retry, outcome) ? Effect.fail(outcome) : Effect.succeed(outcome))
  const schedule = Schedule.identity<Outcome>().pipe(
    Schedule.intersect(Schedule.recurs(retry.attempts - 1)),
    Schedule.mapEffect(([outcome, retryIndex]) => nextDelay(retry, deadlineAt, outcome, retryIndex)),
    Schedule.whileOutput(Option.isSome),
    Schedule.addDelay((delay) => Duration.millis(Option.getOrElse(delay, () => 0)))
  )
  return Effect.merge(Effect.retry(failing, schedule))
}

/**
 * Pauses per origin after a 429 or 503 with `Retry-After`: every attempt that
 * meets one pauses the origin, whether or not it is retried itself (a POST,
 * or its last attempt), so the queue behind it waits too.
 *
 * @internal
 */
export const makeOriginPauses = (retry: ResolvedRetry) => {
  const pauses = new Map<string, number>()
  const wait = (origin: string): Effect.Effect<void> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const until = pauses.get(origin)
      if (until === undefined) return Effect.void
      if (until <= now) {
        pauses.delete(origin)
        return Effect.void
      }
      return Effect.sleep(until - now)
    })
  const note = (outcome: Outcome, origin: string): Effect.Effect<void> => {
    if (outcome.statusCode !== 429 && outcome.statusCode !== 503) return Effect.void
    const header = outcome.headers["retry-after"]
    if (header === undefined) return Effect.void
    return Effect.map(Clock.currentTimeMillis, (now) => {
      const retryAfter = parseRetryAfter(header, now)
      if (retryAfter === undefined || retryAfter > retry.maxRetryAfterMs) return
      pauses.set(origin, Math.max(pauses.get(origin) ?? 0, now + retryAfter))
    })
  }
  return { wait, note }
}
