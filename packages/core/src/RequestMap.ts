/**
 * One request to send: the original loamy's `RequestMap`, camelCased.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as json from "./internal/json.js"
import * as validate from "./internal/validate.js"
import { InvalidInputError } from "./LoamyError.js"

/**
 * @since 0.1.0
 * @category schemas
 */
export const HttpOp = Schema.Literal(...validate.httpOps)

/**
 * @since 0.1.0
 * @category models
 */
export type HttpOp = typeof HttpOp.Type

/**
 * @since 0.1.0
 * @category schemas
 */
export const HttpUrl = Schema.String.pipe(
  Schema.filter((u) => validate.httpUrlProblem(u) ?? true, { identifier: "HttpUrl" })
)

/**
 * @since 0.1.0
 * @category schemas
 */
export const Headers = Schema.Record({
  key: Schema.String,
  value: Schema.String.pipe(Schema.filter((value) => validate.headerValueProblem(value) ?? true))
}).pipe(
  // A refined record key only selects which keys are checked (the others are
  // ignored as excess), so names are checked on the whole record instead.
  Schema.filter((headers) => {
    for (const name of Object.keys(headers)) {
      const problem = validate.headerNameProblem(name)
      if (problem !== undefined) return problem
    }
    return true
  })
).annotations({ identifier: "Headers" })

/**
 * @since 0.1.0
 * @category schemas
 */
export const QueryParams = Schema.Record({ key: Schema.String, value: Schema.String }).annotations({
  identifier: "QueryParams"
})

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
export const JsonValue = Schema.transform(
  Schema.Unknown,
  Schema.Unknown.pipe(
    Schema.filter((u) => {
      const problem = validate.jsonProblem(u)
      return problem === undefined ? true : `body${problem[0]} ${problem[1]}`
    }, { identifier: "JsonValue" })
  ),
  { strict: true, decode: (u) => u, encode: json.plainNumbers }
)

/**
 * The wire form of a request (camelCase), used to encode and decode requests
 * across threads and machines.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RequestMap = Schema.Struct({
  url: HttpUrl,
  httpOp: HttpOp,
  body: Schema.optional(JsonValue),
  queryParams: Schema.optional(QueryParams),
  headers: Schema.optional(Headers)
}).annotations({ identifier: "RequestMap" })

/**
 * @since 0.1.0
 * @category models
 */
export interface RequestMap {
  readonly url: string
  readonly httpOp: HttpOp
  /**
   * Sent as JSON (with `content-type: application/json` unless the request's
   * headers name another) when present; `null` means no body, as in the
   * original. A value with a `toJSON` method is sent as `JSON.stringify` makes it.
   */
  readonly body?: unknown
  /** Appended to the URL's query string. */
  readonly queryParams?: { readonly [name: string]: string } | undefined
  readonly headers?: { readonly [name: string]: string } | undefined
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
  | {
    readonly url: string
    readonly httpOp: HttpOpInput
    readonly body?: unknown
    readonly queryParams?: { readonly [name: string]: string } | null | undefined
    readonly headers?: { readonly [name: string]: string } | null | undefined
  }
  | {
    readonly url: string
    readonly http_op: HttpOpInput
    readonly body?: unknown
    readonly query_params?: { readonly [name: string]: string } | null | undefined
    readonly headers?: { readonly [name: string]: string } | null | undefined
  }

const fields = "url, httpOp (or http_op), body, queryParams (or query_params), headers"

const fail = (index: number, field: string, detail: string) =>
  Either.left(new InvalidInputError({ index, field, detail }))

/** `null` means absent, as in the original's serialized requests (`"body": null`). */
const given = (value: unknown) => value !== undefined && value !== null

const pick = (
  camelValue: unknown,
  snakeValue: unknown,
  camel: string,
  snake: string,
  index: number
): Either.Either<unknown, InvalidInputError> => {
  const hasCamel = given(camelValue)
  if (hasCamel && given(snakeValue)) return fail(index, camel, `both ${camel} and ${snake} are given; use one`)
  return Either.right(hasCamel ? camelValue : snakeValue)
}

const checkStringRecord = (
  value: unknown,
  index: number,
  field: "queryParams" | "headers"
): Either.Either<Record<string, string> | undefined, InvalidInputError> => {
  if (value === undefined || value === null) return Either.right(undefined)
  if (typeof value !== "object" || Array.isArray(value)) {
    return fail(index, field, `must be an object of strings, got ${validate.describe(value)}`)
  }
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key]
    if (field === "headers") {
      const nameProblem = validate.headerNameProblem(key)
      if (nameProblem) return fail(index, field, nameProblem)
      const valueProblem = validate.headerValueProblem(item)
      if (valueProblem) return fail(index, `headers.${key}`, valueProblem)
    } else if (typeof item !== "string") {
      return fail(index, `queryParams.${key}`, `must be a string, got ${validate.describe(item)}`)
    }
  }
  return Either.right(value as Record<string, string>)
}

