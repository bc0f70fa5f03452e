/**
 * The JSONL record written per response, and secret redaction (the writer
 * that puts the records out is `writer.ts`).
 *
 * @internal
 */
import { LoamyError, RequestMap, type RequestResponse } from "@loamy/core"

const { BodyDecodeError, displayUrl, InvalidInputError } = LoamyError

/** Node 22's `JSON.isRawJSON`, which TypeScript's ES2022 lib does not declare. */
const isRawJSON = (JSON as JSON & { isRawJSON(u: unknown): boolean }).isRawJSON

/** @internal */
export const REDACTED = "<redacted>"

/** Headers whose values are credentials by default. */
const defaultSecretHeaders = [
  "authorization",
  "cookie",
  "proxy-authorization",
  "set-cookie",
  "x-api-key",
  "x-auth-token"
]

/**
 * Which header values to hide. `values` are the secret values known up front
 * (from `--header`); a request's own secret headers are added per record.
 *
 * @internal
 */
export interface Redaction {
  readonly enabled: boolean
  readonly names: ReadonlySet<string>
  readonly values: ReadonlyArray<string>
}

/** @internal */
export const makeRedaction = (
  show: boolean,
  extraNames: ReadonlyArray<string>,
  defaultHeaders: Readonly<Record<string, string>>
): Redaction => {
  const names = new Set([...defaultSecretHeaders, ...extraNames.map((n) => n.trim().toLowerCase())])
  const values: Array<string> = []
  for (const name in defaultHeaders) {
    if (names.has(name.toLowerCase()) && defaultHeaders[name] !== "") values.push(defaultHeaders[name]!)
  }
  return { enabled: !show, names, values }
}

type AnyHeaders = { readonly [name: string]: string | ReadonlyArray<string> | undefined }

const redactHeaders = <H extends AnyHeaders>(headers: H | undefined, redaction: Redaction): H | undefined => {
  if (headers === undefined || !redaction.enabled) return headers
  let out: Record<string, string | ReadonlyArray<string> | undefined> | undefined
  for (const name in headers) {
    if (redaction.names.has(name.toLowerCase())) {
      out ??= { ...headers }
      out[name] = REDACTED
    }
  }
  return (out as H | undefined) ?? headers
}

/** The secret values a record may echo: the defaults plus the request's own. */
const secretValues = (request: RequestMap.RequestMap | undefined, redaction: Redaction): ReadonlyArray<string> => {
  const own = request?.headers
  if (own === undefined) return redaction.values
  let values: Array<string> | undefined
  for (const name in own) {
    if (redaction.names.has(name.toLowerCase()) && own[name] !== "") {
      values ??= [...redaction.values]
      values.push(own[name]!)
    }
  }
  return values ?? redaction.values
}

const scrubString = (text: string, values: ReadonlyArray<string>): string => {
  let out = text
  for (const value of values) if (out.includes(value)) out = out.split(value).join(REDACTED)
  return out
}

/**
 * Userinfo (`//user:pass@`) and query strings in text that may hold URLs: a
 * query runs from the first `?` after `://` (spaces allowed before it, as in
 * a URL that is not one) up to a quote, a space or `#`.
 */
const urlUserinfo = /(\/\/)[^/?#\s"'@]*@/g
const urlQuery = /(:\/\/[^"'<>\n?#]*)\?[^\s"'<>#]*/g

/**
 * Hides the secrets of URLs in free text (a message that quotes the input):
 * userinfo and query strings are replaced by `<redacted>`.
 *
 * @internal
 */
export const redactUrls = (text: string): string =>
  text.includes("://") ? text.replace(urlQuery, `$1?${REDACTED}`).replace(urlUserinfo, `$1${REDACTED}@`) : text

/**
 * The detail of a JSON parse error without the excerpt of the text that V8
 * quotes (`Unexpected token 'B', ..."ization": Bearer SEK"... is not valid
 * JSON`): the excerpt may be a header value.
 *
 * @internal
 */
export const parseErrorDetail = (detail: string): string =>
  detail.replace(/,\s*(?:\.\.\.)?"[\s\S]*"(?:\.\.\.)?\s+is not valid JSON$/, "")

/**
 * A check's detail about a header or query parameter without the value it
 * quotes (`must be a string, got the number 123456`): only its kind.
 *
 * @internal
 */
export const fieldDetail = (field: string, detail: string): string =>
  /^(headers|queryParams|query_params)\./i.test(field)
    ? detail.replace(/\bgot the (string|number|boolean|bigint) [\s\S]*$/, "got a $1")
    : detail

/** How deep `showRefused` copies a refused item; deeper values are replaced (and the copy always serialises). */
const SHOWN_DEPTH = 64

const isQueryKey = (key: string) => /^query_?params$/i.test(key)

/**
 * A refused item as its record shows it: every header value, query
 * parameter value, secret-named field, URL userinfo and query string
 * replaced by `<redacted>`, and nothing nested deeper than 64 levels. A
 * refused item is not a request: the CLI cannot know which of its parts are
 * headers, so it hides whatever could be one.
 */
const showRefused = (value: unknown, redaction: Redaction, depth: number, hideValues: boolean): unknown => {
  if (typeof value === "string") return hideValues ? REDACTED : redactUrls(value)
  if (typeof value !== "object" || value === null) return hideValues && value !== null ? REDACTED : value
  if (depth >= SHOWN_DEPTH) return "<nested too deep to show>"
  if (Array.isArray(value)) return value.map((item) => showRefused(item, redaction, depth + 1, hideValues))
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value)) {
    const hide = hideValues || redaction.names.has(key.toLowerCase()) ||
      (depth === 0 && (key.toLowerCase() === "headers" || isQueryKey(key)))
    out[key] = showRefused((value as Record<string, unknown>)[key], redaction, depth + 1, hide)
  }
  return out
}

/** Replaces secret values wherever they appear in a JSON value (an echoing server puts them in bodies). */
const scrub = (value: unknown, values: ReadonlyArray<string>): unknown => {
  if (typeof value === "string") return scrubString(value, values)
  if (Array.isArray(value)) return value.map((item) => scrub(item, values))
  // An exact number (`JSON.rawJSON`): written as it is, not as an object.
  if (isRawJSON(value)) return value
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {}
    for (const key in value) out[scrubString(key, values)] = scrub((value as Record<string, unknown>)[key], values)
    return out
  }
  return value
}

