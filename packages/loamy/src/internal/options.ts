/**
 * The options of the plain-function doors: the core's options, with
 * durations as milliseconds or text, decoded once at the door by the core's
 * decoder so a wrong value fails before anything is sent (or posted to the
 * worker). Its types are public (see `index.ts`), so the module is not
 * marked internal as a whole: the published `.d.ts` keeps its imports.
 */
import { LoamyError, Options as Options_, type Progress } from "@loamy/core"
import * as Result from "effect/Result"

/**
 * The core's options with its durations as the plain doors take them:
 * milliseconds, or text in the core's one duration grammar (`"5s"`,
 * `"250ms"`, `"2m"`, `"5 seconds"`); every other field is the core's own.
 */
type Plain<T, K extends keyof T> = Omit<T, K> & { readonly [P in K]?: number | string | undefined }

/** Public as `loamy`'s `RetryOptions`. */
export type RetryOptions = Plain<Options_.RetryOptions, "baseDelay" | "maxDelay" | "maxRetryAfter">

/** Public as `loamy`'s `RateLimitOptions`. */
export type RateLimitOptions = Omit<Options_.RateLimitOptions, "interval"> & { readonly interval: number | string }

/** Public as `loamy`'s `Options`. */
export type Options = Omit<Plain<Options_.Options, "timeout" | "deadline">, "retry" | "rateLimit"> & {
  readonly retry?: number | RetryOptions | undefined
  /** Also the text `"N/INTERVAL"` (`"10/1s"`, `"5/s"`). */
  readonly rateLimit?: RateLimitOptions | string | undefined
}

/** Public as `loamy`'s `PromiseOptions`: `Options` plus an `AbortSignal` and progress reports. */
export interface PromiseOptions extends Options {
  /** Aborting it interrupts the requests in flight and rejects with an `AbortError`. */
  readonly signal?: AbortSignal | undefined
  /**
   * Called with the call's progress (done, total, ok, failed, in flight,
   * elapsed) at its start, every `progressInterval` while it runs, and once
   * at its end; never per request. An exception it throws is reported once
   * as a process warning and the reports stop; the batch goes on.
   */
  readonly onProgress?: ((progress: Progress.Progress) => void) | undefined
  /** Milliseconds between progress reports. Default 250. */
  readonly progressInterval?: number | undefined
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
