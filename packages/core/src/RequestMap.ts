/**
 * One request to send: the original loamy's `RequestMap`, camelCased.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaGetter from "effect/SchemaGetter"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaTransformation from "effect/SchemaTransformation"
import * as json from "./internal/json.js"
import * as perRequest from "./internal/perRequest.js"
import { type BodyFields, FormFields, type InputBodyFields, MultipartPart } from "./internal/requestBodies.js"
import * as requestCheck from "./internal/requestCheck.js"
import * as validate from "./internal/validate.js"
import { InvalidInputError } from "./LoamyError.js"

/**
 * @since 0.1.0
 * @category schemas
 */
export const HttpOp = Schema.Literals(validate.httpOps)

/**
 * @since 0.1.0
 * @category models
 */
export type HttpOp = typeof HttpOp.Type

/**
 * @since 0.1.0
 * @category schemas
 */
export const HttpUrl = Schema.String.check(Schema.makeFilter((u) => validate.httpUrlProblem(u))).annotate({
  identifier: "HttpUrl"
})

/**
 * @since 0.1.0
 * @category schemas
 */
export const Headers = Schema.Record(
  Schema.String,
  Schema.String.check(Schema.makeFilter((value) => validate.headerValueProblem(value)))
).check(
  // Names are checked on the whole record, so that the message can say which.
  Schema.makeFilter((headers) => {
    for (const name of Object.keys(headers)) {
      const problem = validate.headerNameProblem(name)
      if (problem !== undefined) return problem
    }
    return undefined
  })
).annotate({ identifier: "Headers" })

/**
 * @since 0.1.0
 * @category schemas
 */
export const QueryParams = Schema.Record(Schema.String, Schema.String).annotate({ identifier: "QueryParams" })

/**
 * Any value that `JSON.stringify` represents faithfully, `JSON.rawJSON`
 * values (exact numbers) included. Its encoded form is plain data for any
 * transport (structured clone, msgpack, JSON): a `rawJSON` number is
 * encoded as the nearest JS number. To keep its digits, write the value
 * itself with `JSON.stringify`.
 *
 * @since 0.1.0
 * @category schemas
 */
export const JsonValue = Schema.Unknown.pipe(
  Schema.decodeTo(
    Schema.Unknown.check(Schema.makeFilter((u) => {
      const problem = validate.jsonProblem(u)
      return problem === undefined ? undefined : `body${problem[0]} ${problem[1]}`
    })).annotate({ identifier: "JsonValue" }),
    SchemaTransformation.transform({ decode: (u) => u, encode: json.plainNumbers })
  )
)

export {
  /**
   * @since 1.1.0
   * @category models
   */
  type BodyFields,
  /**
   * @since 1.1.0
   * @category schemas
   */
  FormFields,
  /**
   * @since 1.1.0
   * @category models
   */
  type InputBodyFields,
  /**
   * @since 1.1.0
   * @category schemas
   */
  MultipartPart,
  /**
   * @since 1.1.0
   * @category models
   */
  type MultipartPartInput
} from "./internal/requestBodies.js"

/**
 * The names of the call's options a request's `options` may override
 * (`timeout`, `retry`, `maxBodyBytes`): the call's own schemas and grammar.
 *
 * @since 1.1.0
 * @category constants
 */
export const requestOptionNames: ReadonlyArray<RequestOptionName> = perRequest.requestOptionNames

/**
 * @since 1.1.0
 * @category models
 */
export type RequestOptionName = perRequest.RequestOptionName

/**
 * A request's own options once checked: the call's options of the same
 * names, decoded (durations in milliseconds, `Infinity` for none).
 *
 * @since 1.1.0
 * @category models
 */
export type RequestOptions = perRequest.RequestOptions

/**
 * A request's own options as requests are written: the call's option values
 * (`"5s"`, `{ attempts: 3 }`, `1048576`).
 *
 * @since 1.1.0
 * @category models
 */
export type RequestOptionsInput = perRequest.RequestOptionsInput

/**
 * A request's `options` on the wire: an object, decoded by the call's option
 * decoders (anything they read), encoded with durations in milliseconds and
 * `Infinity` as the text `"Infinity"`, which JSON can hold and the grammar
 * reads back. (An object on the wire, so that a JSON codec's `null` for an
 * absent field is not taken for options.)
 *
 * @since 1.1.0
 * @category schemas
 */
export const RequestOptions = Schema.Record(Schema.String, Schema.Unknown).pipe(
  Schema.decodeTo(Schema.toType(perRequest.RequestOptionsFields), {
    decode: SchemaGetter.transformEffect((input: unknown) => {
      const checked = perRequest.checkOptions(input)
      return Result.isSuccess(checked)
        ? Effect.succeed(checked.success)
        : Effect.fail(new SchemaIssue.InvalidValue({ message: `${checked.failure[0]}: ${checked.failure[1]}` }))
    }),
    encode: SchemaGetter.transform(perRequest.jsonOptions)
  })
).annotate({ identifier: "RequestOptions" })