/**
 * An error as `RequestResponse`'s schema encodes it (`_tag` and its fields),
 * plus its `message` for people; the schema ignores `message` when decoding.
 *
 * @internal
 */
export const encodeError = (error: { readonly _tag: string; readonly message: string }): Record<string, unknown> => {
  const out: Record<string, unknown> = { _tag: error._tag }
  for (const [key, value] of Object.entries(error)) {
    if (key !== "_tag" && key !== "message" && key !== "stack") out[key] = value
  }
  out["message"] = error.message
  return out
}

/** A binary body as the schema encodes it. */
const encodeBody = (body: unknown): unknown =>
  body instanceof Uint8Array ? { base64: Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("base64") } : body

const round = (ms: number) => Math.round(ms * 100) / 100

/** JSON text, or undefined for a value `JSON.stringify` cannot write (nested deeper than its stack, say). */
const tryStringify = (value: unknown): string | undefined => {
  try {
    return JSON.stringify(value)
  } catch {
    return undefined
  }
}

/**
 * What the record shows of a request: as JSON holds it (`RequestMap.toJsonable`: bytes as base64), its secret
 * header values redacted.
 */
const shownRequest = (request: RequestMap.RequestMap, redaction: Redaction): object => {
  const headers = redactHeaders(request.headers, redaction)
  const shown = RequestMap.toJsonable(request)
  return headers === request.headers ? shown : { ...shown, headers }
}

const NOT_WRITTEN = "<not written: nested too deep to write as JSON>"

/** Why a value could not be written, for an error's detail ("the body is ..."). */
const reasonOf = (cause: unknown) =>
  cause instanceof RangeError ? "nested too deep to write as JSON" : `not writable as JSON (${String(cause)})`

/**
 * One output line (without the newline) for a response: `RequestResponse`'s
 * own JSON encoding (so `Schema.decodeUnknown(RequestResponse)` reads it back
 * into the same classes), with `index` and, for files, `line` in front.
 *
 * @internal
 */
export const responseRecord = (
  index: number,
  line: number | undefined,
  response: RequestResponse.RequestResponse,
  redaction: Redaction,
  onUnwritable?: (errorTag: string) => void
): string => {
  try {
    const values = redaction.enabled ? secretValues(response.requestMap, redaction) : []
    let body = encodeBody(response.body)
    let error = response.error === undefined ? undefined : encodeError(response.error)
    if (values.length > 0) {
      body = scrub(body, values)
      if (error !== undefined) error = scrub(error, values) as Record<string, unknown>
    }
    const record: Record<string, unknown> = { index }
    if (line !== undefined) record["line"] = line
    record["requestMap"] = shownRequest(response.requestMap, redaction)
    record["statusCode"] = response.statusCode
    record["body"] = body
    record["headers"] = redactHeaders(response.headers, redaction)
    if (error !== undefined) record["error"] = error
    record["elapsedMs"] = round(response.elapsedMs)
    record["attempts"] = response.attempts
    if (response.saved !== undefined) record["saved"] = response.saved
    return JSON.stringify(record)
  } catch (cause) {
    // A body nested deeper than JSON.stringify's stack (a server's JSON bomb): the record is written without it.
    return unwritableRecord(index, line, response, redaction, cause, onUnwritable)
  }
}

