/**
 * The options of the plain-function doors: the core's options, typed with
 * durations in milliseconds, decoded once at the door by the core's decoder
 * so a wrong value fails before anything is sent (or posted to the worker).
 *
 * @internal
 */
import { LoamyError, Options as Options_ } from "@loamy/core"
import * as Either from "effect/Either"

/** @internal */
export interface RetryOptions {
  readonly attempts?: number | undefined
  readonly baseDelay?: number | undefined
  readonly maxDelay?: number | undefined
  readonly maxRetryAfter?: number | undefined
  readonly statuses?: ReadonlyArray<number> | undefined
  readonly nonIdempotent?: boolean | undefined
}

/** @internal */
export interface RateLimitOptions {
  readonly limit: number
  readonly interval: number
  readonly perOrigin?: boolean | undefined
}

/** @internal */
export interface Options {
  readonly concurrency?: number | undefined
  readonly returnExceptions?: boolean | undefined
  readonly timeout?: number | undefined
  readonly deadline?: number | undefined
  readonly retry?: number | RetryOptions | undefined
  readonly rateLimit?: RateLimitOptions | undefined
  readonly maxBodyBytes?: number | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly maxRedirects?: number | undefined
  readonly sensitiveHeaders?: ReadonlyArray<string> | undefined
}

/**
 * Decodes a door's options with the core's one decoder (unknown names,
 * types, ranges, defaults), the Promise door's own `signal` set aside.
 *
 * @internal
 */
export const check = (
  options: unknown,
  withSignal = false
): Either.Either<Options_.Resolved, LoamyError.InvalidOptionsError> => {
  if (withSignal && typeof options === "object" && options !== null && "signal" in options) {
    const { signal, ...rest } = options as { signal?: unknown }
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      return Either.left(
        new LoamyError.InvalidOptionsError({ option: "signal", detail: "must be an AbortSignal" })
      )
    }
    return Options_.decode(rest)
  }
  return Options_.decode(options)
}
