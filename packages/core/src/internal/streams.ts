/**
 * The stream adapters of `Clump.stream` and `Clump.streamFrom`: a call's
 * responses handed to a `Stream` in chunks (see `batches.ts`), and the
 * items of a source stream handed to the scheduler's workers.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as HttpClient from "effect/http/HttpClient"
import type * as Pull from "effect/Pull"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import type { InvalidOptionsError, RequestError } from "../LoamyError.js"
import type * as Options from "../Options.js"
import * as RequestMap from "../RequestMap.js"
import { type Refused, refused, type Typed } from "../RequestResponse.js"
import { Batches } from "./batches.js"
import { runCall } from "./call.js"
import * as scheduler from "./scheduler.js"
import * as typedBody from "./typedBody.js"

/** A response (or a refused item `X`) and the position of its request in the input. @internal */
export interface Item<A, X> {
  readonly index: number
  readonly response: Typed<A> | X
}

/**
 * Runs a call in the stream's scope and emits its responses: what finished
 * in one turn of the event loop as one chunk.
 *
 * @internal
 */
export const toStream = <I, E, A, R, X extends Refused>(
  resolved: Options.Resolved,
  ordered: boolean,
  size: number | undefined,
  check: scheduler.Check<I, X> | undefined,
  pull: scheduler.Pull<I, E>,
  decode: typedBody.Decode<A, R> | undefined
): Stream.Stream<Item<A, X>, E | RequestError | X["error"] | InvalidOptionsError, R | HttpClient.HttpClient> =>
  Stream.unwrap(Effect.gen(function*() {
    // Room for one round of responses: a slow consumer holds the workers back.
    const batches = new Batches<Item<A, X>, E | RequestError | X["error"] | InvalidOptionsError>(resolved.concurrency)
    yield* runCall(resolved, size, (sender, counters) =>
      scheduler.run<I, E, never, R, X>({
        concurrency: resolved.concurrency,
        perOrigin: resolved.concurrencyPerOrigin,
        counters,
        ordered,
        reorderBuffer: resolved.reorderBuffer,
        failFast: resolved.failFast,
        pull,
        size,
        check,
        sender: decode === undefined ? sender : typedBody.decoding(sender, decode),
        // Straight in while there is room; only a full buffer (a slow consumer) makes the worker wait.
        onResult: (response, index) => batches.offer({ index, response })
      })).pipe(
        Effect.onExit((exit) => Effect.sync(() => batches.close(Exit.asVoid(exit)))),
        Effect.forkScoped
      )
    return Stream.fromPull(Effect.succeed(batches.pull))
  }))

/**
 * Items of a stream for the scheduler's workers, one chunk read at a time
 * however many workers ask.
 *
 * @internal
 */
export const pullStream = <A, E>(pullChunk: Pull.Pull<ReadonlyArray<A>, E>): scheduler.Pull<A, E> => {
  let buffer: ReadonlyArray<A> = []
  let position = 0
  let done = false
  let reading: Deferred.Deferred<void, E> | undefined
  return () => {
    if (position < buffer.length) return buffer[position++]!
    if (done) return scheduler.Done
    if (reading !== undefined) return Deferred.await(reading)
    const read = Deferred.makeUnsafe<void, E>()
    reading = read
    return pullChunk.pipe(
      Effect.matchCauseEffect({
        onFailure: (cause) => {
          reading = undefined
          const error = Cause.findError(cause)
          if (error._tag === "Success") {
            if (Cause.isDone(error.success)) {
              done = true
              return Deferred.succeed(read, undefined)
            }
            return Effect.andThen(Deferred.fail(read, error.success), Effect.fail(error.success))
          }
          return Effect.andThen(Deferred.failCause(read, error.failure), Effect.failCause(error.failure))
        },
        onSuccess: (chunk) => {
          buffer = chunk
          position = 0
          reading = undefined
          return Deferred.succeed(read, undefined)
        }
      }),
      Effect.onInterrupt(() => Deferred.interrupt(read)),
      Effect.asVoid
    )
  }
}

/** `RequestMap.validateItem`, a refused item as its result (the one rule for a bad item). */
const checkItem = (item: unknown, index: number): Result.Result<RequestMap.RequestMap, Refused> =>
  Result.mapError(RequestMap.validateItem(item, index), (error) => refused(item, error))

/** `checkItem` for a call's options: relative URLs joined to its `baseUrl`. @internal */
export const checkItemFor = (resolved: Options.Resolved): scheduler.Check<unknown, Refused> =>
  resolved.baseUrl === undefined
    ? checkItem
    : (item, index) => Result.mapError(RequestMap.validateItem(item, index, resolved), (error) => refused(item, error))
