/**
 * A clump of requests and the options to send them with: the original
 * loamy's `Clump`, as an Effect. `send` gives one `RequestResponse` per
 * request, in input order; `stream` gives them as they finish.
 *
 * ```ts
 * import { Clump } from "@loamy/core"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const clump = Clump.make([
 *   { url: "https://example.com/", httpOp: "GET" },
 *   { url: "https://example.com/items", httpOp: "POST", body: { name: "x" } }
 * ], { concurrency: 10, timeout: "5 seconds" })
 *
 * const responses = await Clump.send(clump).pipe(
 *   Effect.provide(FetchHttpClient.layer),
 *   Effect.runPromise
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as Predicate from "effect/Predicate"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Batches } from "./internal/batches.js"
import * as engine from "./internal/engine.js"
import * as scheduler from "./internal/scheduler.js"
import * as typedBody from "./internal/typedBody.js"
import * as LoamyError from "./LoamyError.js"
import type { InvalidInputError, RequestError } from "./LoamyError.js"
import * as Options_ from "./Options.js"
import * as Progress from "./Progress.js"
import * as RequestMap from "./RequestMap.js"
import type { RequestResponse, Typed } from "./RequestResponse.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@loamy/core/Clump")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * @since 0.1.0
 * @category models
 */
export type RetryOptions = Options_.RetryOptions

/**
 * @since 0.1.0
 * @category models
 */
export type RateLimitOptions = Options_.RateLimitOptions

/**
 * Options, with the same names at every door (see the `Options` module).
 *
 * @since 0.1.0
 * @category models
 */
export type Options = Options_.Options

/**
 * How `stream` and `streamFrom` hand responses on.
 *
 * @since 0.2.0
 * @category models
 */
export type StreamOptions = (Options | Options_.Resolved) & {
  /**
   * Emit in input order: a finished response waits for the ones before it
   * in the reorder buffer (the `reorderBuffer` option, 1,000 responses by
   * default) while the workers go on, so a slow origin delays the output but
   * not the requests to other origins. Default false: completion order.
   */
  readonly ordered?: boolean | undefined
}

/**
 * The body option of `make` and `streamFrom`: a Schema that decodes the JSON
 * body of every 2xx response (see `withBody`).
 *
 * @since 0.3.0
 * @category models
 */
export interface BodyOption<A, I, R> {
  readonly body?: Schema.Schema<A, I, R> | undefined
}

/**
 * A clump of requests. `E` is what `send` can fail with besides bad input
 * (`RequestError` when failures are not folded), `A` the type of a 2xx body
 * (`unknown` without a body schema), `R` what the body schema needs.
 *
 * @since 0.1.0
 * @category models
 */
export interface Clump<E = never, A = unknown, R = never> extends Pipeable {
  readonly [TypeId]: { readonly _E: (_: never) => E; readonly _A: (_: never) => A; readonly _R: (_: never) => R }
  /** As given; checked (and put in canonical form) when the clump is sent. */
  readonly requests: ReadonlyArray<RequestMap.RequestMapInput>
  /** As given, or already decoded (`Options.decode`), in which case it is not decoded again. */
  readonly options: Options | Options_.Resolved
  /** The body schema (see `withBody`), or undefined: bodies stay untyped JSON. */
  readonly body: Schema.Schema.Any | undefined
}

/**
 * A response and the position of its request in the input. `A` is the type
 * of a 2xx body when the clump has a body schema (see `withBody`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Indexed<A = unknown> {
  readonly index: number
  readonly response: Typed<A>
}

/**
 * Options that make no sense (see `LoamyError.InvalidOptionsError`).
 *
 * @since 0.1.0
 * @category errors
 */
export const InvalidOptionsError = LoamyError.InvalidOptionsError

/**
 * @since 0.1.0
 * @category errors
 */
export type InvalidOptionsError = LoamyError.InvalidOptionsError

