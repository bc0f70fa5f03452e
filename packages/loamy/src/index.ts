/**
 * Send a list of HTTP requests concurrently and get one typed result per
 * request, in input order: `await sendRequests(...)` from async code, or
 * `sendRequestsSync(...)` from code that cannot await.
 *
 * ```ts
 * import { sendRequests } from "loamy"
 *
 * const responses = await sendRequests([
 *   { url: "https://example.com/", httpOp: "GET" },
 *   { url: "https://example.com/items", httpOp: "POST", body: { name: "x" } }
 * ], { concurrency: 10, timeout: 5_000 })
 * ```
 *
 * @since 0.1.0
 */
import {
  LoamyError,
  type Progress as CoreProgress,
  type RequestMap,
  RequestResponse as CoreResponse
} from "@loamy/core"
import * as Unchecked from "@loamy/core/Unchecked"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Result from "effect/Result"
import { AbortError } from "./errors.js"
import { isIterable, notIterable } from "./internal/input.js"
import * as options_ from "./internal/options.js"
import * as runtime from "./internal/runtime.js"
import { splitSignals } from "./internal/signals.js"
import * as streaming from "./internal/streaming.js"
import * as sync from "./internal/sync.js"

export {
  /**
   * @since 0.1.0
   * @category errors
   */
  AbortError,
  /**
   * @since 0.1.0
   * @category refinements
   */
  isAbortError,
  /**
   * @since 0.1.0
   * @category refinements
   */
  isSyncTimeoutError,
  /**
   * @since 0.1.0
   * @category refinements
   */
  isWorkerError,
  /**
   * @since 0.1.0
   * @category errors
   */
  SyncTimeoutError,
  /**
   * @since 0.1.0
   * @category errors
   */
  WorkerError
} from "./errors.js"

/**
 * One request. Field names are the core's camelCase ones; the original's
 * snake_case `http_op` and `query_params` are accepted too.
 *
 * @since 0.1.0
 * @category models
 */
export type RequestInput = RequestMap.RequestMapInput

/**
 * A request of `sendRequests`: a `RequestInput` that may carry an
 * `AbortSignal` of its own, which aborts that request only (its response
 * gets an `AbortedError`; the others go on). No other door takes one: a
 * signal cannot cross a thread or a file.
 *
 * @since 1.1.0
 * @category models
 */
export type PromiseRequestInput = RequestInput & { readonly signal?: AbortSignal | undefined }

/**
 * One result per request, in input order.
 *
 * @since 0.1.0
 * @category models
 */
export type RequestResponse = CoreResponse.RequestResponse

/**
 * Any error folded into a `RequestResponse`'s `error`.
 *
 * @since 0.1.0
 * @category errors
 */
export type RequestError = LoamyError.RequestError

/**
 * Retrying failed attempts; durations in milliseconds, or text such as
 * `"250ms"` or `"5s"`.
 *
 * @since 0.1.0
 * @category models
 */
export type RetryOptions = options_.RetryOptions

/**
 * Pacing; `interval` in milliseconds, or text such as `"1s"`.
 *
 * @since 0.1.0
 * @category models
 */
export type RateLimitOptions = options_.RateLimitOptions

/**
 * What `cookies` takes besides `true`: a tough-cookie `CookieJar` (or
 * anything with its promise-returning `getCookieString` and `setCookie`),
 * read before the call and holding its cookies after it. The Promise door
 * only: the synchronous door sends from a worker thread and takes `true`.
 *
 * @since 1.1.0
 * @category models
 */
export type CookieJar = options_.CookieJar

/**
 * The options of both doors. Durations are milliseconds, or text in the
 * core's one duration grammar (`"5s"`, `"250ms"`, `"2m"`, `"5 seconds"`).
 *
 * @since 0.1.0
 * @category models
 */
export type Options = options_.Options

/**
 * How far a call has got (see `PromiseOptions.onProgress`).
 *
 * @since 0.3.0
 * @category models
 */
export type Progress = CoreProgress.Progress

/**
 * `sendRequests`' options: `Options` plus an `AbortSignal` and progress
 * reports.
 *
 * @since 0.1.0
 * @category models
 */
export type PromiseOptions = options_.PromiseOptions

/**
 * Sends every request concurrently and resolves with one `RequestResponse`
 * per request, in input order. Failures are folded into their response
 * unless `returnExceptions` is `false`, in which case the first failure
 * rejects the call and interrupts the rest.
 *
 * Rejects before sending anything when a request or an option is not valid
 * (`InvalidInputError` naming the index and field, `InvalidOptionsError`).
 *
 * @since 0.1.0
 * @category sending
 */
export const sendRequests = (
  requests: Iterable<PromiseRequestInput>,
  options?: PromiseOptions
): Promise<Array<RequestResponse>> => {
  // A Promise-returning function rejects, it never throws: an options getter or an iterable that throws (a
  // generator that fails, read as the call starts) rejects the call, as bad input does.
  try {
    return start(requests, options)
  } catch (error) {
    return Promise.reject(error)
  }
}

