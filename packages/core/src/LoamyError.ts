/**
 * The errors loamy folds into responses (one per request) and the one it
 * refuses bad input with. All are `Schema.TaggedError` classes, so they encode
 * to plain JSON (`{ "_tag": ..., ... }`) and decode back into the same classes
 * on the other side of a worker thread or a JSONL file.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import * as SchemaTransformation from "effect/SchemaTransformation"
import { withoutSecrets } from "./internal/validate.js"

/**
 * A URL as errors hold and show it: origin and path, never the query string
 * (it often holds tokens), the fragment or credentials. Every error's `url`
 * (and a `RedirectError`'s `location`) is made this way when the error is
 * made, or decoded, so neither `JSON.stringify(error)`, a log line nor a CLI
 * record can show them. The full URL stays in the response's `requestMap`.
 *
 * @since 0.2.0
 * @category formatting
 */
export const displayUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    return parsed.origin === "null" ? `${parsed.protocol}${parsed.pathname}` : parsed.origin + parsed.pathname
  } catch {
    return withoutSecrets(url)
  }
}

/**
 * A URL field of an error: decoding (the wire, a file, an old record)
 * redacts it as the constructor does (see `redactingUrls`).
 */
const Url = Schema.String.pipe(
  Schema.decodeTo(Schema.String, SchemaTransformation.transform({ decode: displayUrl, encode: (url) => url }))
)

/**
 * How errors redact their URLs: the error classes below extend their schema
 * class through this, and their `url` and `location` fields are `Url`s, so
 * whoever makes one (the engine, a user, a decoder reading the wire or a
 * file) gets them without query string or credentials.
 */
const redactingUrls = <C extends new(...args: Array<any>) => any>(Base: C): C =>
  class extends Base {
    constructor(...args: Array<any>) {
      const props = args[0] as { url?: unknown; location?: unknown } | undefined
      if (props !== undefined && props !== null) {
        const redacted: Record<string, unknown> = { ...props }
        if (typeof props.url === "string") redacted["url"] = displayUrl(props.url)
        if (typeof props.location === "string") redacted["location"] = displayUrl(props.location)
        args[0] = redacted
      }
      super(...args)
    }
  }

/**
 * Why a connection-level failure happened, read from the socket error code.
 *
 * @since 0.1.0
 * @category models
 */
export const TransportReason = Schema.Literals([
  "ConnectionRefused",
  "ConnectionReset",
  "DnsLookup",
  "ConnectTimeout",
  "Tls",
  "Unknown"
])

/**
 * @since 0.1.0
 * @category models
 */
export type TransportReason = typeof TransportReason.Type

/**
 * No response arrived, or it broke off: refused, reset, DNS, TLS.
 *
 * @since 0.1.0
 * @category errors
 */
export class TransportError extends redactingUrls(Schema.TaggedError<TransportError>()("TransportError", {
  method: Schema.String,
  url: Url,
  reason: TransportReason,
  /** The socket error code (`ECONNREFUSED`, `UND_ERR_SOCKET`, ...), when there was one. */
  code: Schema.optional(Schema.String),
  detail: Schema.String
})) {
  override get message(): string {
    return `${this.method} ${this.url} failed: ${describeTransport[this.reason]} (${this.detail})`
  }
}

const describeTransport: Record<TransportReason, string> = {
  ConnectionRefused: "connection refused",
  ConnectionReset: "connection reset",
  DnsLookup: "host not found",
  ConnectTimeout: "connect timed out",
  Tls: "TLS failure",
  Unknown: "transport failure"
}

/**
 * The request could not be built or was rejected by the client before it
 * went out (a URL or header the HTTP client refused).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidRequestError
  extends redactingUrls(Schema.TaggedError<InvalidRequestError>()("InvalidRequestError", {
    method: Schema.String,
    url: Url,
    detail: Schema.String
  }))
{
  override get message(): string {
    return `${this.method} ${this.url} is not a valid request: ${this.detail}`
  }
}

/**
 * One attempt took longer than the `timeout` option (connect to last body byte).
 *
 * @since 0.1.0
 * @category errors
 */
export class TimeoutError extends redactingUrls(Schema.TaggedError<TimeoutError>()("TimeoutError", {
  method: Schema.String,
  url: Url,
  timeoutMs: Schema.Number
})) {
  override get message(): string {
    return `${this.method} ${this.url} timed out after ${this.timeoutMs} ms`
  }
}

/**
 * The whole call's `deadline` passed before this request finished.
 *
 * @since 0.1.0
 * @category errors
 */
export class DeadlineError extends redactingUrls(Schema.TaggedError<DeadlineError>()("DeadlineError", {
  method: Schema.String,
  url: Url,
  deadlineMs: Schema.Number
})) {
  override get message(): string {
    return `${this.method} ${this.url} did not finish before the ${this.deadlineMs} ms deadline`
  }
}