const Proto = {
  [TypeId]: { _E: (_: never) => _, _A: (_: never) => _, _R: (_: never) => _ },
  pipe() {
    return pipeArguments(this, arguments)
  }
}

/**
 * Makes a clump. Nothing is checked or sent yet: `send` and `stream` check
 * every request and option first and refuse bad input before sending any.
 *
 * With `returnExceptions: false` (or a boolean not known to be `true`), the
 * error type of `send` includes `RequestError`.
 *
 * `body` (the Effect door only) is a Schema for the JSON body of every 2xx
 * response: see `withBody`.
 *
 * ```ts
 * const User = Schema.Struct({ id: Schema.Number, name: Schema.String })
 * const clump = Clump.make(requests, { concurrency: 10, body: User })
 * const responses = yield* Clump.send(clump) // ReadonlyArray<RequestResponse.Typed<typeof User.Type>>
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: {
  <A = unknown, I = unknown, R = never>(
    requests: Iterable<RequestMap.RequestMapInput>,
    options?: Options & { readonly returnExceptions?: true | undefined } & BodyOption<A, I, R>
  ): Clump<never, A, R>
  <A = unknown, I = unknown, R = never>(
    requests: Iterable<RequestMap.RequestMapInput>,
    options: (Options | Options_.Resolved) & BodyOption<A, I, R>
  ): Clump<RequestError, A, R>
} = (requests: Iterable<RequestMap.RequestMapInput>, options: Options | Options_.Resolved = {}): Clump<never> => {
  const self = Object.create(Proto)
  self.requests = Array.isArray(requests) ? requests : Array.from(requests)
  // The schema is not an option of every door (nor plain data): it is kept apart from the options.
  const { body, rest } = typedBody.splitBody(options)
  self.options = rest
  self.body = body
  return self
}

/**
 * @since 0.1.0
 * @category refinements
 */
export const isClump = (u: unknown): u is Clump<unknown> => Predicate.hasProperty(u, TypeId)

/**
 * Adds options to a clump (later values win). The body schema is kept.
 *
 * @since 0.1.0
 * @category combinators
 */
export const withOptions: {
  (options: Options): <E, A, R>(self: Clump<E, A, R>) => Clump<E | RequestError, A, R>
  <E, A, R>(self: Clump<E, A, R>, options: Options): Clump<E | RequestError, A, R>
} = dual(2, <E, A, R>(self: Clump<E, A, R>, options: Options): Clump<E | RequestError, A, R> =>
  make(self.requests, {
    ...(Options_.isResolved(self.options) ? Options_.toOptions(self.options) : self.options),
    ...options,
    body: self.body as Schema.Schema<A, unknown, R> | undefined
  }))

/**
 * Gives a clump a body schema: the JSON body of every 2xx response (but a
 * 204 or the answer to a HEAD) is decoded with it, and `send` and `stream`
 * give `RequestResponse.Typed<A>` responses, narrowed to `body: A` by
 * `RequestResponse.isDecoded`.
 *
 * A body that does not match gets a `BodyDecodeError` whose `issues` say
 * where and how (Schema's `ArrayFormatter` entries), like any other failure:
 * the response keeps its status and headers, and its `body` is the JSON as
 * it arrived. With `returnExceptions: false` a mismatch fails the call.
 *
 * Bodies of other statuses are not decoded (an error body rarely matches
 * the success schema, and a non-2xx status is a response, not an error):
 * they stay untyped JSON. The schema may have transformations, asynchronous
 * ones included; its requirements `R` become the call's.
 *
 * ```ts
 * import { Clump, RequestResponse } from "@loamy/core"
 * import { Effect, Schema } from "effect"
 *
 * const User = Schema.Struct({ id: Schema.Number, name: Schema.String })
 *
 * const program = Effect.gen(function*() {
 *   const responses = yield* Clump.make(requests).pipe(Clump.withBody(User), Clump.send)
 *   for (const response of responses) {
 *     if (RequestResponse.isDecoded(response)) console.log(response.body.name)
 *     else console.log(response.statusCode, response.error?.message)
 *   }
 * })
 * ```
 *
 * @since 0.3.0
 * @category combinators
 */
