/**
 * The errors about what the caller gave: a request the client would not
 * send, a body that could not be made, a request aborted by its signal,
 * and the refusals of bad input and bad options. Exported by `LoamyError`.
 *
 * @internal
 */
import * as Schema from "effect/Schema"
import { redactingUrls, Url } from "./errorUrls.js"

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
