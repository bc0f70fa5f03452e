/**
 * The Promise door's stream (`streamRequests`): the caller's requests (an
 * array, an iterable, an async iterable) as an Effect stream, sent by the
 * core's `Clump.streamFrom` (its one scheduler, its one rule for a bad item)
 * on the door's runtime, and handed to `for await` a chunk at a time. Nothing
 * runs until the first `next()`; `return()` (a `break` out of the loop) or
 * the signal interrupts what is in flight and closes what the call opened,
 * the caller's iterator included.
 *
 * Its types and `streamRequests` are public (re-exported by `index.ts`), so
 * the module is not marked internal as a whole.
 */
import {
  Clump,
  LoamyError,
  Options as CoreOptions,
  Progress as CoreProgress,
  type RequestMap,
  type RequestResponse
} from "@loamy/core"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import type * as HttpClient from "effect/http/HttpClient"
import * as Pull from "effect/Pull"
import * as References from "effect/References"
import * as Result from "effect/Result"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { AbortError } from "../errors.js"
import * as options_ from "./options.js"
import * as runtime from "./runtime.js"

/** Public as `loamy`'s `StreamOptions`: `PromiseOptions` plus the order of the output. */
export interface StreamOptions extends options_.PromiseOptions {
  /**
   * Hand the responses on in input order: a finished one waits in the
   * reorder buffer (`reorderBuffer`, 1,000 by default) for those before it
   * while the requests go on. Default false: as they finish.
   */
  readonly ordered?: boolean | undefined
}

/**
 * Public as `loamy`'s `Streamed`: one response of `streamRequests` and the
 * position of its request in the input (0 for the first), as the CLI's
 * records carry it. `X` is what else a response may be:
 * `RequestResponse.Refused` for an item that failed its check (narrow with
 * `isRefused`), nothing with `returnExceptions: false`.
 */
export interface Streamed<X = RequestResponse.Refused> {
  readonly index: number
  readonly response: RequestResponse.RequestResponse | X
}

/**
 * Public as `loamy`'s `RequestSource`: what `streamRequests` reads, request
 * objects or strings of JSON text (the lines of a JSONL file), from an
 * array, an iterable or an async iterable.
 */
export type RequestSource =
  | Iterable<RequestMap.RequestMapInput | string>
  | AsyncIterable<RequestMap.RequestMapInput | string>

/** A response (or a refused item) and the position of its request in the input. @internal */
type Item = Streamed<RequestResponse.Refused>

/** Items read from a synchronous iterable at a time: a read-ahead of at most this many. */
const chunkSize = 256

/** The caller's iterator as the iterable iterator Effect reads, so that it can be closed (`return`) here. */
const fromIterator = (iterable: Iterable<unknown>): Stream.Stream<unknown> =>
  Stream.suspend(() => {
    const iterator = iterable[Symbol.iterator]()
    const iterableIterator: IterableIterator<unknown> = {
      next: () => iterator.next(),
      [Symbol.iterator]() {
        return this
      }
    }
    return Stream.ensuring(
      Stream.fromIteratorSucceed(iterableIterator, chunkSize),
      Effect.sync(() => {
        try {
          iterator.return?.()
        } catch {
          // Closing it failed: the call is over either way.
        }
      })
    )
  })

/**
 * The requests as a stream: an array as it is (one chunk, nothing copied),
 * a synchronous iterable a chunk at a time, an async iterable an item at a
 * time (closed with the stream). What the caller's iterator throws ends the
 * stream with that error.
 *
 * @internal
 */
export const source = (requests: Iterable<unknown> | AsyncIterator<unknown>): Stream.Stream<unknown, unknown> => {
  if (Array.isArray(requests)) return Stream.fromArray(requests)
  if (!(Symbol.iterator in requests)) {
    const iterator = requests
    return Stream.fromAsyncIterable({ [Symbol.asyncIterator]: () => iterator }, (error) => error)
  }
  return fromIterator(requests)
}

/**
 * An async source's iterator, taken at once: a source that produces whether
 * or not anyone listens yet (`readline` on a file) buffers for it from now
 * on rather than losing what comes before the first `next()`.
 *
 * @internal
 */
export const start = (requests: Iterable<unknown> | AsyncIterable<unknown>): Iterable<unknown> | AsyncIterator<unknown> =>
  Array.isArray(requests) || !(Symbol.asyncIterator in requests)
    ? requests as Iterable<unknown>
    : requests[Symbol.asyncIterator]()