export const withBody: {
  <A, I, R>(schema: Schema.Schema<A, I, R>): <E>(self: Clump<E, any, any>) => Clump<E, A, R>
  <E, A, I, R>(self: Clump<E, any, any>, schema: Schema.Schema<A, I, R>): Clump<E, A, R>
} = dual(2, <E, A, I, R>(self: Clump<E, any, any>, schema: Schema.Schema<A, I, R>): Clump<E, A, R> => {
  const clump = Object.create(Proto)
  clump.requests = self.requests
  clump.options = self.options
  clump.body = schema
  return clump
})

/**
 * Checks the options and applies the defaults (see `Options.decode`).
 *
 * @since 0.1.0
 * @category decoding
 */
export const resolveOptions: (options: unknown) => Either.Either<Options_.Resolved, InvalidOptionsError> =
  Options_.decode

const prepare = <E, A, R>(self: Clump<E, A, R>) =>
  Effect.flatMap(Options_.decode(self.options), (resolved) =>
    Effect.flatMap(typedBody.decoderFor(self.body), (decode) =>
      Effect.map(RequestMap.validateAll(self.requests), (requests) => ({ resolved, requests, decode }))))

/** A call's set-up around the scheduler: its sender, redirects handled by the engine, progress and a span when asked. */
const runCall = <A, E>(
  resolved: Options_.Resolved,
  size: number | undefined,
  body: (sender: engine.Sender, counters: scheduler.Counters | undefined) => Effect.Effect<A, E>
): Effect.Effect<A, E | InvalidOptionsError, HttpClient.HttpClient> =>
  Effect.flatMap(Effect.serviceOption(Progress.Reporter), (reporter) => {
    // Counting costs nothing measurable, but only a call that reports progress does it.
    const counters = Option.isSome(reporter) ? scheduler.makeCounters() : undefined
    // A sender holds no resource: no scope to open and close.
    const run = Effect.flatMap(engine.makeSenderIn(resolved, undefined), (sender) => body(sender, counters))
    const redirected = engine.manualRedirects(engine.onCappedClient(resolved, run))
    const sent = counters === undefined
      ? redirected
      : Progress.reporting(Option.getOrThrow(reporter), counters, size, redirected)
    return Effect.flatMap(engine.isTracing, (traced) =>
      traced
        ? Effect.withSpan(sent, "loamy.send", {
          captureStackTrace: false,
          attributes: size === undefined
            ? { "loamy.concurrency": resolved.concurrency }
            : { "loamy.requests": size, "loamy.concurrency": resolved.concurrency }
        })
        : sent)
  })

/** Runs checked requests on the scheduler and collects their responses in input order. */
const collect = <E>(
  requests: ReadonlyArray<RequestMap.RequestMap>,
  resolved: Options_.Resolved,
  sender: engine.Sender,
  counters: scheduler.Counters | undefined
): Effect.Effect<ReadonlyArray<RequestResponse>, E> =>
  // Each run of the effect gets its own results and source.
  Effect.suspend(() => {
    const results = new Array<RequestResponse>(requests.length)
    return Effect.as(
      scheduler.run({
        concurrency: resolved.concurrency,
        perOrigin: resolved.concurrencyPerOrigin,
        counters,
        ordered: false,
        failFast: resolved.failFast,
        pull: scheduler.fromArray(requests),
        size: requests.length,
        check: undefined,
        sender,
        onResult: (response, index) => {
          results[index] = response
          return undefined
        }
      }) as Effect.Effect<void, E>,
      results as ReadonlyArray<RequestResponse>
    )
  })

