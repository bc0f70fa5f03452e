/**
 * Putting a body that is not JSON on a request, for the engine: `text`,
 * `form` (URL-encoded by `URLSearchParams`), `bytes`, and `multipart` (a
 * `FormData`, which the client streams: a file on disk is a `Blob` backed by
 * the file, read as it is sent, never whole into memory). Files are opened
 * per attempt, so a retried request reads them again; one that cannot be
 * opened is the request's `RequestBodyError`, naming its part.
 *
 * A user's own `Content-Type` wins over the default of `text`, `form` and
 * `bytes`. A multipart body always has the client's
 * `multipart/form-data; boundary=...`: a type without that boundary could
 * not be read.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as Result from "effect/Result"
import type { RequestMap } from "../RequestMap.js"
import type { FormFields, MultipartPart, Problem } from "./forms.js"

/** Whether the request has a body besides the original's `body` (one field check each). @internal */
export const hasOtherBody = (request: RequestMap): boolean =>
  request.text !== undefined || request.form !== undefined || request.bytes !== undefined ||
  request.multipart !== undefined

/** Whether a multipart body has files on disk to open before each attempt. @internal */
export const hasFiles = (parts: ReadonlyArray<MultipartPart>): boolean => {
  for (let i = 0; i < parts.length; i++) if ("path" in parts[i]!) return true
  return false
}

/** A form's fields as `application/x-www-form-urlencoded` text. @internal */
export const formText = (form: FormFields): string => {
  const params = new URLSearchParams()
  // Own names only (the check read them so): a polluted `Object.prototype` adds no field.
  for (const name of Object.keys(form)) {
    const value = form[name]!
    if (typeof value === "string") params.append(name, value)
    else for (const item of value) params.append(name, item)
  }
  return params.toString()
}

/** A view of `bytes` that a `Blob` takes (its buffer an `ArrayBuffer`): no copy unless it is shared memory. */
const blobPart = (bytes: Uint8Array): Uint8Array<ArrayBuffer> =>
  bytes.buffer instanceof ArrayBuffer ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) : bytes.slice()

const baseName = (path: string): string => path.split(/[\\/]/).filter((piece) => piece !== "").pop() ?? "file"

const formData = (parts: ReadonlyArray<MultipartPart>, files: ReadonlyArray<Blob | undefined> | undefined): FormData => {
  const form = new FormData()
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!
    if ("value" in part) {
      form.append(part.name, part.value)
    } else if ("bytes" in part) {
      const blob = new Blob([blobPart(part.bytes)], { type: part.contentType ?? "application/octet-stream" })
      form.append(part.name, blob, part.filename ?? "blob")
    } else {
      form.append(part.name, files![i]!, part.filename ?? baseName(part.path))
    }
  }
  return form
}

/**
 * `httpRequest` with the request's body that is not JSON (`hasOtherBody`);
 * `files` are the multipart files `openFiles` opened, by part.
 *
 * @internal
 */
export const withBody = (
  httpRequest: HttpClientRequest.HttpClientRequest,
  request: RequestMap,
  files: ReadonlyArray<Blob | undefined> | undefined
): HttpClientRequest.HttpClientRequest => {
  const own = httpRequest.headers["content-type"]
  if (request.text !== undefined) {
    return HttpClientRequest.bodyText(httpRequest, request.text, own ?? "text/plain; charset=utf-8")
  }
  if (request.form !== undefined) {
    return HttpClientRequest.bodyText(httpRequest, formText(request.form), own ?? "application/x-www-form-urlencoded")
  }
  if (request.bytes !== undefined) {
    return HttpClientRequest.bodyUint8Array(httpRequest, request.bytes, own ?? "application/octet-stream")
  }
  if (request.multipart !== undefined) return HttpClientRequest.bodyFormData(httpRequest, formData(request.multipart, files))
  return httpRequest
}

type NodeFs = typeof import("node:fs")

/**
 * `node:fs` where the runtime has it (Node.js, Deno, Bun), by
 * `process.getBuiltinModule`: neither a static import (the core loads where
 * there is no `node:fs`) nor an `import()` (the synchronous door's worker
 * runs as a classic script, where `import()` has no loader).
 */
const nodeFs = (): NodeFs | undefined => {
  const proc = (globalThis as { readonly process?: { readonly getBuiltinModule?: (id: "node:fs") => NodeFs } }).process
  return typeof proc?.getBuiltinModule === "function" ? proc.getBuiltinModule("node:fs") : undefined
}

const message = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/** Opens one file: a `Blob` read from disk as it is sent, or why it cannot be. */
const openFile = async (fs: NodeFs, path: string, type: string | undefined): Promise<Blob | string> => {
  let handle: Awaited<ReturnType<NodeFs["promises"]["open"]>>
  try {
    // Opened once to know now that it can be read at all (a stat alone would pass a file without permission).
    handle = await fs.promises.open(path, "r")
  } catch (cause) {
    return `cannot read ${path}: ${message(cause)}`
  }
  try {
    if (!(await handle.stat()).isFile()) return `${path} is not a file`
  } catch (cause) {
    return `cannot read ${path}: ${message(cause)}`
  } finally {
    await handle.close().catch(() => undefined)
  }
  try {
    return await fs.openAsBlob(path, { type: type ?? "application/octet-stream" })
  } catch (cause) {
    return `cannot read ${path}: ${message(cause)}`
  }
}

/**
 * Opens the multipart body's files for one attempt: a `Blob` per file part
 * (undefined for the others), or the part at fault and why. Never fails.
 *
 * @internal
 */
export const openFiles = (
  parts: ReadonlyArray<MultipartPart>
): Effect.Effect<Result.Result<ReadonlyArray<Blob | undefined>, Problem>> =>
  Effect.promise(async () => {
    const fs = nodeFs()
    if (fs === undefined) {
      return Result.fail(["multipart", "files on disk can only be read where node:fs is (Node.js, Deno, Bun)"] as const)
    }
    const out = new Array<Blob | undefined>(parts.length)
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!
      if (!("path" in part)) continue
      const opened = await openFile(fs, part.path, part.contentType)
      if (typeof opened === "string") return Result.fail([`multipart[${i}].path`, opened] as const)
      out[i] = opened
    }
    return Result.succeed(out)
  })
