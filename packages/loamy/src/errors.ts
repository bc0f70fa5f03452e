/**
 * The errors the plain-function doors add to the core's: an aborted call, a
 * synchronous call that waited too long, and a worker thread that died.
 *
 * @since 0.1.0
 */

/**
 * The `signal` passed to `sendRequests` was aborted; the requests still in
 * flight were interrupted. `cause` is the signal's `reason`.
 *
 * @since 0.1.0
 * @category errors
 */
export class AbortError extends Error {
  override readonly name = "AbortError"
  readonly _tag = "AbortError"
  constructor(options?: { readonly cause?: unknown }) {
    super("The request batch was aborted", options)
  }
}

/**
 * @since 0.1.0
 * @category refinements
 */
export const isAbortError = (u: unknown): u is AbortError => u instanceof AbortError

/**
 * A synchronous call waited longer than its bound (the `deadline` plus a
 * margin, or the default wait). The worker was told to abort the batch.
 *
 * @since 0.1.0
 * @category errors
 */
export class SyncTimeoutError extends Error {
  override readonly name = "SyncTimeoutError"
  readonly _tag = "SyncTimeoutError"
  constructor(readonly waitedMs: number) {
    super(`The synchronous call got no answer from its worker thread within ${waitedMs} ms; the batch was aborted`)
  }
}

/**
 * @since 0.1.0
 * @category refinements
 */
export const isSyncTimeoutError = (u: unknown): u is SyncTimeoutError => u instanceof SyncTimeoutError

/**
 * The worker thread behind the synchronous door failed to start or stopped
 * during the call. The next call starts a fresh worker.
 *
 * @since 0.1.0
 * @category errors
 */
export class WorkerError extends Error {
  override readonly name = "WorkerError"
  readonly _tag = "WorkerError"
  constructor(readonly detail: string, options?: { readonly cause?: unknown }) {
    super(`loamy's worker thread ${detail}`, options)
  }
}

/**
 * @since 0.1.0
 * @category refinements
 */
export const isWorkerError = (u: unknown): u is WorkerError => u instanceof WorkerError
