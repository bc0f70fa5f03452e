/**
 * Request bodies that are not JSON, as requests write them and the door
 * checks them: plain `text`, a `form` (`application/x-www-form-urlencoded`
 * from a record), raw `bytes`, and `multipart` parts (fields, files on disk,
 * bytes). Each check gives the canonical value or the field at fault and
 * what is wrong; a file on disk is not looked at here (it may appear before
 * the request is sent: see `requestBody.ts`).
 *
 * @internal
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import { describe, headerValueProblem } from "./validate.js"

/** The body fields besides the original's `body`, in the order messages list them. @internal */
export const bodyFields = ["text", "form", "bytes", "multipart"] as const

/** @internal */
export type BodyField = typeof bodyFields[number]

/** A form's fields: a value, or several for a name given more than once. @internal */
export type FormFields = { readonly [name: string]: string | ReadonlyArray<string> }

/** A multipart part: a field, a file on disk, or bytes. @internal */
export type MultipartPart =
  | { readonly name: string; readonly value: string }
  | { readonly name: string; readonly path: string; readonly filename?: string; readonly contentType?: string }
  | { readonly name: string; readonly bytes: Uint8Array; readonly filename?: string; readonly contentType?: string }

/** The field at fault (relative to the request) and what is wrong with it. @internal */
export type Problem = readonly [field: string, detail: string]

const problem = (field: string, detail: string): Result.Result<never, Problem> => Result.fail([field, detail])

/** @internal */
export const checkText = (value: unknown): Result.Result<string, Problem> =>
  typeof value === "string" ? Result.succeed(value) : problem("text", `must be a string, got ${describe(value)}`)

/** A record of strings, or of arrays of strings (a name sent once per value). @internal */
export const checkForm = (value: unknown): Result.Result<FormFields, Problem> => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return problem("form", `must be an object of strings (or arrays of strings), got ${describe(value)}`)
  }
  for (const name of Object.keys(value)) {
    const item: unknown = (value as Record<string, unknown>)[name]
    if (typeof item === "string") continue
    if (Array.isArray(item)) {
      for (let i = 0; i < item.length; i++) {
        if (typeof item[i] !== "string") {
          return problem(`form.${name}[${i}]`, `must be a string, got ${describe(item[i])}`)
        }
      }
      continue
    }
    return problem(`form.${name}`, `must be a string or an array of strings, got ${describe(item)}`)
  }
  return Result.succeed(value as FormFields)
}

const decodeBase64 = Schema.decodeUnknownResult(Schema.Uint8ArrayFromBase64)

/** Bytes: a `Uint8Array` (a `Buffer` too), an `ArrayBuffer`, or base64 text (as files hold them). @internal */
export const checkBytes = (value: unknown, field: string): Result.Result<Uint8Array, Problem> => {
  if (value instanceof Uint8Array) return Result.succeed(value)
  if (value instanceof ArrayBuffer) return Result.succeed(new Uint8Array(value))
  if (typeof value === "string") {
    const decoded = decodeBase64(value)
    return Result.isSuccess(decoded) ? Result.succeed(decoded.success) : problem(field, "is not base64 text")
  }
  return problem(field, `must be a Uint8Array, an ArrayBuffer or base64 text, got ${describe(value)}`)
}

const partKeys = new Set(["name", "value", "path", "bytes", "filename", "contentType"])

const optionalText = (
  part: Record<string, unknown>,
  key: "filename" | "contentType",
  field: string
): Result.Result<string | undefined, Problem> => {
  const value = part[key]
  if (value === undefined || value === null) return Result.succeed(undefined)
  if (typeof value !== "string") return problem(`${field}.${key}`, `must be a string, got ${describe(value)}`)
  // Both end up in the part's headers: a line break would split them.
  const bad = headerValueProblem(value)
  return bad === undefined ? Result.succeed(value) : problem(`${field}.${key}`, bad)
}

