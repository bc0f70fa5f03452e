/**
 * The error of a download (a body meant for a file). Exported by
 * `LoamyError`.
 *
 * @internal
 */
import * as Schema from "effect/Schema"
import { redactingUrls, Url } from "./errorUrls.js"

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
