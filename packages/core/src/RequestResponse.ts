/**
 * One result per request: the original loamy's `RequestResponse`, camelCased,
 * plus the time it took and the attempts it needed.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
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
export const BinaryBody = Schema.transform(
  Schema.Struct({ base64: Schema.Uint8ArrayFromBase64 }).annotations({
    parseOptions: { onExcessProperty: "error" }
  }),
  Schema.Uint8ArrayFromSelf,
  { strict: true, decode: ({ base64 }) => base64, encode: (bytes) => ({ base64: bytes }) }
).annotations({ identifier: "BinaryBody" })

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
export const ResponseHeaders: Schema.Schema<ResponseHeaders> = Schema.declare(
  (u: unknown): u is ResponseHeaders => {
    if (typeof u !== "object" || u === null || Array.isArray(u)) return false
    for (const name of Object.keys(u)) if (!isHeaderValue((u as Record<string, unknown>)[name])) return false
    return true
  },
  { identifier: "ResponseHeaders", description: "a record of header names to a string or an array of strings" }
).pipe(
  (declared) =>
    Schema.transform(declared, Schema.typeSchema(declared), {
      strict: true,
      decode: (headers) => Object.getPrototypeOf(headers) === null ? headers : copyHeaders(headers),
      encode: (headers) => headers
    })
)

/**
 * A JSON body (or the bytes of a binary one). Encoded as plain data: exact
 * numbers (`JSON.rawJSON` values, see the `exactNumbers` option) become the
 * nearest JS number there, as in `RequestMap.JsonValue`.
 */
const Body = Schema.Union(
  BinaryBody,
  Schema.transform(Schema.Unknown, Schema.Unknown, { strict: true, decode: (u) => u, encode: json.plainNumbers })
)

/**
 * The wire form of a response. Errors encode as `{ "_tag": ..., ... }` and
 * decode back into their classes.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RequestResponse = Schema.Struct({
  // A refused item of a stream or file keeps its input as it arrived, whatever its shape.
  requestMap: Schema.Union(RequestMap, Schema.Unknown) as unknown as typeof RequestMap,
  statusCode: Schema.Number,
  body: Body,
  headers: ResponseHeaders,
  error: Schema.optional(Schema.Union(RequestError, InvalidInputError)),
  elapsedMs: Schema.Number,
  attempts: Schema.Number
}).annotations({ identifier: "RequestResponse" })

/**
 * @since 0.1.0
 * @category models
 */
export interface RequestResponse {
  /**
   * The request this answers, as validated (camelCase, upper-case method).
   * For an item of a stream or file refused by its check, the item as it
   * arrived (then `error` is an `InvalidInputError`).
   */
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
  /**
   * What went wrong, if anything. A non-2xx status alone is not an error. An
   * `InvalidInputError` only for an item of a stream or file that was not sent.
   */
  readonly error?: RequestError | InvalidInputError | undefined
  /** Milliseconds from the first attempt's start to the result, retries included. */
  readonly elapsedMs: number
  /** Attempts made: 1 without retries, 0 when the request never started. */
  readonly attempts: number
}

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

/** Whether a body schema applies to a response: nothing failed, a 2xx status, a body can be there (not 204, not HEAD). */
const isDecodable = (self: RequestResponse): boolean => {
  if (self.error !== undefined) return false
  const status = self.statusCode
  return status >= 200 && status < 300 && status !== 204 && self.requestMap.httpOp !== "HEAD"
}

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
export const isDecoded: <A>(self: Decoded<A> | RequestResponse) => self is Decoded<A> = isDecodable as any

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
export const schema = <A, I, R>(
  body: Schema.Schema<A, I, R>
): Schema.Schema<Typed<A>, typeof RequestResponse.Encoded, R> => {
  const decodeBody = ParseResult.decodeUnknown(body)
  const encodeBody = ParseResult.encodeUnknown(body)
  const withBody = (
    response: RequestResponse,
    body: Effect.Effect<unknown, ParseResult.ParseIssue, R>
  ): Effect.Effect<RequestResponse, ParseResult.ParseIssue, R> =>
    Effect.map(
      Effect.mapError(body, (issue) => new ParseResult.Pointer("body", response, issue)),
      (value) => ({ ...response, body: value })
    )
  return Schema.transformOrFail(RequestResponse, Schema.typeSchema(RequestResponse), {
    strict: true,
    decode: (response) => isDecodable(response) ? withBody(response, decodeBody(response.body)) : Effect.succeed(response),
    encode: (response) => isDecodable(response) ? withBody(response, encodeBody(response.body)) : Effect.succeed(response)
  }).annotations({ identifier: "RequestResponse" }) as any
}

/**
 * The response of an item that failed its check and was not sent: the one
 * rule for a bad item at every door. `statusCode` and `attempts` are 0,
 * `requestMap` is the item as it arrived, `error` says what is wrong and where.
 *
 * @since 0.3.0
 * @category constructors
 */
export const refused = (item: unknown, error: InvalidInputError): RequestResponse => ({
  requestMap: item as RequestMap,
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
export const isFailure = (
  self: RequestResponse
): self is RequestResponse & { readonly error: RequestError | InvalidInputError } =>
  self.error !== undefined

/**
 * @since 0.1.0
 * @category refinements
 */
export const isSuccess = (self: RequestResponse): boolean => self.error === undefined

/**
 * Encodes responses for a thread, a file or another machine.
 *
 * @since 0.1.0
 * @category encoding
 */
export const encodeArray = Schema.encodeSync(Schema.Array(RequestResponse))

/**
 * @since 0.1.0
 * @category decoding
 */
export const decodeArray = Schema.decodeUnknownSync(Schema.Array(RequestResponse))
