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

/**
 * A file path for a response body (see `RequestMap.saveTo`): not empty, no
 * NUL byte.
 *
 * @since 1.1.0
 * @category schemas
 */
export const SaveTo = Schema.String.check(Schema.makeFilter((path) => validate.savePathProblem(path))).annotate({
  identifier: "SaveTo"
})

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
  headers: Schema.optional(Headers),
  saveTo: Schema.optional(SaveTo)
}).annotate({ identifier: "RequestMap" })

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
  /**
   * Write the body of a 2xx response to this file instead of memory,
   * streamed (the response's `body` is then `null` and its `saved` says
   * where, how many bytes and their SHA-256). Relative to the call's
   * `saveDir` when it has one, else to the working directory. Written under
   * a temporary name first (`PATH.loamy-part`) and renamed when complete; a
   * later run resumes that file with a `Range` request.
   *
   * @since 1.1.0
   */
  readonly saveTo?: string | undefined
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
    readonly saveTo?: string | null | undefined
  }
  | {
    readonly url: string
    readonly http_op: HttpOpInput
    readonly body?: unknown
    readonly query_params?: { readonly [name: string]: string } | null | undefined
    readonly headers?: { readonly [name: string]: string } | null | undefined
    readonly save_to?: string | null | undefined
  }

const fields = "url, httpOp (or http_op), body, queryParams (or query_params), headers, saveTo (or save_to)"

const fail = (index: number, field: string, detail: string) =>
  Result.fail(new InvalidInputError({ index, field, detail }))

/** `null` means absent, as in the original's serialized requests (`"body": null`). */
const given = (value: unknown) => value !== undefined && value !== null

const pick = (
  camelValue: unknown,
  snakeValue: unknown,
  camel: string,
  snake: string,
  index: number
): Result.Result<unknown, InvalidInputError> => {
  const hasCamel = given(camelValue)
  if (hasCamel && given(snakeValue)) return fail(index, camel, `both ${camel} and ${snake} are given; use one`)
  return Result.succeed(hasCamel ? camelValue : snakeValue)
}

const checkStringRecord = (
  value: unknown,
  index: number,
  field: "queryParams" | "headers"
): Result.Result<Record<string, string> | undefined, InvalidInputError> => {
  if (value === undefined || value === null) return Result.succeed(undefined)
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
  return Result.succeed(value as Record<string, string>)
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
  headers: { value: undefined, writable: true },
  saveTo: { value: undefined, writable: true }
})

/**
 * A body's JSON form when it has `toJSON` methods (a `Date`, a class): what
 * `JSON.stringify` makes of it, read back with its numbers exact, and
 * checked like any body. A `toJSON` that throws, returns a BigInt or builds
 * a cycle is bad input, not a crash.
 */
const viaToJSON = (body: unknown, index: number): Result.Result<unknown, InvalidInputError> => {
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
  return Result.succeed(json.parse(text, true))
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
export const validateAt = (input: unknown, index: number): Result.Result<RequestMap, InvalidInputError> => {
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
  let camelSave: unknown
  let snakeSave: unknown
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
      case "saveTo":
        camelSave = record[key]
        break
      case "save_to":
        snakeSave = record[key]
        break
      default:
        return fail(index, key, `unknown field (expected ${fields})`)
    }
  }
  const urlProblem = validate.httpUrlProblem(url)
  if (urlProblem) return fail(index, "url", urlProblem)
  const op = pick(httpOp, http_op, "httpOp", "http_op", index)
  if (Result.isFailure(op)) return Result.fail(op.failure)
  const method = typeof op.success === "string" ? op.success.toUpperCase() : op.success
  if (!validate.isHttpOp(method)) {
    return fail(index, "httpOp", `must be one of ${validate.httpOps.join(", ")}; got ${validate.describe(op.success)}`)
  }
  const query = pick(camelQuery, snakeQuery, "queryParams", "query_params", index)
  if (Result.isFailure(query)) return Result.fail(query.failure)
  const queryParams = checkStringRecord(query.success, index, "queryParams")
  if (Result.isFailure(queryParams)) return Result.fail(queryParams.failure)
  const headers = checkStringRecord(rawHeaders, index, "headers")
  if (Result.isFailure(headers)) return Result.fail(headers.failure)
  let saveTo: string | undefined
  if (camelSave !== undefined || snakeSave !== undefined) {
    const save = pick(camelSave, snakeSave, "saveTo", "save_to", index)
    if (Result.isFailure(save)) return Result.fail(save.failure)
    if (given(save.success)) {
      const problem = validate.savePathProblem(save.success)
      if (problem !== undefined) return fail(index, "saveTo", problem)
      saveTo = save.success as string
    }
  }
  let body = rawBody
  if (body === null) body = undefined
  if (body !== undefined) {
    const problem = validate.jsonCheck(body)
    if (problem === "toJSON") {
      const written = viaToJSON(body, index)
      if (Result.isFailure(written)) return Result.fail(written.failure)
      body = written.success
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
    saveTo?: string
  } = Object.create(canonicalProto)
  out.url = url as string
  out.httpOp = method
  if (body !== undefined) out.body = body
  if (queryParams.success !== undefined) out.queryParams = queryParams.success
  if (headers.success !== undefined) out.headers = headers.success
  if (saveTo !== undefined) out.saveTo = saveTo
  return Result.succeed(out)
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
export const validateItem = (item: unknown, index: number): Result.Result<RequestMap, InvalidInputError> => {
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
    return Result.fail(
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
): Result.Result<ReadonlyArray<RequestMap>, InvalidInputError> => {
  const out: Array<RequestMap> = []
  let index = 0
  for (const input of inputs) {
    const result = validateAt(input, index++)
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
