/**
 * One request to send: the original loamy's `RequestMap`, camelCased.
 *
 * @since 0.1.0
 */
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
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
 * Any value that `JSON.stringify` represents faithfully.
 *
 * @since 0.1.0
 * @category schemas
 */
export const JsonValue = Schema.Unknown.pipe(
  Schema.filter((u) => {
    const problem = validate.jsonProblem(u)
    return problem === undefined ? true : `body${problem[0]} ${problem[1]}`
  }, { identifier: "JsonValue" })
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
  input: Record<string, unknown>,
  camel: string,
  snake: string,
  index: number
): Either.Either<unknown, InvalidInputError> => {
  const hasCamel = given(input[camel])
  const hasSnake = given(input[snake])
  if (hasCamel && hasSnake) return fail(index, camel, `both ${camel} and ${snake} are given; use one`)
  return Either.right(hasCamel ? input[camel] : input[snake])
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
 * Checks one request and returns it in canonical form: camelCase fields,
 * upper-case method, nothing else. Accepts the original's snake_case field
 * names (`http_op`, `query_params`) and a method in any case. The error names
 * `index` and the field at fault.
 *
 * @since 0.1.0
 * @category decoding
 */
export const validateAt = (input: unknown, index: number): Either.Either<RequestMap, InvalidInputError> => {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return fail(index, "", `a request must be an object with ${fields}; got ${validate.describe(input)}`)
  }
  const record = input as Record<string, unknown>
  for (const key of Object.keys(record)) {
    if (!knownFields.has(key)) {
      return fail(index, key, `unknown field (expected ${fields})`)
    }
  }
  const urlProblem = validate.httpUrlProblem(record["url"])
  if (urlProblem) return fail(index, "url", urlProblem)
  const op = pick(record, "httpOp", "http_op", index)
  if (Either.isLeft(op)) return Either.left(op.left)
  const method = typeof op.right === "string" ? op.right.toUpperCase() : op.right
  if (!validate.isHttpOp(method)) {
    return fail(index, "httpOp", `must be one of ${validate.httpOps.join(", ")}; got ${validate.describe(op.right)}`)
  }
  const query = pick(record, "queryParams", "query_params", index)
  if (Either.isLeft(query)) return Either.left(query.left)
  const queryParams = checkStringRecord(query.right, index, "queryParams")
  if (Either.isLeft(queryParams)) return Either.left(queryParams.left)
  const headers = checkStringRecord(record["headers"], index, "headers")
  if (Either.isLeft(headers)) return Either.left(headers.left)
  let body = record["body"]
  if (body === null) body = undefined
  if (body !== undefined) {
    const problem = validate.jsonCheck(body)
    if (problem === "toJSON") body = JSON.parse(JSON.stringify(body))
    else if (problem) return fail(index, `body${problem[0]}`, problem[1])
  }
  const out: {
    url: string
    httpOp: HttpOp
    body?: unknown
    queryParams?: Record<string, string>
    headers?: Record<string, string>
  } = { url: record["url"] as string, httpOp: method }
  if (body !== undefined) out.body = body
  if (queryParams.right !== undefined) out.queryParams = queryParams.right
  if (headers.right !== undefined) out.headers = headers.right
  return Either.right(out)
}

/**
 * `validateAt` for an item of a stream or a file: a string is JSON text (a
 * line of a JSONL file) and is parsed first. The check every door and the
 * cluster apply to such items.
 *
 * @since 0.3.0
 * @category decoding
 */
export const validateItem = (item: unknown, index: number): Either.Either<RequestMap, InvalidInputError> => {
  if (typeof item !== "string") return validateAt(item, index)
  let parsed: unknown
  try {
    parsed = JSON.parse(item)
  } catch (cause) {
    return Either.left(
      new InvalidInputError({ index, field: "", detail: `not valid JSON: ${(cause as Error).message}` })
    )
  }
  return validateAt(parsed, index)
}

const knownFields: ReadonlySet<string> = new Set([
  "url",
  "httpOp",
  "http_op",
  "body",
  "queryParams",
  "query_params",
  "headers"
])

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
