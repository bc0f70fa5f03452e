/**
 * The options of the plain-function doors: the core's options, typed with
 * durations in milliseconds, decoded once at the door by the core's decoder
 * so a wrong value fails before anything is sent (or posted to the worker).
 *
 * @internal
 */
import { LoamyError, Options as Options_ } from "@loamy/core"
import * as Either from "effect/Either"

/** The core's options with its durations typed as milliseconds; every other field is the core's own. */
type Millis<T, K extends keyof T> = Omit<T, K> & { readonly [P in K]?: number | undefined }

/** @internal */
export type RetryOptions = Millis<Options_.RetryOptions, "baseDelay" | "maxDelay" | "maxRetryAfter">

/** @internal */
export type RateLimitOptions = Omit<Options_.RateLimitOptions, "interval"> & { readonly interval: number }

/** @internal */
export type Options = Omit<Millis<Options_.Options, "timeout" | "deadline">, "retry" | "rateLimit"> & {
  readonly retry?: number | RetryOptions | undefined
  readonly rateLimit?: RateLimitOptions | undefined
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
