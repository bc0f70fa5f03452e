/**
 * A clump of requests and the options to send them with: the original
 * loamy's `Clump`, as an Effect. `send` gives one `RequestResponse` per
 * request, in input order; `stream` gives them as they finish.
 *
 * ```ts
 * import { Clump } from "@loamy/core"
 * import { Effect } from "effect"
 * import { FetchHttpClient } from "effect/http"
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
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type * as HttpClient from "effect/http/HttpClient"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as Predicate from "effect/Predicate"
import * as Result from "effect/Result"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as call from "./internal/call.js"
import * as engine from "./internal/engine.js"
import * as route from "./internal/route.js"
import * as scheduler from "./internal/scheduler.js"
import * as streams from "./internal/streams.js"
import * as typedBody from "./internal/typedBody.js"
import * as LoamyError from "./LoamyError.js"
import type { InvalidInputError, RequestError } from "./LoamyError.js"
import * as Options_ from "./Options.js"
import * as RequestMap from "./RequestMap.js"
import type { Refused, RequestResponse, Typed } from "./RequestResponse.js"
import { CurrentRoute } from "./Transport.js"

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
export interface BodyOption<A, R> {
  readonly body?: Schema.Decoder<A, R> | undefined
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
  readonly body: Schema.Decoder<A, R> | undefined
}

/**
 * A response and the position of its request in the input. `A` is the type
 * of a 2xx body when the clump has a body schema (see `withBody`). `X` is
 * what else a response may be: `RequestResponse.Refused` for `streamFrom`,
 * whose items are checked as they arrive (narrow with
 * `RequestResponse.isRefused`); nothing for `stream`, which checks first.
 *
 * @since 0.1.0
 * @category models
 */
export interface Indexed<A = unknown, X = never> {
  readonly index: number
  readonly response: Typed<A> | X
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
  <A = unknown, R = never>(
    requests: Iterable<RequestMap.RequestMapInput>,
    options?: Options & { readonly returnExceptions?: true | undefined } & BodyOption<A, R>
  ): Clump<never, A, R>
  <A = unknown, R = never>(
    requests: Iterable<RequestMap.RequestMapInput>,
    options: (Options | Options_.Resolved) & BodyOption<A, R>
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
export const isClump = (u: unknown): u is Clump<unknown, unknown, unknown> => Predicate.hasProperty(u, TypeId)

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
    body: self.body
  }))

/**
 * Gives a clump a body schema: the JSON body of every 2xx response (but a
 * 204 or the answer to a HEAD) is decoded with it, and `send` and `stream`
 * give `RequestResponse.Typed<A>` responses, narrowed to `body: A` by
 * `RequestResponse.isDecoded`.
 *
 * A body that does not match gets a `BodyDecodeError` whose `issues` say
 * where and how (Schema's issues, path and message each), like any other failure:
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
  <A, R>(schema: Schema.Decoder<A, R>): <E>(self: Clump<E, unknown, unknown>) => Clump<E, A, R>
  <E, A, R>(self: Clump<E, unknown, unknown>, schema: Schema.Decoder<A, R>): Clump<E, A, R>
} = dual(2, <E, A, R>(self: Clump<E, unknown, unknown>, schema: Schema.Decoder<A, R>): Clump<E, A, R> => {
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
export const resolveOptions: (options: unknown) => Result.Result<Options_.Resolved, InvalidOptionsError> =
  Options_.decode

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
  Effect.suspend((): Effect.Effect<
    ReadonlyArray<Typed<A>>,
    E | InvalidInputError | InvalidOptionsError,
    HttpClient.HttpClient | R
  > => {
    const prepared = call.prepare(self.options, self.body, self.requests)
    if (Result.isFailure(prepared)) return Effect.fail(prepared.failure)
    const { decode, requests, resolved } = prepared.success
    return call.sendChecked<E, A, R>(requests, resolved, decode)
  })

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
  Stream.unwrap(Effect.suspend(() => {
    const prepared = call.prepare(self.options, self.body, self.requests)
    if (Result.isFailure(prepared)) return Effect.fail(prepared.failure)
    const { decode, requests, resolved } = prepared.success
    // Checked already: no item is refused (`never`).
    const responses = streams.toStream<RequestMap.RequestMap, never, A, R, never>(
      resolved,
      options?.ordered === true,
      requests.length,
      undefined,
      scheduler.fromArray(requests),
      decode
    )
    return Effect.succeed(call.streamFailingAsTyped<E>()(responses))
  }))

/** The body option, when it is the options' own (an inherited one is no option). */
const bodyOf = <A, R>(options: BodyOption<A, R> | undefined): Schema.Decoder<A, R> | undefined =>
  options !== undefined && Object.hasOwn(options, "body") ? options.body : undefined