/**
 * The prototype of a request in canonical form: `Object.prototype` with the
 * optional fields shadowed by undefined, not enumerable. A request without
 * its own `headers` then reads undefined there even when
 * `Object.prototype.headers` has been set (prototype pollution), at no cost
 * per read; the object still looks and compares like a plain one.
 */
const canonicalProto: object = Object.create(Object.prototype, {
  body: { value: undefined, writable: true },
  queryParams: { value: undefined, writable: true },
  headers: { value: undefined, writable: true }
})

/**
 * A body's JSON form when it has `toJSON` methods (a `Date`, a class): what
 * `JSON.stringify` makes of it, read back with its numbers exact, and
 * checked like any body. A `toJSON` that throws, returns a BigInt or builds
 * a cycle is bad input, not a crash.
 */
const viaToJSON = (body: unknown, index: number): Either.Either<unknown, InvalidInputError> => {
  let text: string | undefined
  try {
    text = JSON.stringify(body)
  } catch (cause) {
    const detail = cause instanceof RangeError
      ? `is nested deeper than ${json.maxDepth} levels`
      : `cannot be written as JSON: ${String((cause as Error)?.message ?? cause).split("\n")[0]}`
    return fail(index, "body", detail)
  }
  // `toJSON` may give undefined (or a function): no body at all, as `JSON.stringify` would send nothing.
  if (text === undefined) return fail(index, "body", "is undefined once written as JSON (its toJSON gave nothing)")
  if (json.deepIn(text) !== undefined) return fail(index, "body", `is nested deeper than ${json.maxDepth} levels`)
  return Either.right(json.parse(text, true))
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
 * `maxJsonDepth` levels.
 *
 * @since 0.1.0
 * @category decoding
 */
export const validateAt = (input: unknown, index: number): Either.Either<RequestMap, InvalidInputError> => {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return fail(index, "", `a request must be an object with ${fields}; got ${validate.describe(input)}`)
  }
  // One pass over the own enumerable keys: unknown names refused, known ones read (never through the prototype).
  let url: unknown
  let httpOp: unknown
  let http_op: unknown
  let rawBody: unknown
  let camelQuery: unknown
  let snakeQuery: unknown
  let rawHeaders: unknown
  const record = input as Record<string, unknown>
  for (const key of Object.keys(record)) {
    switch (key) {
      case "url":
        url = record[key]
        break
      case "httpOp":
        httpOp = record[key]
        break
      case "http_op":
        http_op = record[key]
        break
      case "body":
        rawBody = record[key]
        break
      case "queryParams":
        camelQuery = record[key]
        break
      case "query_params":
        snakeQuery = record[key]
        break
      case "headers":
        rawHeaders = record[key]
        break
      default:
        return fail(index, key, `unknown field (expected ${fields})`)
    }
  }
  const urlProblem = validate.httpUrlProblem(url)
  if (urlProblem) return fail(index, "url", urlProblem)
  const op = pick(httpOp, http_op, "httpOp", "http_op", index)
  if (Either.isLeft(op)) return Either.left(op.left)
  const method = typeof op.right === "string" ? op.right.toUpperCase() : op.right
  if (!validate.isHttpOp(method)) {
    return fail(index, "httpOp", `must be one of ${validate.httpOps.join(", ")}; got ${validate.describe(op.right)}`)
  }
  const query = pick(camelQuery, snakeQuery, "queryParams", "query_params", index)
  if (Either.isLeft(query)) return Either.left(query.left)
  const queryParams = checkStringRecord(query.right, index, "queryParams")
  if (Either.isLeft(queryParams)) return Either.left(queryParams.left)
  const headers = checkStringRecord(rawHeaders, index, "headers")
  if (Either.isLeft(headers)) return Either.left(headers.left)
  let body = rawBody
  if (body === null) body = undefined
  if (body !== undefined) {
    const problem = validate.jsonCheck(body)
    if (problem === "toJSON") {
      const written = viaToJSON(body, index)
      if (Either.isLeft(written)) return Either.left(written.left)
      body = written.right
    } else if (problem) {
      return fail(index, `body${problem[0]}`, problem[1])
    }
  }
  const out: {
    url: string
    httpOp: HttpOp
    body?: unknown
    queryParams?: Record<string, string>
    headers?: Record<string, string>
  } = Object.create(canonicalProto)
  out.url = url as string
  out.httpOp = method
  if (body !== undefined) out.body = body
  if (queryParams.right !== undefined) out.queryParams = queryParams.right
  if (headers.right !== undefined) out.headers = headers.right
  return Either.right(out)
}

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
 * `parseJson`). The check every door and the cluster apply to such items.
 *
 * @since 0.3.0
 * @category decoding
 */