const start = (
  requests: Iterable<PromiseRequestInput>,
  options: PromiseOptions | undefined
): Promise<Array<RequestResponse>> => {
  const checked = options_.checkPromise(options)
  if (Result.isFailure(checked)) return Promise.reject(checked.failure)
  if (!isIterable(requests)) return Promise.reject(notIterable(requests))
  const [resolved, { onProgress, progressIntervalMs, signal }] = checked.success
  if (signal?.aborted) return Promise.reject(new AbortError({ cause: signal.reason }))
  const split = splitSignals(requests)
  if (Result.isFailure(split)) return Promise.reject(split.failure)
  // The caller's requests, a `signal` taken off some: the core checks each of them next, whatever they are.
  let effect = runtime.send(split.success.requests as ReadonlyArray<RequestInput>, resolved)
  if (split.success.signals !== undefined) effect = Effect.provideService(effect, Unchecked.RequestSignals, split.success.signals)
  if (onProgress !== undefined) effect = streaming.reportingTo(onProgress, progressIntervalMs)(effect)
  return new Promise((resolve, reject) => {
    const fiber = runtime.runtime().runFork(effect)
    const onAbort = () => fiber.interruptUnsafe()
    signal?.addEventListener("abort", onAbort, { once: true })
    fiber.addObserver((exit) => {
      signal?.removeEventListener("abort", onAbort)
      if (Exit.isSuccess(exit)) return resolve(exit.value as Array<RequestResponse>)
      if (signal?.aborted && Cause.hasInterruptsOnly(exit.cause)) {
        return reject(new AbortError({ cause: signal.reason }))
      }
      reject(Cause.squash(exit.cause))
    })
  })
}

export {
  /**
   * @since 1.1.0
   * @category models
   */
  type RequestSource,
  /**
   * @since 1.1.0
   * @category models
   */
  type Streamed,
  /**
   * @since 1.1.0
   * @category models
   */
  type StreamOptions,
  /**
   * @since 1.1.0
   * @category sending
   */
  streamRequests
} from "./internal/streaming.js"

/**
 * An item of `streamRequests` that failed its check and was not sent: its
 * `error` is the `InvalidInputError` naming the index and field,
 * `requestMap` the item as it arrived.
 *
 * @since 1.1.0
 * @category models
 */
export type Refused = CoreResponse.Refused

/**
 * @since 1.1.0
 * @category refinements
 */
export const isRefused: (response: RequestResponse | Refused) => response is Refused = CoreResponse.isRefused

export {
  /**
   * @since 0.1.0
   * @category constructors
   */
  Clump,
  /**
   * @since 0.1.0
   * @category sending
   */
  sendRequestsSync,
  /**
   * @since 0.1.0
   * @category lifecycle
   */
  warmUpSync
} from "./internal/syncDoor.js"

/**
 * Closes the shared connection pool and stops the synchronous door's worker.
 * Not needed before exiting (neither keeps the process alive); the next call
 * opens them again.
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const close = async (): Promise<void> => {
  await Promise.all([runtime.dispose(), sync.stop()])
}

/**
 * @since 0.1.0
 * @category errors
 */
export const InvalidOptionsError = LoamyError.InvalidOptionsError

/**
 * @since 0.1.0
 * @category errors
 */
export type InvalidOptionsError = LoamyError.InvalidOptionsError

/**
 * @since 0.1.0
 * @category refinements
 */
export const isInvalidOptionsError = (u: unknown): u is InvalidOptionsError => u instanceof LoamyError.InvalidOptionsError

export {
  /**
   * @since 1.1.0
   * @category errors
   */
  AbortedError,
  /**
   * @since 0.1.0
   * @category errors
   */
  BodyDecodeError,
  /**
   * @since 0.1.0
   * @category errors
   */
  BodyTooLargeError,
  /**
   * @since 0.1.0
   * @category errors
   */
  DeadlineError,
  /**
   * @since 0.1.0
   * @category errors
   */
  InvalidInputError,
  /**
   * @since 1.1.0
   * @category errors
   */
  HttpStatusError,
  /**
   * @since 0.1.0
   * @category errors
   */
  InvalidRequestError,
  /**
   * @since 0.1.0
   * @category refinements
   */
  isInvalidInputError,
  /**
   * @since 0.1.0
   * @category refinements
   */
  isRequestError,
  /**
   * @since 1.1.0
   * @category errors
   */
  DownloadError,
  /**
   * @since 0.1.0
   * @category errors
   */
  RedirectError,
  /**
   * @since 1.1.0
   * @category errors
   */
  RequestBodyError,
  /**
   * @since 0.1.0
   * @category errors
   */
  TimeoutError,
  /**
   * @since 0.1.0
   * @category errors
   */
  TransportError
} from "@loamy/core/LoamyError"