/**
 * The record of a response whose record cannot be written whole: each part
 * that cannot be written is replaced, and when the body is the one, it is
 * `null` and the error (if the response had none) a `BodyDecodeError`
 * saying why (`onUnwritable` is told so: the record counts as failed). The
 * run goes on; this index has its record like any other.
 */
const unwritableRecord = (
  index: number,
  line: number | undefined,
  response: RequestResponse.RequestResponse,
  redaction: Redaction,
  cause: unknown,
  onUnwritable: ((errorTag: string) => void) | undefined
): string => {
  const request = response.requestMap
  const values = redaction.enabled ? secretValues(request, redaction) : []
  const part = (make: () => unknown): string | undefined => {
    try {
      return JSON.stringify(make())
    } catch {
      return undefined
    }
  }
  const body = part(() => {
    const encoded = encodeBody(response.body)
    return values.length > 0 ? scrub(encoded, values) : encoded
  })
  let error = response.error === undefined ? undefined : part(() => {
    const encoded = encodeError(response.error!)
    return values.length > 0 ? scrub(encoded, values) : encoded
  })
  if (response.error !== undefined && error === undefined) {
    error = JSON.stringify({ _tag: response.error._tag, message: `${response.error._tag} (its fields are ${reasonOf(cause)})` })
  }
  if (body === undefined && error === undefined) {
    const url = displayUrl(request.url)
    const decodeError = new BodyDecodeError({
      method: request.httpOp,
      url,
      statusCode: response.statusCode,
      detail: `the body is ${reasonOf(cause)}`
    })
    error = JSON.stringify({
      ...encodeError(decodeError),
      message: `${request.httpOp} ${url} answered ${response.statusCode} with a body that is ${reasonOf(cause)}`
    })
    onUnwritable?.(decodeError._tag)
  }
  let text = `{"index":${index}`
  if (line !== undefined) text += `,"line":${line}`
  text += `,"requestMap":${requestMapText(request, redaction)}`
  text += `,"statusCode":${response.statusCode}`
  text += `,"body":${body ?? "null"}`
  text += `,"headers":${part(() => redactHeaders(response.headers, redaction)) ?? "{}"}`
  if (error !== undefined) text += `,"error":${error}`
  text += `,"elapsedMs":${round(response.elapsedMs)},"attempts":${response.attempts}`
  if (response.saved !== undefined) text += `,"saved":${JSON.stringify(response.saved)}`
  return text + "}"
}

/**
 * The JSON text of a request as records show it (secret header values
 * redacted); a body that cannot be written is replaced by a note saying so.
 *
 * @internal
 */
export const requestMapText = (request: RequestMap.RequestMap, redaction: Redaction): string => {
  const shown = shownRequest(request, redaction)
  return tryStringify(shown) ?? JSON.stringify({ ...shown, body: NOT_WRITTEN })
}

/**
 * The output line for an item the core refused (its one rule for a bad
 * item: not sent, an `InvalidInputError` naming the index and field), with
 * the error's message naming the line. The item is shown without anything
 * that could be a secret (see `showRefused`); text that is not JSON is not
 * shown at all, since nothing in it can be told apart from a header value
 * (`--show-secrets` shows both as they are). `override` replaces what the
 * core saw with what the CLI knows better (a line that was not UTF-8).
 *
 * @internal
 */
export const invalidLineRecord = (
  index: number,
  line: number,
  response: RequestResponse.Refused,
  redaction: Redaction,
  override?: { readonly detail: string; readonly raw: string }
): string => {
  const raw: unknown = override?.raw ?? response.requestMap
  const field = override === undefined ? response.error.field : ""
  const detail = override?.detail ?? response.error.detail
  let shownDetail = detail
  if (redaction.enabled) {
    // A parse error quotes the line, and a check may quote a field: neither may show a secret.
    shownDetail = redactUrls(fieldDetail(field, parseErrorDetail(detail)))
    if (redaction.values.length > 0) shownDetail = scrubString(shownDetail, redaction.values)
  }
  let error: Record<string, unknown> = encodeError(new InvalidInputError({ index, field, detail: shownDetail }))
  // In a file, the line is what a person looks for.
  error["message"] = field === ""
    ? `Invalid request on line ${line}: ${shownDetail}`
    : `Invalid request on line ${line}, field ${field}: ${shownDetail}`
  const request: unknown = !redaction.enabled
    ? raw
    : typeof raw === "string"
    ? `<not shown: ${raw.length} characters that are not a JSON request (--show-secrets shows them)>`
    : showRefused(raw, redaction, 0, false)
  const rest = `,"statusCode":${response.statusCode},"body":${tryStringify(response.body) ?? "null"},"headers":${
    tryStringify(response.headers) ?? "{}"
  },"error":${JSON.stringify(error)},"elapsedMs":${round(response.elapsedMs)},"attempts":${response.attempts}}`
  return `{"index":${index},"line":${line},"requestMap":${tryStringify(request) ?? JSON.stringify(NOT_WRITTEN)}${rest}`
}