/** The options without `ordered` and `body`, for `Options.decode`. */
const callOptions = (options: StreamOptions & BodyOption<unknown, unknown>): unknown => {
  if (Options_.isResolved(options)) return options
  const { body: _body, ordered: _ordered, ...rest } = options
  return rest
}

/**
 * Sends the requests of any stream (a file read line by line, a queue), any
 * number of them, with memory bounded by the concurrency. Each item is
 * checked as it arrives: a request object in camelCase or snake_case, or a
 * string of JSON text (a line of a JSONL file). An item that is not valid is
 * not sent: its response is a `RequestResponse.Refused` (an
 * `InvalidInputError` naming the index and field, and `requestMap` the item
 * as it arrived), so every item still has exactly one response. With
 * `returnExceptions: false` it fails the stream instead. A `body` schema
 * types the 2xx bodies as `withBody` does.
 *
 * @since 0.1.0
 * @category sending
 */
export const streamFrom: {
  <A = unknown, RB = never>(
    options?: StreamOptions & { readonly returnExceptions?: true | undefined } & BodyOption<A, RB>
  ): <E, R>(
    requests: Stream.Stream<unknown, E, R>
  ) => Stream.Stream<Indexed<A, Refused>, E | InvalidOptionsError, R | RB | HttpClient.HttpClient>
  <A = unknown, RB = never>(options: StreamOptions & BodyOption<A, RB>): <E, R>(
    requests: Stream.Stream<unknown, E, R>
  ) => Stream.Stream<
    Indexed<A, Refused>,
    E | InvalidOptionsError | RequestError | InvalidInputError,
    R | RB | HttpClient.HttpClient
  >
  <E, R, A = unknown, RB = never>(
    requests: Stream.Stream<unknown, E, R>,
    options?: StreamOptions & { readonly returnExceptions?: true | undefined } & BodyOption<A, RB>
  ): Stream.Stream<Indexed<A, Refused>, E | InvalidOptionsError, R | RB | HttpClient.HttpClient>
  <E, R, A = unknown, RB = never>(
    requests: Stream.Stream<unknown, E, R>,
    options: StreamOptions & BodyOption<A, RB>
  ): Stream.Stream<
    Indexed<A, Refused>,
    E | InvalidOptionsError | RequestError | InvalidInputError,
    R | RB | HttpClient.HttpClient
  >
} = dual(
  (args) => Stream.isStream(args[0]),
  <E, R, A, RB>(
    requests: Stream.Stream<unknown, E, R>,
    options?: StreamOptions & BodyOption<A, RB>
  ): Stream.Stream<
    Indexed<A, Refused>,
    E | InvalidOptionsError | RequestError | InvalidInputError,
    R | RB | HttpClient.HttpClient
  > => {
    const decoder = typedBody.decoderFor(bodyOf(options))
    if (Result.isFailure(decoder)) return Stream.fail(decoder.failure)
    const resolved = Options_.decode(options === undefined ? undefined : callOptions(options))
    if (Result.isFailure(resolved)) return Stream.fail(resolved.failure)
    const ordered = options !== undefined && Object.hasOwn(options, "ordered") && options.ordered === true
    return Stream.unwrap(Effect.gen(function*() {
      const context = yield* Effect.context<R>()
      const pullChunk = yield* Stream.toPull(requests)
      return streams.toStream<unknown, E, A, RB, Refused>(
        resolved.success,
        ordered,
        undefined,
        streams.checkItemFor(resolved.success),
        streams.pullStream(Effect.provide(pullChunk, context)),
        decoder.success
      )
    }))
  }
)

/**
 * The engine under `send` and `stream`, for callers that schedule requests
 * themselves: a function that sends one request that has already been
 * checked (see `RequestMap.validateAt`) and never fails. Rate limits, origin
 * pauses and the deadline are shared by every request sent through one
 * sender; with a `Transport` its sockets (capped at `concurrency`) and its
 * proxy are leased for the life of the scope.
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
  Effect.suspend(() => {
    const decoded = Options_.decode(options)
    if (Result.isFailure(decoded)) return Effect.fail(decoded.failure)
    const resolved = decoded.success
    return Effect.flatMap(route.scopedRoute(resolved), (leased) =>
      Effect.map(engine.makeSender(resolved), (send) => (request: RequestMap.RequestMap, index: number) => {
        const sent = engine.manualRedirects(send(request, index))
        return leased === undefined ? sent : Effect.provideService(sent, CurrentRoute, leased)
      }))
  })