/**
 * Where a body does not match a clump's body schema, and how: one of
 * Schema's issues (its standard form). `path` leads from the body to the
 * value at fault (`["items", 2, "name"]`; empty for the body itself).
 *
 * @since 0.3.0
 * @category models
 */
export const BodyIssue = Schema.Struct({
  path: Schema.Array(Schema.Union([Schema.String, Schema.Number])),
  message: Schema.String
})

/**
 * @since 0.3.0
 * @category models
 */
export type BodyIssue = typeof BodyIssue.Type

/**
 * A body path as messages show it: `items[2].name`, `["content-type"]`.
 *
 * @since 0.3.0
 * @category formatting
 */
export const formatBodyPath = (path: ReadonlyArray<string | number>): string => {
  let out = ""
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`
    else if (/^[A-Za-z_$][\w$]*$/.test(key)) out += out === "" ? key : `.${key}`
    else out += `[${JSON.stringify(key)}]`
  }
  return out
}

/**
 * The response body is not JSON (the response's `body` is then `{ text }`),
 * or it does not match the clump's body schema (see `Clump.withBody`): then
 * `issues` says where and how, and the response's `body` is the JSON as it
 * arrived. With `reason: "NotCarried"`, the body arrived but the synchronous
 * door could not pass it from its worker thread (the response's `body` is
 * then `null`, `detail` says why).
 *
 * @since 0.1.0
 * @category errors
 */
export class BodyDecodeError extends redactingUrls(Schema.TaggedError<BodyDecodeError>()("BodyDecodeError", {
  method: Schema.String,
  url: Url,
  statusCode: Schema.Number,
  detail: Schema.String,
  /** Present when the body is JSON that does not match the clump's body schema: every mismatch, in order. */
  issues: Schema.optional(Schema.Array(BodyIssue)),
  /** `NotCarried`: the synchronous door could not pass the body from its worker thread (too deeply nested to clone). */
  reason: Schema.optional(Schema.Literal("NotCarried"))
})) {
  override get message(): string {
    const start = `${this.method} ${this.url} answered ${this.statusCode}`
    if (this.reason === "NotCarried") {
      return `${start} with a body the synchronous door could not pass from its worker thread: ${this.detail}`
    }
    if (this.issues === undefined) return `${start} with a body that is not JSON: ${this.detail}`
    const first = this.issues[0]
    const where = first === undefined || first.path.length === 0 ? "" : ` at ${formatBodyPath(first.path)}`
    const more = this.issues.length > 1 ? ` (and ${this.issues.length - 1} more)` : ""
    return `${start} with a body that does not match the schema${where}: ${first?.message ?? this.detail}${more}`
  }
}

/**
 * The response body is larger than `maxBodyBytes`; it was not buffered.
 *
 * @since 0.1.0
 * @category errors
 */
export class BodyTooLargeError
  extends redactingUrls(Schema.TaggedError<BodyTooLargeError>()("BodyTooLargeError", {
    method: Schema.String,
    url: Url,
    statusCode: Schema.Number,
    maxBodyBytes: Schema.Number
  }))
{
  override get message(): string {
    return `${this.method} ${this.url} answered ${this.statusCode} with a body larger than ${this.maxBodyBytes} bytes`
  }
}

/**
 * Redirects went in a loop, past the limit, or to a location that is not an
 * http(s) URL.
 *
 * @since 0.1.0
 * @category errors
 */
export class RedirectError extends redactingUrls(Schema.TaggedError<RedirectError>()("RedirectError", {
  method: Schema.String,
  url: Url,
  reason: Schema.Literals(["Loop", "TooMany", "InvalidLocation"]),
  redirects: Schema.Number,
  location: Schema.optional(Url)
})) {
  override get message(): string {
    switch (this.reason) {
      case "Loop":
        return `${this.method} ${this.url} redirected in a loop (back to ${this.location ?? "?"})`
      case "TooMany":
        return `${this.method} ${this.url} redirected more than ${this.redirects} times`
      case "InvalidLocation":
        return `${this.method} ${this.url} redirected to an invalid location ${JSON.stringify(this.location ?? "")}`
    }
  }
}

/**
 * The response's status is one the `failOn` option counts as a failure
 * (after retries: a status that is retried and still comes back is one).
 * The response keeps its status, headers and body; with
 * `returnExceptions: false` the call fails with this error.
 *
 * @since 1.1.0
 * @category errors
 */
export class HttpStatusError extends redactingUrls(Schema.TaggedError<HttpStatusError>()("HttpStatusError", {
  method: Schema.String,
  url: Url,
  statusCode: Schema.Number
})) {
  override get message(): string {
    return `${this.method} ${this.url} answered ${this.statusCode}, a status failOn counts as a failure`
  }
}

/**
 * The request's body could not be made or read: a `multipart` file that
 * cannot be opened or read (missing, a directory, changed while it was
 * sent). `field` is the part at fault (`multipart[1].path`). Checked when
 * the attempt starts, not up front (the file may appear later); each
 * attempt reads the file again.
 *
 * @since 1.1.0
 * @category errors
 */
export class RequestBodyError extends redactingUrls(Schema.TaggedError<RequestBodyError>()("RequestBodyError", {
  method: Schema.String,
  url: Url,
  field: Schema.String,
  detail: Schema.String
})) {
  override get message(): string {
    return `${this.method} ${this.url} could not send its body: ${this.field}: ${this.detail}`
  }
}

/**
 * The request's own `signal` (a field of the Promise door's requests) was
 * aborted: this request was stopped (or never started), the others went on.
 * `detail` is the signal's reason when it is an `Error` or a string.
 *
 * @since 1.1.0
 * @category errors
 */
export class AbortedError extends redactingUrls(Schema.TaggedError<AbortedError>()("AbortedError", {
  method: Schema.String,
  url: Url,
  detail: Schema.optional(Schema.String)
})) {
  override get message(): string {
    return `${this.method} ${this.url} was aborted by its signal${this.detail === undefined ? "" : ` (${this.detail})`}`
  }
}

/**
 * Why a download (a request with `options.saveTo`, or a call's `saveDir`) failed:
 * `Write`, the file could not be written (a missing directory, a full disk:
 * `code` says which); `Range`, the server answered a resumed download with
 * bytes that do not continue the partial file (the partial file is removed,
 * so the next run starts over).
 *
 * @since 1.1.0
 * @category models
 */
export const DownloadReason = Schema.Literals(["Write", "Range"])

/**
 * @since 1.1.0
 * @category models
 */
export type DownloadReason = typeof DownloadReason.Type

/**
 * A response body meant for a file did not get there (see `DownloadReason`).
 * A partial file is left under its temporary name only, never under `path`.
 *
 * @since 1.1.0
 * @category errors
 */
export class DownloadError extends redactingUrls(Schema.TaggedError<DownloadError>()("DownloadError", {
  method: Schema.String,
  url: Url,
  /** The file the body was meant for. */
  path: Schema.String,
  reason: DownloadReason,
  /** The file system's error code (`ENOENT`, `ENOSPC`, ...), when there was one. */
  code: Schema.optional(Schema.String),
  detail: Schema.String
})) {
  override get message(): string {
    return `${this.method} ${this.url} could not be saved to ${this.path}: ${this.detail}`
  }
}

/**
 * Any error folded into a `RequestResponse`.
 *
 * @since 0.1.0
 * @category errors
 */
export const RequestError = Schema.Union([
  TransportError,
  InvalidRequestError,
  TimeoutError,
  DeadlineError,
  BodyDecodeError,
  BodyTooLargeError,
  RedirectError,
  HttpStatusError,
  RequestBodyError,
  AbortedError,
  DownloadError
])

/**
 * @since 0.1.0
 * @category errors
 */
export type RequestError = typeof RequestError.Type

/**
 * The tags of `RequestError`.
 *
 * @since 0.1.0
 * @category errors
 */
export type RequestErrorTag = RequestError["_tag"]

const requestErrorClasses = [
  TransportError,
  InvalidRequestError,
  TimeoutError,
  DeadlineError,
  BodyDecodeError,
  BodyTooLargeError,
  RedirectError,
  HttpStatusError,
  RequestBodyError,
  AbortedError,
  DownloadError
] as const

/**
 * @since 0.1.0
 * @category refinements
 */
export const isRequestError = (u: unknown): u is RequestError => requestErrorClasses.some((c) => u instanceof c)

/**
 * Input refused before anything was sent: names the request's index and the
 * field (`headers.X-Token`, `url`, `body.items[2]`).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidInputError
  extends Schema.TaggedError<InvalidInputError>()("InvalidInputError", {
    /** Position of the offending request in the input (0-based). */
    index: Schema.Number,
    /** The field, as a path: `url`, `httpOp`, `headers.X-Token`, `body.items[2]`. */
    field: Schema.String,
    detail: Schema.String
  })
{
  override get message(): string {
    return this.field === ""
      ? `Invalid request at index ${this.index}: ${this.detail}`
      : `Invalid request at index ${this.index}, field ${this.field}: ${this.detail}`
  }
}

/**
 * @since 0.1.0
 * @category refinements
 */
export const isInvalidInputError = (u: unknown): u is InvalidInputError => u instanceof InvalidInputError

/**
 * Options that make no sense (a concurrency of 0, a negative timeout, a
 * misspelt name): names the option as a path (`retry.attempts`).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOptionsError
  extends Schema.TaggedError<InvalidOptionsError>()("InvalidOptionsError", {
    option: Schema.String,
    detail: Schema.String
  })
{
  override get message(): string {
    return `Invalid option ${this.option}: ${this.detail}`
  }
}

/**
 * @since 0.2.0
 * @category refinements
 */
export const isInvalidOptionsError = (u: unknown): u is InvalidOptionsError => u instanceof InvalidOptionsError
