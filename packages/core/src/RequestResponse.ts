/**
 * One result per request: the original loamy's `RequestResponse`, camelCased,
 * plus the time it took and the attempts it needed.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
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
 *
 * @since 0.2.0
 * @category models
 */
export interface ResponseHeaders {
  readonly "set-cookie"?: ReadonlyArray<string>
  readonly [name: string]: string | ReadonlyArray<string>
}

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
  body: Schema.Union(BinaryBody, Schema.Unknown),
  headers: Schema.Record({ key: Schema.String, value: Schema.Union(Schema.String, Schema.Array(Schema.String)) }),
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