/**
 * The wire form of a request (camelCase), used to encode and decode requests
 * across threads and machines. `bytes` (and a multipart part's) are base64
 * text there.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RequestMap = Schema.Struct({
  url: HttpUrl,
  httpOp: HttpOp,
  body: Schema.optional(JsonValue),
  text: Schema.optional(Schema.String),
  form: Schema.optional(FormFields),
  bytes: Schema.optional(Schema.Uint8ArrayFromBase64),
  multipart: Schema.optional(Schema.Array(MultipartPart)),
  queryParams: Schema.optional(QueryParams),
  headers: Schema.optional(Headers),
  options: Schema.optional(RequestOptions)
}).annotate({ identifier: "RequestMap" })

/**
 * @since 0.1.0
 * @category models
 */
export interface RequestMap extends BodyFields {
  readonly url: string
  readonly httpOp: HttpOp
  /** Appended to the URL's query string. */
  readonly queryParams?: { readonly [name: string]: string } | undefined
  readonly headers?: { readonly [name: string]: string } | undefined
  /**
   * Options of the call's that this request overrides (`timeout`, `retry`,
   * `maxBodyBytes`), and `saveTo`: write the body of a 2xx response to that
   * file instead of memory, streamed; the response's `body` is then `null`
   * and its `saved` says where, how many bytes and their SHA-256. Relative
   * to the call's `saveDir` when it has one. Written under a temporary name
   * (`PATH.loamy-part`) and renamed when whole; a later run resumes it with a
   * `Range` request.
   */
  readonly options?: RequestOptions | undefined
}

/**
 * A method as requests may spell it: any case.
 *
 * @since 0.2.0
 * @category models
 */
export type HttpOpInput = HttpOp | Lowercase<HttpOp> | Capitalize<Lowercase<HttpOp>>

/**
 * A request as callers and files write it, before `validateAt` puts it in
 * canonical form: camelCase or the original's snake_case names, a method in
 * any case, `null` for an absent body, query or headers.
 *
 * @since 0.2.0
 * @category models
 */
export type RequestMapInput =
  | (InputBodyFields & {
    readonly url: string
    readonly httpOp: HttpOpInput
    readonly queryParams?: { readonly [name: string]: string } | null | undefined
    readonly headers?: { readonly [name: string]: string } | null | undefined
    readonly options?: RequestOptionsInput | null | undefined
  })
  | (InputBodyFields & {
    readonly url: string
    readonly http_op: HttpOpInput
    readonly query_params?: { readonly [name: string]: string } | null | undefined
    readonly headers?: { readonly [name: string]: string } | null | undefined
    readonly options?: RequestOptionsInput | null | undefined
  })

/**
 * What `validateAt` needs besides the request: the call's `baseUrl`, which
 * a relative `url` is joined to. A decoded `Options.Resolved` is one.
 *
 * @since 1.1.0
 * @category models
 */
export interface ValidateContext {
  readonly baseUrl?: string | undefined
}

/**
 * Checks one request and returns it in canonical form: camelCase fields,
 * upper-case method, nothing else. Accepts the original's snake_case field
 * names (`http_op`, `query_params`) and a method in any case. The error names
 * `index` and the field at fault.
 *
 * Fields are read as the request's own properties only, and so are the
 * names of `headers` and `queryParams`: nothing inherited (a prototype, a
 * polluted `Object.prototype`) is ever sent. A body may hold `JSON.rawJSON`
 * values (exact numbers), written as their text; it may nest at most
 * `maxJsonDepth` levels. At most one of `body`, `text`, `form`, `bytes` and
 * `multipart` holds the body. A `url` without a scheme (`/users/1`) is
 * joined to `context.baseUrl` (see the `baseUrl` option) and refused
 * without one. A multipart file's path is not looked at: a file that cannot
 * be read is the request's `RequestBodyError` when it is sent.
 *
 * @since 0.1.0
 * @category decoding
 */
export const validateAt: (
  input: unknown,
  index: number,
  context?: ValidateContext
) => Result.Result<RequestMap, InvalidInputError> = requestCheck.validateAt

/**
 * `JSON.parse` as loamy reads requests from files and streams: a number
 * that a JS number would change (`12345678901234567890`,
 * `9007199254740993`) becomes `JSON.rawJSON(text)`, which is sent digit for
 * digit (with `exactNumbers: false`, plain `JSON.parse`). Throws a
 * `SyntaxError` for text that is not JSON, and a `RangeError` for text
 * nested deeper than `maxDepth` levels (by default `maxJsonDepth`, plus
 * one: the request object around a body).
 *
 * @since 0.5.0
 * @category decoding
 */
