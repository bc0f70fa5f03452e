/**
 * Retrying an attempt: which outcomes are worth another attempt, which
 * requests are safe to repeat, and how long to wait (full-jitter exponential
 * backoff, or the server's `Retry-After`, never past the deadline).
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
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

/** The wait before the next attempt, or undefined to stop retrying (the outcome is kept). */
const nextDelay = (
  retry: ResolvedRetry,
  deadlineAt: number | undefined,
  outcome: Outcome,
  retryIndex: number
): Effect.Effect<number | undefined> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) => {
    const retryAfter = outcome.statusCode === 0 ? undefined : parseRetryAfter(outcome.headers["retry-after"], now)
    // No point waiting for an attempt the deadline would cut off: keep what we have.
    const within = (delay: number) => deadlineAt !== undefined && now + delay >= deadlineAt ? undefined : delay
    if (retryAfter !== undefined) {
      return Effect.succeed(retryAfter > retry.maxRetryAfterMs ? undefined : within(retryAfter))
    }
    const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** retryIndex)
    return Effect.map(Random.nextBetween(0, ceiling), within)
  })

/**
 * Runs `attempt` until its outcome is not worth retrying or the attempts run
 * out; the last outcome is kept either way. A plain loop: one attempt, then
 * a wait (full-jitter backoff or `Retry-After`) and the next.
 *
 * @internal
 */
export const withRetries = (
  attempt: Effect.Effect<Outcome>,
  retry: ResolvedRetry,
  deadlineAt: number | undefined
): Effect.Effect<Outcome> => {
  const loop = (retryIndex: number): Effect.Effect<Outcome> =>
    Effect.flatMap(attempt, (outcome) => {
      if (retryIndex + 1 >= retry.attempts || !isRetryable(retry, outcome)) return Effect.succeed(outcome)
      return Effect.flatMap(nextDelay(retry, deadlineAt, outcome, retryIndex), (delay) =>
        delay === undefined ? Effect.succeed(outcome) : Effect.andThen(Effect.sleep(delay), loop(retryIndex + 1)))
    })
  return loop(0)
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
