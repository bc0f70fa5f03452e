/**
 * One result per request: the original loamy's `RequestResponse`, camelCased,
 * plus the time it took and the attempts it needed.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import * as SchemaGetter from "effect/SchemaGetter"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaParser from "effect/SchemaParser"
import * as SchemaTransformation from "effect/SchemaTransformation"
import { headerRecord } from "./internal/body.js"
import * as json from "./internal/json.js"
import { InvalidInputError, RequestError } from "./LoamyError.js"
import { RequestMap } from "./RequestMap.js"

/**
 * A binary body (an `image/png`, an `application/octet-stream`): bytes in
 * memory, `{ "base64": "..." }` on the wire.
 *
 * @since 0.2.0
 * @category schemas
 */
export const BinaryBody = Schema.Unknown.check(
  // Exactly `{ base64 }`: an object with more keys is JSON that happens to have a `base64` field.
  Schema.makeFilter((u) => Predicate.isObject(u) && Object.keys(u).length === 1 && typeof u["base64"] === "string")
).pipe(
  Schema.decodeTo(Schema.Struct({ base64: Schema.Uint8ArrayFromBase64 }), {
    decode: SchemaGetter.passthrough({ strict: false }),
    encode: SchemaGetter.passthrough({ strict: false })
  }),
  Schema.decodeTo(
    Schema.Uint8Array,
    SchemaTransformation.transform({
      decode: ({ base64 }) => base64,
      encode: (bytes) => ({ base64: bytes })
    })
  )
).annotate({ identifier: "BinaryBody" })

/**
 * Response headers: names lower-cased, `set-cookie` an array (one entry per
 * cookie), any other repeated header joined with ", " (Node's convention).
 * A record without a prototype, as Node's `message.headers`: any name is an
 * own property (`__proto__` and `constructor` too), and a name that was not
 * sent reads undefined.
 *
 * @since 0.2.0
 * @category models
 */
export interface ResponseHeaders {
  readonly "set-cookie"?: ReadonlyArray<string>
  readonly [name: string]: string | ReadonlyArray<string>
}

const isHeaderValue = (u: unknown): boolean => {
  if (typeof u === "string") return true
  if (!Array.isArray(u)) return false
  for (let i = 0; i < u.length; i++) if (typeof u[i] !== "string") return false
  return true
}

/** Every own name of `record`, `__proto__` included, in a record without a prototype. */
const copyHeaders = (record: object): ResponseHeaders => {
  const out = headerRecord()
  for (const name of Object.keys(record)) out[name] = (record as Record<string, string | ReadonlyArray<string>>)[name]!
  return out
}

/**
 * Response headers as a Schema: a record of strings and string arrays in
 * which any name is kept (`Schema.Record` would drop one named
 * `__proto__`). Decodes into a record without a prototype, as the engine
 * makes them.
 *
 * @since 0.5.0
 * @category schemas
 */
export const ResponseHeaders: Schema.Codec<ResponseHeaders> = Schema.declare(
  (u: unknown): u is ResponseHeaders => {
    if (!Predicate.isObject(u)) return false
    for (const name of Object.keys(u)) if (!isHeaderValue(u[name])) return false
    return true
  },
  { identifier: "ResponseHeaders", description: "a record of header names to a string or an array of strings" }
).pipe((declared) =>
  declared.pipe(Schema.decodeTo(
    Schema.toType(declared),
    SchemaTransformation.transform({
      decode: (headers) => Object.getPrototypeOf(headers) === null ? headers : copyHeaders(headers),
      encode: (headers) => headers
    })
  ))
)

/**
 * A JSON body (or the bytes of a binary one). Encoded as plain data: exact
 * numbers (`JSON.rawJSON` values, see the `exactNumbers` option) become the
 * nearest JS number there, as in `RequestMap.JsonValue`.
 */
const Body = Schema.Union([
  BinaryBody,
  Schema.Unknown.pipe(
    Schema.decodeTo(Schema.Unknown, SchemaTransformation.transform({ decode: (u) => u, encode: json.plainNumbers }))
  )
])

/**
 * Where a downloaded body went (see a request's `options.saveTo`): the file's path,
 * its size in bytes and the SHA-256 of its whole content (hex), resumed
 * parts included.
 *
 * @since 1.1.0
 * @category schemas
 */
