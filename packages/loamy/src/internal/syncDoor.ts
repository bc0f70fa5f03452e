/**
 * The synchronous door: `sendRequestsSync` and the original's `Clump` check
 * the requests and options on the calling thread, then block on the worker
 * (`sync.ts`) until the batch is done; `warmUpSync` starts that worker early.
 *
 * Its functions and `Clump` are public (re-exported by `index.ts`), so the
 * module is not marked internal as a whole.
 */
import { LoamyError, Options as CoreOptions, RequestMap } from "@loamy/core"
import * as Result from "effect/Result"
// Types only (erased): the door's signatures keep the names `index.ts` documents them with.
import type { Options, RequestInput, RequestResponse } from "../index.js"
import { isIterable, notIterable } from "./input.js"
import * as options_ from "./options.js"
import * as sync from "./sync.js"

/**
 * Sends every request concurrently and returns one `RequestResponse` per
 * request, in input order, without a Promise: the calling thread blocks
 * until the batch is done. The requests run on a worker thread that is
 * started on first use and keeps its connections between calls.
 *
 * Throws at once, sending nothing, for bad input. Never loses a finished
 * result to its wait and never waits forever: with a `deadline`, the wait
 * is bounded by the deadline plus 5 seconds (the worker folds what did not
 * finish into `DeadlineError`s at the deadline); without one, the call runs
 * as long as its requests' own bounds (`timeout` per attempt, retries) make
 * it, as `sendRequests` does, and a call with `timeout: Infinity` and no
 * deadline gets a deadline of 5 minutes. Past the wait bound, the batch is
 * aborted and a `SyncTimeoutError` thrown. A worker that dies, or shows no
 * sign of life for 30 seconds, throws a `WorkerError`; the next call starts
 * a new one. A response whose body the worker cannot pass to this thread
 * (nested too deeply to be cloned) gets a `BodyDecodeError` with reason
 * `NotCarried`; the other responses are unaffected.
 *
 * @since 0.1.0
 * @category sending
 */
export const sendRequestsSync = (requests: Iterable<RequestInput>, options?: Options): Array<RequestResponse> => {
  const checked = options_.check(options)
  if (Result.isFailure(checked)) throw checked.failure
  return sendSync(requests, checked.success)
}

const sendSync = (requests: Iterable<RequestInput>, options: CoreOptions.Resolved): Array<RequestResponse> => {
  if (!isIterable(requests)) throw notIterable(requests)
  const valid = RequestMap.validateAll(requests, options)
  if (Result.isFailure(valid)) throw valid.failure
  const bounded = sync.withBound(options)
  return sync.call(valid.success, bounded, sync.waitFor(bounded))
}

/**
 * Starts the synchronous door's worker thread in the background, so that the
 * first `sendRequestsSync` does not wait for it to load (it is otherwise
 * started by the first call). Does not block and does not keep the process
 * alive.
 *
 * @since 0.1.0
 * @category lifecycle
 */
export const warmUpSync = (): void => sync.warmUp()

/**
 * The original loamy's shape: a clump of requests whose `sendRequests`
 * returns the responses synchronously.
 *
 * ```ts
 * import { Clump } from "loamy"
 *
 * const responses = new Clump(requests, { concurrency: 20 }).sendRequests({ returnExceptions: true })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export class Clump {
  constructor(readonly requests: Iterable<RequestInput>, readonly options: Options = {}) {}

  /**
   * Sends the clump and returns the responses (see `sendRequestsSync`).
   * `returnExceptions` here overrides the one in the clump's options; it is
   * the only option taken here, checked as every door checks options (the
   * original's `return_exceptions` is refused, naming `returnExceptions`).
   *
   * @since 0.1.0
   */
  sendRequests(options?: { readonly returnExceptions?: boolean | undefined }): Array<RequestResponse> {
    if (options === undefined) return sendRequestsSync(this.requests, this.options)
    if (typeof options !== "object" || options === null) {
      throw new LoamyError.InvalidOptionsError({
        option: "options",
        detail: `must be an object such as { returnExceptions: false }, got ${options === null ? "null" : typeof options}`
      })
    }
    const own = options_.check(options)
    if (Result.isFailure(own)) throw own.failure
    for (const key of Object.keys(options)) {
      if (key !== "returnExceptions") {
        throw new LoamyError.InvalidOptionsError({
          option: key,
          detail: "Clump's sendRequests takes returnExceptions only; give the other options to new Clump(requests, options)"
        })
      }
    }
    const base = options_.check(this.options)
    if (Result.isFailure(base)) throw base.failure
    const given = Object.hasOwn(options, "returnExceptions") && options.returnExceptions !== undefined
    return sendSync(
      this.requests,
      !given || base.success.failFast === own.success.failFast
        ? base.success
        : CoreOptions.unsafeMarkResolved({ ...base.success, failFast: own.success.failFast })
    )
  }
}
