/**
 * The check of one request at the door (`RequestMap.validateAt`): every
 * field read once as the request's own, refused with the index and the
 * field at fault, and the request put in canonical form. Written by hand
 * rather than as a Schema decode: it runs once per request on every call.
 *
 * @internal
 */
import * as Result from "effect/Result"
import { InvalidInputError } from "../LoamyError.js"
import type { RequestMap, ValidateContext } from "../RequestMap.js"
import * as forms from "./forms.js"
import * as json from "./json.js"
import * as perRequest from "./perRequest.js"
import * as validate from "./validate.js"

const fields = "url, httpOp (or http_op), body (or one of text, form, bytes, multipart), queryParams (or " +
  "query_params), headers, options"

const bodyNames = "body, text, form, bytes and multipart"

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
  text: { value: undefined, writable: true },
  form: { value: undefined, writable: true },
  bytes: { value: undefined, writable: true },
  multipart: { value: undefined, writable: true },
  queryParams: { value: undefined, writable: true },
  headers: { value: undefined, writable: true },
  options: { value: undefined, writable: true }
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

/** The JSON `body`, checked: its canonical value (undefined: none), or why it is refused. */
const checkBody = (body: unknown, index: number): Result.Result<unknown, InvalidInputError> => {
  if (body === null || body === undefined) return Result.succeed(undefined)
  const problem = validate.jsonCheck(body)
  if (problem === "toJSON") return viaToJSON(body, index)
  if (problem === undefined) return Result.succeed(body)
  // Bytes, a FormData, a Blob: not JSON, but another body field sends them.
  const hint = problem[0] === "" ? forms.notJsonHint(body) : undefined
  return fail(index, `body${problem[0]}`, hint === undefined ? problem[1] : `${problem[1]}; ${hint}`)
}

/** Why `url` is refused: the URL's problem, and for a path without a base URL, what it needs. */
const urlDetail = (url: unknown, problem: string, baseUrl: string | undefined): string =>
  baseUrl === undefined && typeof url === "string" && !validate.hasScheme(url) && !/[\x00-\x1f\x7f]/.test(url)
    ? `${problem} (a relative url needs the baseUrl option)`
    : problem

/** @internal */
export const validateAt = (
  input: unknown,
  index: number,
  context?: ValidateContext
): Result.Result<RequestMap, InvalidInputError> => {
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
  let rawOptions: unknown
  let other: forms.BodyField | undefined
  let otherValue: unknown
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
      case "text":
      case "form":
      case "bytes":
      case "multipart": {
        const value = record[key]
        if (!given(value)) break
        if (other !== undefined) return fail(index, key, `${other} is given already: a request has one of ${bodyNames}`)
        other = key
        otherValue = value
        break
      }
      case "queryParams":
        camelQuery = record[key]
        break
      case "query_params":
        snakeQuery = record[key]
        break
      case "headers":
        rawHeaders = record[key]
        break
      case "options":
        rawOptions = record[key]
        break
      case "signal":
        return fail(index, key, "a request's own AbortSignal is taken by sendRequests only (it cannot cross a thread or a file)")
      default:
        return fail(index, key, `unknown field (expected ${fields})`)
    }
  }
  const baseUrl = context?.baseUrl
  let target = url
  // A path (no scheme) is joined to the call's base URL; an absolute URL is used as it is.
  if (baseUrl !== undefined && typeof url === "string" && !validate.hasScheme(url)) target = validate.joinUrl(baseUrl, url)
  const urlProblem = validate.httpUrlProblem(target)
  if (urlProblem) return fail(index, "url", urlDetail(url, urlProblem, baseUrl))
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
  const body = checkBody(rawBody, index)
  if (Result.isFailure(body)) return Result.fail(body.failure)
  const out: {
    url: string
    httpOp: RequestMap["httpOp"]
    body?: unknown
    text?: string
    form?: forms.FormFields
    bytes?: Uint8Array
    multipart?: ReadonlyArray<forms.MultipartPart>
    queryParams?: Record<string, string>
    headers?: Record<string, string>
    options?: perRequest.RequestOptions
  } = Object.create(canonicalProto)
  out.url = target as string
  out.httpOp = method
  if (body.success !== undefined) out.body = body.success
  if (other !== undefined) {
    if (body.success !== undefined) return fail(index, other, `body is given already: a request has one of ${bodyNames}`)
    const checked = forms.checkBodyField(other, otherValue)
    if (Result.isFailure(checked)) return fail(index, checked.failure[0], checked.failure[1])
    ;(out as Record<string, unknown>)[other] = checked.success
  }
  if (queryParams.success !== undefined) out.queryParams = queryParams.success
  if (headers.success !== undefined) out.headers = headers.success
  if (given(rawOptions)) {
    const options = perRequest.checkOptions(rawOptions)
    if (Result.isFailure(options)) return fail(index, options.failure[0], options.failure[1])
    out.options = options.success
  }
  return Result.succeed(out)
}