/** Whether `u` is something `streamRequests` reads: an iterable or an async iterable object. @internal */
export const isSource = (u: unknown): u is Iterable<unknown> | AsyncIterable<unknown> =>
  typeof u === "object" && u !== null &&
  (typeof (u as Iterable<unknown>)[Symbol.iterator] === "function" ||
    typeof (u as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function")

/** What `streamRequests` runs with, once its options are checked. @internal */
export interface Checked {
  readonly resolved: CoreOptions.Resolved
  readonly extras: options_.PromiseExtras
  readonly ordered: boolean
}

/** The stream door's options: `ordered` set aside, the rest as the Promise door reads them. @internal */
export const check = (options: unknown): Result.Result<Checked, LoamyError.InvalidOptionsError> => {
  let rest = options
  let ordered = false
  if (typeof options === "object" && options !== null && Object.hasOwn(options, "ordered")) {
    const { ordered: given, ...others } = options as { readonly ordered?: unknown }
    if (given !== undefined && typeof given !== "boolean") {
      return Result.fail(new LoamyError.InvalidOptionsError({ option: "ordered", detail: "must be true or false" }))
    }
    ordered = given === true
    rest = others
  }
  return Result.map(options_.checkPromise(rest), ([resolved, extras]) => ({ resolved, extras, ordered }))
}

/** The call as a stream of items, on the door's runtime (Effect's tracer off, as for `sendRequests`). */
const responses = (requests: Iterable<unknown> | AsyncIterator<unknown>, checked: Checked) => {
  const { extras, ordered, resolved } = checked
  const sent = Stream.provideService(
    Clump.streamFrom(source(requests), ordered ? { ...resolved, ordered: true } : resolved),
    References.TracerEnabled,
    false
  )
  return extras.onProgress === undefined ? sent : reportingTo(extras.onProgress, extras.progressIntervalMs)(sent)
}

/**
 * Calls `onProgress` with the core's snapshots of an effect or a stream; a
 * callback that throws is warned about once and called no more.
 *
 * @internal
 */
export const reportingTo = (
  onProgress: (progress: CoreProgress.Progress) => void,
  intervalMs: number | undefined
) => {
  let broken = false
  return CoreProgress.reportTo((progress) =>
    Effect.sync(() => {
      if (broken) return
      try {
        onProgress(progress)
      } catch (error) {
        broken = true
        process.emitWarning(
          `loamy: onProgress threw, so it will not be called again for this call: ${
            error instanceof Error ? error.message : String(error)
          }`,
          { code: "LOAMY_ON_PROGRESS" }
        )
      }
    }), { interval: intervalMs ?? 250 })
}

const done: IteratorReturnResult<undefined> = { done: true, value: undefined }

type Chunk = ReadonlyArray<Item>

/**
 * The iterator `streamRequests` returns: one run of the call, started by the
 * first `next()`. Calls to `next()` are answered in turn.
 *
 * @internal
 */
export class Responses implements AsyncIterableIterator<Item> {
  private buffer: Chunk = []
  private position = 0
  private readonly scope = Scope.makeUnsafe()
  private pull: Pull.Pull<Chunk, unknown> | undefined
  private fiber: Fiber.Fiber<unknown, unknown> | undefined
  /** Set once the run is over (done, failed, returned, aborted): later calls get `done`. */
  private finished = false
  /** Set by `return()`: later calls get `done`, whatever the signal does. */
  private returned = false
  /** The abort was reported (by one call's `AbortError`): later calls get `done`. */
  private abortReported = false
  private closing: Promise<void> | undefined
  /** The last call to `next()` still being answered. */
  private last: Promise<unknown> = Promise.resolve()
  private readonly failFast: boolean
  private readonly signal: AbortSignal | undefined

  private readonly requests: Iterable<unknown> | AsyncIterator<unknown>

  constructor(requests: Iterable<unknown> | AsyncIterable<unknown>, private readonly checked: Checked) {
    this.requests = start(requests)
    this.failFast = checked.resolved.failFast
    this.signal = checked.extras.signal
    this.signal?.addEventListener("abort", this.onAbort, { once: true })
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  next(): Promise<IteratorResult<Item, undefined>> {
    const buffered = this.take()
    if (buffered !== undefined) return Promise.resolve({ done: false, value: buffered })
    const answer = this.last.then(() => this.fill(), () => this.fill())
    this.last = answer
    return answer
  }

  /**
   * The next buffered item. Under `returnExceptions: false` an item with an
   * error ends the run, which the loop throws: it is not handed on, so no
   * refused item ever is (what `streamRequests`' type says there).
   */
  private take(): Item | undefined {
    while (this.position < this.buffer.length) {
      const item = this.buffer[this.position++]!
      if (this.failFast && item.response.error !== undefined) continue
      return item
    }
    return undefined
  }

  private async fill(): Promise<IteratorResult<Item, undefined>> {
    for (;;) {
      const buffered = this.take()
      if (buffered !== undefined) return { done: false, value: buffered }
      if (this.returned || this.abortReported) return done
      if (this.signal?.aborted) return this.aborted()
      if (this.finished) return done
      const exit = await this.run(this.pull ?? Effect.flatMap(this.open(), (pull) => pull))
      if (Exit.isSuccess(exit)) {
        this.buffer = exit.value
        this.position = 0
        continue
      }
      if (this.signal?.aborted && Cause.hasInterruptsOnly(exit.cause)) return this.aborted()
      if (this.finished) return done
      await this.close()
      if (Pull.isDoneCause(exit.cause)) return done
      throw Cause.squash(exit.cause)
    }
  }

  /** Starts the call in the iterator's scope: its stream's first pull. */
  private open(): Effect.Effect<Pull.Pull<Chunk, unknown>, never, HttpClient.HttpClient> {
    const stream: Stream.Stream<Item, unknown, HttpClient.HttpClient> = responses(this.requests, this.checked)
    return Effect.map(Effect.provideService(Stream.toPull(stream), Scope.Scope, this.scope), (pull) => {
      this.pull = pull
      return pull
    })
  }

  private run<A>(effect: Effect.Effect<A, unknown, HttpClient.HttpClient>): Promise<Exit.Exit<A, unknown>> {
    return new Promise((resolve) => {
      const fiber = runtime.runtime().runFork(effect)
      this.fiber = fiber
      fiber.addObserver((exit) => {
        if (this.fiber === fiber) this.fiber = undefined
        resolve(exit)
      })
    })
  }

  /** Ends the run: the pull in progress is interrupted, the scope closed (the requests in flight with it). */
  private close(): Promise<void> {
    if (this.closing !== undefined) return this.closing
    this.finished = true
    this.signal?.removeEventListener("abort", this.onAbort)
    this.buffer = []
    this.position = 0
    const fiber = this.fiber
    fiber?.interruptUnsafe()
    // Never started: the stream that closes an async source's iterator does not exist, so close it here.
    const requests = this.requests
    const unread = this.pull === undefined && fiber === undefined && !(Symbol.iterator in requests)
      ? Promise.resolve(requests.return?.()).catch(() => undefined)
      : undefined
    this.closing = runtime.runtime().runPromise(Scope.close(this.scope, Exit.void)).then(() => unread, () => unread)
      .then(() => undefined)
    return this.closing
  }

  private async aborted(): Promise<never> {
    this.abortReported = true
    await this.close()
    throw new AbortError({ cause: this.signal?.reason })
  }

  private readonly onAbort = (): void => {
    // The call waiting for a chunk (if any) sees the interruption and throws the `AbortError`.
    const fiber = this.fiber
    if (fiber !== undefined) fiber.interruptUnsafe()
    else void this.close()
  }

  /** Stops the run (a `break` out of `for await` calls it): what is in flight is interrupted, what was opened closed. */
  async return(): Promise<IteratorReturnResult<undefined>> {
    this.returned = true
    await this.close()
    return done
  }

  async throw(error?: unknown): Promise<IteratorReturnResult<undefined>> {
    await this.close()
    throw error
  }
}

/**
 * Public as `loamy`'s `streamRequests`. Sends the requests of an array, an
 * iterable or an async iterable (a file read line by line), any number of
 * them, and yields each response with its index as it finishes (or in input
 * order with `ordered: true`). Memory is bounded by the concurrency, not by
 * the input: the input is read as the requests go, and a response is held
 * only until the loop takes it.
 *
 * Each item is checked as it arrives (a string is one line of JSON): a bad
 * one is not sent and gets its own response, a `Refused` whose error is the
 * `InvalidInputError` naming its index and field. With `returnExceptions:
 * false`, the first failure (or bad item) is thrown by the loop instead, and
 * what is in flight is interrupted.
 *
 * Nothing is sent before the loop asks for the first response. Breaking out
 * of the loop (or the iterator's `return()`, or aborting `signal`, which
 * makes the loop throw an `AbortError`) interrupts the requests in flight
 * and closes what the call opened, the source's own iterator included.
 * Throws at once for bad options or a source that is not iterable.
 *
 * ```ts
 * import { createReadStream } from "node:fs"
 * import { createInterface } from "node:readline"
 * import { streamRequests } from "loamy"
 *
 * const lines = createInterface({ input: createReadStream("requests.jsonl"), crlfDelay: Infinity })
 * for await (const { index, response } of streamRequests(lines, { concurrency: 50 })) {
 *   console.log(index, response.statusCode, response.error?.message)
 * }
 * ```
 *
 * @since 1.1.0
 * @category sending
 */
export function streamRequests(
  requests: RequestSource,
  options: StreamOptions & { readonly returnExceptions: false }
): AsyncIterableIterator<Streamed<never>>
export function streamRequests(
  requests: RequestSource,
  options?: StreamOptions
): AsyncIterableIterator<Streamed>
export function streamRequests(
  requests: RequestSource,
  options?: StreamOptions
): AsyncIterableIterator<Streamed> {
  const checked = check(options)
  if (Result.isFailure(checked)) throw checked.failure
  if (!isSource(requests)) throw notASource(requests)
  if (checked.success.extras.signal?.aborted) {
    throw new AbortError({ cause: checked.success.extras.signal.reason })
  }
  return new Responses(requests, checked.success)
}

const notASource = (u: unknown) =>
  new LoamyError.InvalidInputError({
    index: 0,
    field: "",
    detail: `requests must be an array, an iterable or an async iterable of requests, got ${u === null ? "null" : typeof u}`
  })