export const validateItem = (item: unknown, index: number): Either.Either<RequestMap, InvalidInputError> => {
  if (typeof item !== "string") return validateAt(item, index)
  // Not built at all when it is too deep: the refused item keeps its text, which every door can carry.
  const deep = json.deepIn(item, json.maxDepth + 1)
  if (deep !== undefined) {
    return fail(index, deep, `is nested deeper than ${json.maxDepth} levels`)
  }
  let parsed: unknown
  try {
    parsed = json.parse(item, true)
  } catch (cause) {
    return Either.left(
      new InvalidInputError({ index, field: "", detail: `not valid JSON: ${(cause as Error).message}` })
    )
  }
  return validateAt(parsed, index)
}

/**
 * Checks every request, stopping at the first bad one; nothing is sent when
 * this fails.
 *
 * @since 0.1.0
 * @category decoding
 */
export const validateAll = (
  inputs: Iterable<unknown>
): Either.Either<ReadonlyArray<RequestMap>, InvalidInputError> => {
  const out: Array<RequestMap> = []
  let index = 0
  for (const input of inputs) {
    const result = validateAt(input, index++)
    if (Either.isLeft(result)) return Either.left(result.left)
    out.push(result.right)
  }
  return Either.right(out)
}

/**
 * Decodes a request from anything: camelCase or the original's snake_case
 * field names, a method in any case. Encodes to the camelCase wire form.
 *
 * @since 0.1.0
 * @category schemas
 */
export const RequestMapFromInput: Schema.Schema<RequestMap, unknown> = Schema.transformOrFail(
  Schema.Unknown,
  Schema.typeSchema(RequestMap),
  {
    strict: true,
    decode: (input, _options, ast) =>
      Either.match(validateAt(input, 0), {
        onLeft: (error) =>
          ParseResult.fail(
            new ParseResult.Type(ast, input, error.field === "" ? error.detail : `${error.field}: ${error.detail}`)
          ),
        onRight: ParseResult.succeed
      }),
    encode: ParseResult.succeed
  }
).annotations({ identifier: "RequestMapFromInput" }) as unknown as Schema.Schema<RequestMap, unknown>