export const Saved = Schema.Struct({
  path: Schema.String,
  bytes: Schema.Number,
  sha256: Schema.String
}).annotate({ identifier: "Saved" })

/**
 * @since 1.1.0
 * @category models
 */
export interface Saved {
  readonly path: string
  readonly bytes: number
  readonly sha256: string
}

/**
 * The wire form of a response to a request that was checked and sent (or
 * meant to be: a failure before any byte went out is a response too).
 * Errors encode as `{ "_tag": ..., ... }` and decode back into their
 * classes.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RequestResponse = Schema.Struct({
  requestMap: RequestMap,
  statusCode: Schema.Number,
  body: Body,
  headers: ResponseHeaders,
  error: Schema.optional(RequestError),
  elapsedMs: Schema.Number,
  attempts: Schema.Number,
  saved: Schema.optional(Saved)
}).annotate({ identifier: "RequestResponse" })

/**
 * @since 0.1.0
 * @category models
 */
export interface RequestResponse {
  /** The request this answers, as validated (camelCase, upper-case method). */
  readonly requestMap: RequestMap
  /** The HTTP status; 0 when no response arrived. */
  readonly statusCode: number
  /**
   * The parsed JSON body (text decoded by the declared charset, UTF-8 by
   * default); `null` for an empty body; `{ text }` when the body is not JSON
   * (with a `BodyDecodeError` in `error`); the bytes themselves, as a
   * `Uint8Array`, for a binary type (`image/*`, `application/octet-stream`,
   * anything that is not text and declares no charset).
   */
  readonly body: unknown
  /** Response headers (see `ResponseHeaders`). */
  readonly headers: ResponseHeaders
  /** What went wrong, if anything. A non-2xx status alone is not an error, unless the `failOn` option counts it. */
  readonly error?: RequestError | undefined
  /** Milliseconds from the first attempt's start to the result, retries included. */
  readonly elapsedMs: number
  /** Attempts made: 1 without retries, 0 when the request never started. */
  readonly attempts: number
  /**
   * Where the body went when the request asked for a file (`options.saveTo`, or the
   * call's `saveDir`) and a 2xx response's body was written there whole;
   * `body` is then `null`.
   *
   * @since 1.1.0
   */
  readonly saved?: Saved | undefined
}

/**
 * The wire form of a refused item (see `Refused`).
 *
 * @since 1.0.0
 * @category schemas
 */
export const Refused = Schema.Struct({
  requestMap: Schema.Unknown,
  statusCode: Schema.Literal(0),
  body: Schema.Null,
  headers: ResponseHeaders,
  error: InvalidInputError,
  elapsedMs: Schema.Literal(0),
  attempts: Schema.Literal(0)
}).annotate({ identifier: "Refused" })

/**
 * The result of an item of a stream or file (`Clump.streamFrom`, the CLI,
 * the cluster) that failed its check and was not sent: `requestMap` is the
 * item as it arrived, whatever it is, and `error` says what is wrong and
 * where. The one rule for a bad item at every door; a clump's `send` and
 * `stream` check everything first and never give one.
 *
 * @since 1.0.0
 * @category models
 */
export interface Refused {
  /** The item as it arrived: anything at all. */
  readonly requestMap: unknown
  readonly statusCode: 0
  readonly body: null
  readonly headers: ResponseHeaders
  readonly error: InvalidInputError
  readonly elapsedMs: 0
  readonly attempts: 0
}

/**
 * Any result of a stream of items: a response, or a refused item.
 *
 * @since 1.0.0
 * @category schemas
 */
export const Any = Schema.Union([RequestResponse, Refused]).annotate({ identifier: "RequestResponseOrRefused" })

/**
 * @since 1.0.0
 * @category models
 */
export type Any = RequestResponse | Refused

/**
 * @since 1.0.0
 * @category refinements
 */
export const isRefused = (self: RequestResponse | Refused): self is Refused =>
  self.error !== undefined && self.error._tag === "InvalidInputError"

/**
 * A response whose body a clump's body schema decoded (see
 * `Clump.withBody`): no error, a 2xx status, and `body` of the schema's type.
 *
 * @since 0.3.0
 * @category models
 */
export interface Decoded<A> extends RequestResponse {
  readonly body: A
  readonly error?: undefined
}

