/**
 * The errors of an exchange that went out: no response or a broken one
 * (transport, timeout, deadline), a body that could not be read or decoded,
 * redirects, a status `failOn` counts. Exported by `LoamyError`.
 *
 * @internal
 */
import * as Schema from "effect/Schema"
import { redactingUrls, Url } from "./errorUrls.js"

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
