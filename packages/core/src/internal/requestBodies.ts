/**
 * A request's body fields (`body`, `text`, `form`, `bytes`, `multipart`):
 * the schemas of a form's fields and of a multipart part, and the fields'
 * types as the wire holds them and as requests may write them. Exported by
 * `RequestMap`.
 *
 * @internal
 */
import * as Schema from "effect/Schema"
import type * as forms from "./forms.js"

/**
 * A URL-encoded form's fields (the `form` field): a value per name, or an
 * array of values for a name sent more than once.
 *
 * @since 1.1.0
 * @category schemas
 */
export const FormFields = Schema.Record(Schema.String, Schema.Union([Schema.String, Schema.Array(Schema.String)]))
  .annotate({ identifier: "FormFields" })

/**
 * @since 1.1.0
 * @category models
 */
export type FormFields = forms.FormFields

const fileFields = { filename: Schema.optionalKey(Schema.String), contentType: Schema.optionalKey(Schema.String) }

/**
 * A part of a `multipart/form-data` body: a field (`{ name, value }`), a
 * file on disk (`{ name, path }`, read as it is sent) or bytes
 * (`{ name, bytes }`, base64 on the wire), a file with an optional
 * `filename` (default: the path's last name, or `blob`) and `contentType`
 * (default `application/octet-stream`).
 *
 * @since 1.1.0
 * @category schemas
 */
export const MultipartPart = Schema.Union([
  Schema.Struct({ name: Schema.String, value: Schema.String }),
  Schema.Struct({ name: Schema.String, path: Schema.String, ...fileFields }),
  Schema.Struct({ name: Schema.String, bytes: Schema.Uint8ArrayFromBase64, ...fileFields })
]).annotate({ identifier: "MultipartPart" })

/**
 * @since 1.1.0
 * @category models
 */
export type MultipartPart = forms.MultipartPart

/**
 * At most one of these holds a request's body; none: no body.
 *
 * @since 1.1.0
 * @category models
 */
export interface BodyFields {
  /**
   * Sent as JSON (with `content-type: application/json` unless the request's
   * headers name another) when present; `null` means no body, as in the
   * original. A value with a `toJSON` method is sent as `JSON.stringify` makes it.
   */
  readonly body?: unknown
  /** Sent as it is, UTF-8 (`text/plain; charset=utf-8` unless the headers name another type). */
  readonly text?: string | undefined
  /** Sent URL-encoded (`application/x-www-form-urlencoded` unless the headers name another type). */
  readonly form?: FormFields | undefined
  /** Sent as they are (`application/octet-stream` unless the headers name another type); base64 in files. */
  readonly bytes?: Uint8Array | undefined
  /** Sent as `multipart/form-data` (with its boundary), files streamed from disk. */
  readonly multipart?: ReadonlyArray<MultipartPart> | undefined
}

/**
 * The body fields as requests may write them: bytes also as an
 * `ArrayBuffer` or base64 text, `null` for an absent one.
 *
 * @since 1.1.0
 * @category models
 */
export interface InputBodyFields {
  readonly body?: unknown
  readonly text?: string | null | undefined
  readonly form?: FormFields | null | undefined
  readonly bytes?: Uint8Array | ArrayBuffer | string | null | undefined
  readonly multipart?: ReadonlyArray<MultipartPartInput> | null | undefined
}

/**
 * A multipart part as requests may write it: bytes also as an
 * `ArrayBuffer` or base64 text.
 *
 * @since 1.1.0
 * @category models
 */
export type MultipartPartInput =
  | { readonly name: string; readonly value: string }
  | { readonly name: string; readonly path: string; readonly filename?: string; readonly contentType?: string }
  | {
    readonly name: string
    readonly bytes: Uint8Array | ArrayBuffer | string
    readonly filename?: string
    readonly contentType?: string
  }