/**
 * A response of a clump with a body schema of type `A`: `Decoded<A>` when
 * the schema applied (`isDecoded`), otherwise a plain `RequestResponse` (a
 * failure, a non-2xx status, a 204, a HEAD). Without a schema (`A` unknown)
 * it is `RequestResponse` itself.
 *
 * @since 0.3.0
 * @category models
 */
export type Typed<A> = unknown extends A ? RequestResponse : Decoded<A> | RequestResponse

/**
 * Narrows a response of a clump with a body schema to one whose `body` the
 * schema decoded. With the same rule as `Clump.withBody`: no error, a 2xx
 * status, not a 204, not a HEAD.
 *
 * ```ts
 * const responses = yield* Clump.send(Clump.make(requests, { body: User }))
 * for (const response of responses) {
 *   if (RequestResponse.isDecoded(response)) console.log(response.body.name)
 * }
 * ```
 *
 * @since 0.3.0
 * @category refinements
 */
export const isDecoded = <A>(self: Decoded<A> | RequestResponse | Refused): self is Decoded<A> => {
  // A refused item has its error: it is never decoded.
  if (self.error !== undefined) return false
  const status = self.statusCode
  return status >= 200 && status < 300 && status !== 204 && self.requestMap.httpOp !== "HEAD"
}

const isResponse = (u: unknown): u is RequestResponse =>
  Predicate.isObject(u) && typeof u["statusCode"] === "number" && Predicate.isObject(u["requestMap"])

/**
 * The wire form of a response of a clump with a body schema: the same JSON
 * as `RequestResponse`, with the body of a response the schema applies to
 * (see `isDecoded`) decoded and encoded by `body`. The untyped
 * `RequestResponse` schema reads the same JSON too.
 *
 * ```ts
 * const Responses = Schema.Array(RequestResponse.schema(User))
 * const json = Schema.encodeSync(Responses)(responses)
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const schema = <S extends Schema.Top>(
  body: S
): Schema.Codec<Typed<S["Type"]>, typeof RequestResponse.Encoded, S["DecodingServices"], S["EncodingServices"]> => {
  const decodeBody = SchemaParser.decodeUnknownEffect(body)
  const encodeBody = SchemaParser.encodeUnknownEffect(body)
  const withBody = <R>(
    response: RequestResponse,
    body: Effect.Effect<unknown, SchemaIssue.Issue, R>
  ): Effect.Effect<RequestResponse, SchemaIssue.Issue, R> =>
    Effect.map(
      Effect.mapError(body, (issue) => new SchemaIssue.Pointer(["body"], issue)),
      (value) => ({ ...response, body: value })
    )
  return RequestResponse.pipe(
    Schema.decodeTo(Schema.declare((u): u is Typed<S["Type"]> => isResponse(u)), {
      decode: SchemaGetter.transformEffect((response: RequestResponse) =>
        isDecoded(response) ? withBody(response, decodeBody(response.body)) : Effect.succeed(response)
      ),
      encode: SchemaGetter.transformEffect((response: Typed<S["Type"]>) =>
        isDecoded(response) ? withBody(response, encodeBody(response.body)) : Effect.succeed(response)
      )
    })
  ).annotate({ identifier: "RequestResponse" })
}

/**
 * The result of an item that failed its check and was not sent: the one
 * rule for a bad item at every door (see `Refused`).
 *
 * @since 0.3.0
 * @category constructors
 */
export const refused = (item: unknown, error: InvalidInputError): Refused => ({
  requestMap: item,
  statusCode: 0,
  body: null,
  headers: headerRecord(),
  error,
  elapsedMs: 0,
  attempts: 0
})

/**
 * @since 0.1.0
 * @category refinements
 */
export const isFailure = <R extends RequestResponse | Refused>(
  self: R
): self is R & { readonly error: NonNullable<R["error"]> } => self.error !== undefined

/**
 * @since 0.1.0
 * @category refinements
 */
export const isSuccess = (self: RequestResponse | Refused): self is RequestResponse & { readonly error?: undefined } =>
  self.error === undefined

/**
 * Encodes responses (and refused items) for a thread, a file or another
 * machine.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeArray = Schema.encodeSync(Schema.Array(Any))

/**
 * @since 0.1.0
 * @category decoding
 */
export const decodeArray = Schema.decodeUnknownSync(Schema.Array(Any))