const sendChecked = <E>(
  requests: ReadonlyArray<RequestMap.RequestMap>,
  resolved: Options_.Resolved,
  decode: typedBody.Decode | undefined
): Effect.Effect<ReadonlyArray<RequestResponse>, E | InvalidOptionsError, HttpClient.HttpClient> =>
  runCall(resolved, requests.length, (sender, counters) =>
    collect<E>(requests, resolved, decode === undefined ? sender : typedBody.decoding(sender, decode), counters))

/**
 * Sends every request and returns one `RequestResponse` per request, in input
 * order. Requests and options are checked first; bad input fails with an
 * `InvalidInputError` naming the index and field, and nothing is sent.
 *
 * Needs only an `HttpClient` in the environment, so it runs on any platform
 * layer (`FetchHttpClient.layer`, `NodeHttpClient.layerUndici`, loamy's own).
 * With a body schema (see `withBody`), the responses are
 * `RequestResponse.Typed<A>`.
 *
 * @since 0.1.0
 * @category sending
 */
export const send = <E, A = unknown, R = never>(
  self: Clump<E, A, R>
): Effect.Effect<
  ReadonlyArray<Typed<A>>,
  E | InvalidInputError | InvalidOptionsError,
  HttpClient.HttpClient | R
> =>
  Effect.flatMap(prepare(self), ({ decode, requests, resolved }) => sendChecked<E>(requests, resolved, decode)) as any

/**
 * `send` for a door that has already checked its requests (with
 * `RequestMap.validateAll`) and decoded its options (with `Options.decode`),
 * on this thread or another: nothing is checked again. It still fails with
 * an `InvalidOptionsError` when the client in use cannot route through the
 * `proxy` option.
 *
 * @since 0.2.0
 * @category unsafe
 */
export const unsafeSend = (
  requests: ReadonlyArray<RequestMap.RequestMap>,
  resolved: Options_.Resolved
): Effect.Effect<ReadonlyArray<RequestResponse>, RequestError | InvalidOptionsError, HttpClient.HttpClient> =>
  sendChecked<RequestError>(requests, resolved, undefined)

/**
 * A batch runner prepared by `unsafePrepare`: sends requests that have
 * already been checked and gives one `RequestResponse` per request, in input
 * order, with none of a call's set-up.
 *
 * @since 0.4.0
 * @category unsafe
 */
export type Prepared = (
  requests: ReadonlyArray<RequestMap.RequestMap>
) => Effect.Effect<ReadonlyArray<RequestResponse>, RequestError>

/**
 * For a door that sends many batches with the same decoded options (loamy's
 * synchronous worker): does a call's set-up once (the sender, its redirect
 * middleware, the proxy check, the tracing check) and returns a runner that
 * sends checked batches on it, as `unsafeSend` would, with no set-up of its
 * own; a one-request batch skips the scheduler too. The runner holds the
 * client it was prepared with and can be used any number of times, also
 * concurrently.
 *
 * Options whose sender keeps state for one call (a `deadline`, a
 * `rateLimit`, `retry` with its origin pauses) cannot be prepared: this then
 * gives `undefined` (use `unsafeSend`). The runner makes no `loamy.send`
 * span and no progress reports, and makes request spans only if a recording
 * tracer was on when it was prepared.
 *
 * loamy follows redirects itself, so a fetch-based client is told not to
 * (`FetchHttpClient.RequestInit` with `redirect: "manual"`) for each batch,
 * unless the context the runner is prepared in says so already: then the
 * runner leaves the context as it is (a context change per batch is
 * measurable), and must be run in a context that says so too.
 *
 * @since 0.4.0
 * @category unsafe
 */