export const parseJson = (
  text: string,
  options?: { readonly exactNumbers?: boolean | undefined; readonly maxDepth?: number | undefined }
): unknown => {
  const limit = options?.maxDepth ?? json.maxDepth + 1
  if (json.deepIn(text, limit) !== undefined) throw new RangeError(`nested deeper than ${limit} levels`)
  return json.parse(text, options?.exactNumbers !== false)
}

/**
 * How deep a body (of a request or a response) may nest arrays and
 * objects: 1,000 levels. A request body nested deeper is refused as bad
 * input (field `body`); a response body nested deeper gets a
 * `BodyDecodeError`. Structured clone and `JSON.stringify` overflow the
 * stack a few thousand levels down, so such a value could cross no door.
 *
 * @since 0.5.0
 * @category constants
 */
export const maxJsonDepth: number = json.maxDepth

/**
 * `validateAt` for an item of a stream or a file: a string is JSON text (a
 * line of a JSONL file) and is parsed first, its numbers kept exact (see
 * `parseJson`). The check every door and the cluster apply to such items;
 * `context` as `validateAt`'s.
 *
 * @since 0.3.0
 * @category decoding
 */
export const validateItem = (
  item: unknown,
  index: number,
  context?: ValidateContext
): Result.Result<RequestMap, InvalidInputError> => {
  if (typeof item !== "string") return validateAt(item, index, context)
  // Not built at all when it is too deep: the refused item keeps its text, which every door can carry.
  const deep = json.deepIn(item, json.maxDepth + 1)
  if (deep !== undefined) {
    return Result.fail(new InvalidInputError({ index, field: deep, detail: `is nested deeper than ${json.maxDepth} levels` }))
  }
  let parsed: unknown
  try {
    parsed = json.parse(item, true)
  } catch (cause) {
    return Result.fail(
      new InvalidInputError({ index, field: "", detail: `not valid JSON: ${(cause as Error).message}` })
    )
  }
  return validateAt(parsed, index, context)
}

/**
 * Checks every request, stopping at the first bad one; nothing is sent when
 * this fails. `context` as `validateAt`'s.
 *
 * @since 0.1.0
 * @category decoding
 */
export const validateAll = (
  inputs: Iterable<unknown>,
  context?: ValidateContext
): Result.Result<ReadonlyArray<RequestMap>, InvalidInputError> => {
  const out: Array<RequestMap> = []
  let index = 0
  for (const input of inputs) {
    const result = validateAt(input, index++, context)
    if (Result.isFailure(result)) return Result.fail(result.failure)
    out.push(result.success)
  }
  return Result.succeed(out)
}

/**
 * Decodes a request from anything: camelCase or the original's snake_case
 * field names, a method in any case. Encodes to the camelCase wire form.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RequestMapFromInput: Schema.Codec<RequestMap, unknown> = Schema.Unknown.pipe(
  Schema.decodeTo(Schema.toType(RequestMap), {
    decode: SchemaGetter.transformEffect((input: unknown) => {
      const checked = validateAt(input, 0)
      if (Result.isSuccess(checked)) return Effect.succeed(checked.success)
      const error = checked.failure
      return Effect.fail(
        new SchemaIssue.InvalidValue({ message: error.field === "" ? error.detail : `${error.field}: ${error.detail}` })
      )
    }),
    encode: SchemaGetter.passthrough({ strict: false })
  })
).annotate({ identifier: "RequestMapFromInput" })

const encodeBytes = Schema.encodeSync(Schema.Uint8ArrayFromBase64)

const jsonPart = (part: MultipartPart): object => ("bytes" in part ? { ...part, bytes: encodeBytes(part.bytes) } : part)

/**
 * A request as JSON holds it, for `JSON.stringify` (loamy's CLI writes its
 * records so): the `RequestMap` schema's encoding, `bytes` as base64 and
 * `Infinity` durations as text, but with a body's exact numbers
 * (`JSON.rawJSON` values) kept, which `JSON.stringify` writes digit for
 * digit. The request itself when it has nothing of the kind, which is the
 * common case.
 *
 * @since 1.1.0
 * @category encoding
 */
export const toJsonable = (request: RequestMap): RequestMap | Record<string, unknown> => {
  if (request.bytes === undefined && request.multipart === undefined && request.options === undefined) return request
  const out: Record<string, unknown> = { ...request }
  if (request.bytes !== undefined) out["bytes"] = encodeBytes(request.bytes)
  if (request.multipart !== undefined) out["multipart"] = request.multipart.map(jsonPart)
  if (request.options !== undefined) out["options"] = perRequest.jsonOptions(request.options)
  return out
}