const checkPart = (input: unknown, at: number): Result.Result<MultipartPart, Problem> => {
  const field = `multipart[${at}]`
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    return problem(field, `must be a part { name, value } or { name, path | bytes, filename?, contentType? }, got ${describe(input)}`)
  }
  const part = input as Record<string, unknown>
  for (const key of Object.keys(part)) {
    if (!partKeys.has(key)) {
      return problem(`${field}.${key}`, "unknown field (expected name, value, path, bytes, filename, contentType)")
    }
  }
  const name = part["name"]
  if (typeof name !== "string") return problem(`${field}.name`, `must be a string, got ${describe(name)}`)
  const given = (["value", "path", "bytes"] as const).filter((key) => part[key] !== undefined && part[key] !== null)
  if (given.length !== 1) {
    return problem(field, `must have exactly one of value, path and bytes${given.length > 1 ? `, got ${given.join(" and ")}` : ""}`)
  }
  const filename = optionalText(part, "filename", field)
  if (Result.isFailure(filename)) return Result.fail(filename.failure)
  const contentType = optionalText(part, "contentType", field)
  if (Result.isFailure(contentType)) return Result.fail(contentType.failure)
  const kind = given[0]!
  if (kind === "value") {
    if (typeof part["value"] !== "string") return problem(`${field}.value`, `must be a string, got ${describe(part["value"])}`)
    if (filename.success !== undefined || contentType.success !== undefined) {
      return problem(field, "a field (value) has no filename or contentType; give a file as path or bytes")
    }
    return Result.succeed({ name, value: part["value"] })
  }
  const out: { name: string; path?: string; bytes?: Uint8Array; filename?: string; contentType?: string } = { name }
  if (kind === "path") {
    const path = part["path"]
    if (typeof path !== "string" || path === "") {
      return problem(`${field}.path`, `must be a file's path, got ${describe(path)}`)
    }
    out.path = path
  } else {
    const bytes = checkBytes(part["bytes"], `${field}.bytes`)
    if (Result.isFailure(bytes)) return Result.fail(bytes.failure)
    out.bytes = bytes.success
  }
  if (filename.success !== undefined) out.filename = filename.success
  if (contentType.success !== undefined) out.contentType = contentType.success
  return Result.succeed(out as MultipartPart)
}

/** The parts, in order, each a field, a file's path or bytes. @internal */
export const checkMultipart = (value: unknown): Result.Result<ReadonlyArray<MultipartPart>, Problem> => {
  if (!Array.isArray(value)) {
    return problem("multipart", `must be an array of parts ({ name, value } or { name, path | bytes }), got ${describe(value)}`)
  }
  const parts: Array<MultipartPart> = []
  for (let i = 0; i < value.length; i++) {
    const part = checkPart(value[i], i)
    if (Result.isFailure(part)) return Result.fail(part.failure)
    parts.push(part.success)
  }
  return Result.succeed(parts)
}

/** Checks the value of one body field. @internal */
export const checkBodyField = (
  field: BodyField,
  value: unknown
): Result.Result<string | FormFields | Uint8Array | ReadonlyArray<MultipartPart>, Problem> => {
  switch (field) {
    case "text":
      return checkText(value)
    case "form":
      return checkForm(value)
    case "bytes":
      return checkBytes(value, "bytes")
    case "multipart":
      return checkMultipart(value)
  }
}

/** What a body of the wrong kind for `body` is, and the field to give it in instead. @internal */
export const notJsonHint = (value: unknown): string | undefined => {
  if (value instanceof Uint8Array || value instanceof ArrayBuffer) return "bytes are sent with the bytes field"
  if (typeof FormData === "function" && value instanceof FormData) {
    return "a FormData is sent as multipart parts ({ multipart: [{ name, value }, { name, path }] })"
  }
  if (typeof Blob === "function" && value instanceof Blob) return "a Blob's bytes are sent with the bytes field"
  if (typeof URLSearchParams === "function" && value instanceof URLSearchParams) {
    return "a URL-encoded form is sent with the form field (a record of strings)"
  }
  return undefined
}