export const unsafePrepare = (
  resolved: Options_.Resolved
): Effect.Effect<Prepared | undefined, InvalidOptionsError, HttpClient.HttpClient> => {
  if (resolved.deadlineMs !== undefined || resolved.rateLimit !== undefined || resolved.retry !== undefined) {
    return Effect.succeed(undefined)
  }
  const failFast = resolved.failFast
  return Effect.flatMap(engine.makeSenderIn(resolved, undefined), (sender) =>
    Effect.map(engine.asksManualRedirects, (asked): Prepared => (requests) => {
      const batch = requests.length !== 1
        ? collect<RequestError>(requests, resolved, sender, undefined)
        : failFast
        ? Effect.flatMap(sender(requests[0]!, 0), (response) =>
          response.error !== undefined
            ? Effect.fail(response.error as RequestError)
            : Effect.succeed([response] as ReadonlyArray<RequestResponse>))
        : Effect.map(sender(requests[0]!, 0), (response): ReadonlyArray<RequestResponse> => [response])
      return asked ? batch : engine.manualRedirects(batch)
    }))
}

const splitStreamOptions = (options: StreamOptions | undefined) => {
  if (options === undefined || !("ordered" in options)) return { ordered: false, rest: options }
  const { ordered, ...rest } = options
  return { ordered: ordered === true, rest }
}

/**
 * Sends every request and emits each response with its index as soon as it
 * finishes (completion order), or in input order with `{ ordered: true }`.
 * At most `concurrency` requests are in flight and about as many responses
 * wait for the consumer (in input order, up to `reorderBuffer` more wait for
 * an earlier one), so memory is bounded by the options, whatever the
 * consumer's pace. Responses that finish in the same turn of the event
 * loop reach the stream as one chunk. With a body schema (see `withBody`),
 * the responses are `RequestResponse.Typed<A>`.
 *
 * @since 0.1.0
 * @category sending
 */
export const stream = <E, A = unknown, R = never>(
  self: Clump<E, A, R>,
  options?: { readonly ordered?: boolean | undefined }
): Stream.Stream<Indexed<A>, E | InvalidInputError | InvalidOptionsError, HttpClient.HttpClient | R> =>
  Stream.unwrap(Effect.map(prepare(self), ({ decode, requests, resolved }) =>
    toStream(resolved, options?.ordered === true, requests.length, undefined, scheduler.fromArray(requests), decode)))

