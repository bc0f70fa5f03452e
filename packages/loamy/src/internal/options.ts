/**
 * The options of the plain-function doors: the core's options, typed with
 * durations in milliseconds, decoded once at the door by the core's decoder
 * so a wrong value fails before anything is sent (or posted to the worker).
 *
 * @internal
 */
import { LoamyError, Options as Options_, type Progress } from "@loamy/core"
import * as Result from "effect/Result"

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

/** The Promise door's own options, set aside before the core decodes the rest. @internal */
export interface PromiseExtras {
  readonly signal: AbortSignal | undefined
  readonly onProgress: ((progress: Progress.Progress) => void) | undefined
  readonly progressIntervalMs: number | undefined
}

const noExtras: PromiseExtras = { signal: undefined, onProgress: undefined, progressIntervalMs: undefined }

const refuse = (option: string, detail: string) => Result.fail(new LoamyError.InvalidOptionsError({ option, detail }))

/**
 * Decodes the Promise door's options: its own `signal`, `onProgress` and
 * `progressInterval` checked and set aside, the rest by the core's decoder.
 *
 * @internal
 */
export const checkPromise = (
  options: unknown
): Result.Result<readonly [Options_.Resolved, PromiseExtras], LoamyError.InvalidOptionsError> => {
  if (
    typeof options !== "object" || options === null ||
    !("signal" in options || "onProgress" in options || "progressInterval" in options)
  ) {
    return Result.map(Options_.decode(options), (resolved) => [resolved, noExtras] as const)
  }
  const { onProgress, progressInterval, signal, ...rest } = options as {
    signal?: unknown
    onProgress?: unknown
    progressInterval?: unknown
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) return refuse("signal", "must be an AbortSignal")
  if (onProgress !== undefined && typeof onProgress !== "function") {
    return refuse("onProgress", "must be a function taking a progress snapshot")
  }
  if (
    progressInterval !== undefined &&
    !(typeof progressInterval === "number" && progressInterval > 0 && Number.isFinite(progressInterval))
  ) {
    return refuse("progressInterval", "must be a positive number of milliseconds")
  }
  return Result.map(Options_.decode(rest), (resolved) =>
    [resolved, {
      signal: signal as AbortSignal | undefined,
      onProgress: onProgress as PromiseExtras["onProgress"],
      progressIntervalMs: progressInterval as number | undefined
    }] as const)
}

/**
 * Decodes the synchronous door's options with the core's one decoder
 * (unknown names, types, ranges, defaults).
 *
 * @internal
 */
export const check = (options: unknown): Result.Result<Options_.Resolved, LoamyError.InvalidOptionsError> => {
  if (typeof options === "object" && options !== null && ("onProgress" in options || "signal" in options)) {
    const option = "onProgress" in options ? "onProgress" : "signal"
    return refuse(
      option,
      `the synchronous door blocks its thread until the batch is done, so it cannot ${
        option === "signal" ? "be aborted" : "report progress"
      }; use sendRequests`
    )
  }
  // Exact numbers are `JSON.rawJSON` values, which the worker's structured clone cannot carry back.
  if (typeof options === "object" && options !== null && Object.hasOwn(options, "exactNumbers")) {
    if ((options as { exactNumbers?: unknown }).exactNumbers === true) {
      return refuse(
        "exactNumbers",
        "the synchronous door's worker hands results over by structured clone, which cannot carry exact numbers " +
          "(JSON.rawJSON values); use sendRequests"
      )
    }
  }
  return Options_.decode(options)
}