const toStream = <I, E>(
  resolved: Options_.Resolved,
  ordered: boolean,
  size: number | undefined,
  check: scheduler.Check<I> | undefined,
  pull: scheduler.Pull<I, E>,
  decode: typedBody.Decode | undefined
): Stream.Stream<Indexed<any>, any, any> =>
  Stream.unwrapScoped(Effect.gen(function*() {
    // Room for one round of responses: a slow consumer holds the workers back.
    const batches = new Batches<Indexed, unknown>(resolved.concurrency)
    yield* runCall(resolved, size, (sender, counters) =>
      scheduler.run({
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
    return Stream.repeatEffectChunkOption(batches.pull)
  }))

/** Items of a stream for the scheduler's workers, one chunk read at a time however many workers ask. */
const pullStream = <A, E>(
  pullChunk: Effect.Effect<Chunk.Chunk<A>, Option.Option<E>>
): scheduler.Pull<A, E> => {
  let buffer: ReadonlyArray<A> = []
  let position = 0
  let done = false
  let reading: Deferred.Deferred<void, E> | undefined
  return () => {
    if (position < buffer.length) return buffer[position++]!
    if (done) return scheduler.Done
    if (reading !== undefined) return Deferred.await(reading)
    const read = Deferred.unsafeMake<void, E>(FiberId.none)
    reading = read
    return pullChunk.pipe(
      Effect.matchEffect({
        onFailure: (error) => {
          reading = undefined
          if (Option.isNone(error)) {
            done = true
            return Deferred.succeed(read, undefined)
          }
          return Effect.zipRight(Deferred.fail(read, error.value), Effect.fail(error.value))
        },
        onSuccess: (chunk) => {
          buffer = Chunk.toReadonlyArray(chunk)
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


/**
 * Sends the requests of any stream (a file read line by line, a queue), any
 * number of them, with memory bounded by the concurrency. Each item is
 * checked as it arrives: a request object in camelCase or snake_case, or a
 * string of JSON text (a line of a JSONL file). An item that is not valid is
 * not sent: its response has an `InvalidInputError` naming the index and
 * field (and `requestMap` is the item as it arrived), so every item still has
 * exactly one response. With `returnExceptions: false` it fails the stream
 * instead. A `body` schema types the 2xx bodies as `withBody` does.
 *
 * @since 0.1.0
 * @category sending
 */
export const streamFrom: {
  <A = unknown, I = unknown, RB = never>(
    options?: StreamOptions & { readonly returnExceptions?: true | undefined } & BodyOption<A, I, RB>
  ): <E, R>(
    requests: Stream.Stream<unknown, E, R>
  ) => Stream.Stream<Indexed<A>, E | InvalidOptionsError, R | RB | HttpClient.HttpClient>
  <A = unknown, I = unknown, RB = never>(options: StreamOptions & BodyOption<A, I, RB>): <E, R>(
    requests: Stream.Stream<unknown, E, R>
  ) => Stream.Stream<
    Indexed<A>,
    E | InvalidOptionsError | RequestError | InvalidInputError,
    R | RB | HttpClient.HttpClient
  >
  <E, R, A = unknown, I = unknown, RB = never>(
    requests: Stream.Stream<unknown, E, R>,
    options?: StreamOptions & { readonly returnExceptions?: true | undefined } & BodyOption<A, I, RB>
  ): Stream.Stream<Indexed<A>, E | InvalidOptionsError, R | RB | HttpClient.HttpClient>
  <E, R, A = unknown, I = unknown, RB = never>(
    requests: Stream.Stream<unknown, E, R>,
    options: StreamOptions & BodyOption<A, I, RB>
  ): Stream.Stream<
    Indexed<A>,
    E | InvalidOptionsError | RequestError | InvalidInputError,
    R | RB | HttpClient.HttpClient
  >
} = dual(
  (args) => Predicate.hasProperty(args[0], Stream.StreamTypeId),
  <E, R>(requests: Stream.Stream<unknown, E, R>, options?: StreamOptions) => {
    const { ordered, rest } = splitStreamOptions(options)
    const { body, rest: withoutBody } = typedBody.splitBody(rest)
    const decoder = typedBody.decoderFor(body)
    if (Either.isLeft(decoder)) return Stream.fail(decoder.left)
    return Either.match(Options_.decode(withoutBody), {
      onLeft: (error) => Stream.fail(error),
      onRight: (resolved) =>
        Stream.unwrapScoped(Effect.gen(function*() {
          const context = yield* Effect.context<R>()
          const pullChunk = yield* Stream.toPull(requests)
          return toStream(
            resolved,
            ordered,
            undefined,
            RequestMap.validateItem,
            pullStream(Effect.provide(pullChunk, context)),
            decoder.right
          )
        }))
    })
  }
)

/**
 * The engine under `send` and `stream`, for callers that schedule requests
 * themselves: a function that sends one request that has already been
 * checked (see `RequestMap.validateAt`) and never fails. Rate limits, origin
 * pauses and the deadline are shared by every request sent through one
 * sender, for the life of the scope.
 *
 * @since 0.1.0
 * @category sending
 */
export const sender = (
  options: Options = {}
): Effect.Effect<
  (request: RequestMap.RequestMap, index: number) => Effect.Effect<RequestResponse>,
  InvalidOptionsError,
  HttpClient.HttpClient | Scope.Scope
> =>
  Effect.flatMap(
    Options_.decode(options),
    (resolved) =>
      Effect.map(engine.makeSender(resolved), (send) => (request, index) => engine.manualRedirects(send(request, index)))
  )
