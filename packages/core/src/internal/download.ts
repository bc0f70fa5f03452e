/**
 * Downloads: a response body written to a file instead of memory (a
 * request's `saveTo`, or the call's `saveDir` and `saveName`), streamed
 * chunk by chunk whatever its size, with its SHA-256.
 *
 * The body goes to `PATH.loamy-part` first; when it is complete the file is
 * synced and renamed to `PATH`, so a file under `PATH` is always whole. A
 * later attempt (a retry, or a re-run of the same requests) that finds the
 * partial file asks for the rest with `Range: bytes=N-` (and `If-Range` with
 * the validator of the response it came from, kept in `PATH.loamy-part.json`):
 * a 206 whose `Content-Range` starts at N is appended, a 200 starts over,
 * and the hash covers the whole file (the partial file is read again first).
 *
 * Only a 2xx answer (or a 416 to a resumed request) is written; any other
 * status is read into memory as usual, and the file is left alone.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as HttpClientError from "effect/http/HttpClientError"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as Stream from "effect/Stream"
import { createHash, type Hash } from "node:crypto"
import { createReadStream } from "node:fs"
import * as fs from "node:fs/promises"
import * as nodePath from "node:path"
import { BodyTooLargeError, DownloadError, type RequestError } from "../LoamyError.js"
import { BoundedResponseTypeId, isBoundedResponse } from "../Transport.js"
import type { RequestMap } from "../RequestMap.js"
import type { ResponseHeaders, Saved } from "../RequestResponse.js"
import { discard as discardBody, type Outcome } from "./body.js"

/** The suffix of a partial download. @internal */
export const partSuffix = ".loamy-part"

/** What an attempt at a download starts from: the partial file and the validator of its response. @internal */
export interface Part {
  readonly path: string
  readonly temp: string
  /** Bytes in the partial file (0: none, or none worth keeping). */
  readonly offset: number
  /** The `ETag` (or else `Last-Modified`) of the response the partial file came from, for `If-Range`. */
  readonly validator: string | undefined
}

interface Meta {
  readonly validator?: string
}

const codeOf = (cause: unknown): string | undefined =>
  typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined

const detailOf = (cause: unknown): string => {
  const code = codeOf(cause)
  const message = cause instanceof Error ? cause.message : String(cause)
  return code === undefined ? message : `${code}: ${message.split(",")[0]}`
}

const writeError = (method: string, url: string, path: string, cause: unknown): DownloadError => {
  const code = codeOf(cause)
  return new DownloadError({
    method,
    url,
    path,
    reason: "Write",
    detail: detailOf(cause),
    ...(code === undefined ? {} : { code })
  })
}

/**
 * The file a request's body goes to: its own `options.saveTo` (relative to
 * `saveDir` when there is one), else `saveDir`/`saveName` with the
 * template's fields filled in, else undefined (kept in memory).
 *
 * @internal
 */
export const targetOf = (
  request: RequestMap,
  index: number,
  saveDir: string | undefined,
  saveName: string
): string | undefined => {
  const own = request.options?.saveTo
  if (own !== undefined) return saveDir === undefined || nodePath.isAbsolute(own) ? own : nodePath.join(saveDir, own)
  if (saveDir === undefined) return undefined
  return nodePath.join(saveDir, render(saveName, request, index))
}

/** The fields a `saveName` template may use. @internal */
export const templateFields = ["index", "name", "host"] as const

/** What is wrong with a `saveName` template, or undefined. @internal */
export const templateProblem = (template: string): string | undefined => {
  if (template === "") return "must not be empty"
  for (const match of template.matchAll(/\{([^}]*)\}/g)) {
    if (!(templateFields as ReadonlyArray<string>).includes(match[1]!)) {
      return `uses {${match[1]}}; the fields are ${templateFields.map((f) => `{${f}}`).join(", ")}`
    }
  }
  if (!/\{index\}|\{name\}/.test(template)) return "must use {index} or {name}, or every request would write one file"
  return undefined
}

/** A file name's characters: anything that could leave the directory or trouble a shell becomes `_`. */
const safe = (text: string): string => {
  const cleaned = text.replace(/[^A-Za-z0-9._-]/g, "_")
  return cleaned === "" || cleaned === "." || cleaned === ".." ? "_" : cleaned
}

const render = (template: string, request: RequestMap, index: number): string =>
  template.replace(/\{(index|name|host)\}/g, (_, field: string) => {
    if (field === "index") return String(index)
    let url: URL
    try {
      url = new URL(request.url)
    } catch {
      return "_"
    }
    if (field === "host") return safe(url.host)
    const segments = url.pathname.split("/")
    let last = segments[segments.length - 1]!
    try {
      last = decodeURIComponent(last)
    } catch {
      // Kept as sent.
    }
    return last === "" ? String(index) : safe(last)
  })

/**
 * Runs `attempt` while it alone writes `path` among the call's attempts
 * (`writing`); another attempt already writing it gets `refused()` at once.
 *
 * @internal
 */
export const exclusive = <A>(
  writing: Set<string>,
  path: string,
  attempt: Effect.Effect<A>,
  refused: () => A
): Effect.Effect<A> =>
  Effect.suspend(() => {
    const key = nodePath.resolve(path)
    if (writing.has(key)) return Effect.succeed(refused())
    writing.add(key)
    return Effect.ensuring(attempt, Effect.sync(() => writing.delete(key)))
  })

/** The error of a request whose file another request of the call is writing. @internal */
export const busy = (method: string, url: string, path: string): DownloadError =>
  new DownloadError({
    method,
    url,
    path,
    reason: "Write",
    code: "EBUSY",
    detail: "another request of this call is writing this file (give each request its own saveTo or saveName)"
  })

/**
 * Looks for a partial file of `path`. Never fails: a directory that is not
 * there is the write's error, found when the file is opened.
 *
 * @internal
 */
export const prepare = (path: string): Effect.Effect<Part> =>
  Effect.promise(async () => {
    const temp = path + partSuffix
    let offset = 0
    let validator: string | undefined
    try {
      offset = (await fs.stat(temp)).size
    } catch {
      return { path, temp, offset: 0, validator: undefined }
    }
    try {
      const meta: Meta = JSON.parse(await fs.readFile(temp + ".json", "utf8"))
      if (typeof meta.validator === "string") validator = meta.validator
    } catch {
      // No validator: the range is asked for without `If-Range`.
    }
    return { path, temp, offset, validator }
  })

/**
 * The request's headers for an attempt at a download: its own (or the
 * call's) with `Accept-Encoding: identity` unless one is set (a range counts
 * the bytes as sent, and the file keeps them as sent), and with a range
 * from the partial file's end when there is one.
 *
 * @internal
 */
export const headersFor = (
  headers: Readonly<Record<string, string>> | undefined,
  part: Part
): Record<string, string> => {
  const out: Record<string, string> = {}
  if (headers !== undefined) {
    for (const name in headers) if (Object.hasOwn(headers, name)) out[name.toLowerCase()] = headers[name]!
  }
  out["accept-encoding"] ??= "identity"
  if (part.offset > 0) {
    out["range"] = `bytes=${part.offset}-`
    if (part.validator !== undefined) out["if-range"] = part.validator
  }
  return out
}

/** Whether an answer to a download is written to its file (else it is read as any response). @internal */
export const isSaved = (status: number, part: Part): boolean =>
  (status >= 200 && status < 300) || (status === 416 && part.offset > 0)

const validatorOf = (headers: ResponseHeaders): string | undefined => {
  const etag = headers["etag"]
  // A weak ETag cannot be used with If-Range.
  if (typeof etag === "string" && !etag.startsWith("W/")) return etag
  const modified = headers["last-modified"]
  return typeof modified === "string" ? modified : undefined
}

/** `bytes FIRST-LAST/TOTAL` or `bytes *\/TOTAL`: the first byte and the total (undefined when unknown). */
const contentRange = (value: string | ReadonlyArray<string> | undefined) => {
  if (typeof value !== "string") return undefined
  const match = /^\s*bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)\s*$/i.exec(value)
  if (match === null) return undefined
  return {
    first: match[1] === undefined ? undefined : Number(match[1]),
    total: match[3] === "*" ? undefined : Number(match[3])
  }
}

/** Feeds the first `bytes` of `file` to `hash`. */
const hashPrefix = (file: string, bytes: number, hash: Hash): Promise<void> =>
  new Promise((resolve, reject) => {
    if (bytes === 0) return resolve()
    const stream = createReadStream(file, { start: 0, end: bytes - 1 })
    stream.on("data", (chunk) => hash.update(chunk))
    stream.once("end", resolve)
    stream.once("error", reject)
  })

/**
 * Syncs and renames the finished file, syncs its directory (so that the
 * rename itself outlives a power cut, where the system allows opening a
 * directory), and drops its validator.
 */
const finish = async (handle: fs.FileHandle, part: Part): Promise<void> => {
  await handle.sync()
  await handle.close()
  await fs.rename(part.temp, part.path)
  await syncDirectory(nodePath.dirname(part.path))
  await fs.rm(part.temp + ".json", { force: true })
}

const syncDirectory = async (dir: string): Promise<void> => {
  let handle: fs.FileHandle | undefined
  try {
    handle = await fs.open(dir, "r")
    await handle.sync()
  } catch {
    // Windows cannot open a directory: its rename is as durable as it gets.
  } finally {
    await handle?.close().catch(() => undefined)
  }
}

const forget = (part: Part): Promise<void> =>
  Promise.all([fs.rm(part.temp, { force: true }), fs.rm(part.temp + ".json", { force: true })]).then(() => undefined)

/** Writes all of `chunk` at `position` (a write may take fewer bytes than it is given). */
const writeAll = async (handle: fs.FileHandle, chunk: Uint8Array, position: number): Promise<void> => {
  let done = 0
  while (done < chunk.byteLength) {
    const { bytesWritten } = await handle.write(chunk, done, chunk.byteLength - done, position + done)
    if (bytesWritten === 0) throw new Error("the file system took no bytes")
    done += bytesWritten
  }
}

/** A failure of the write itself, told apart from the body's. */
class WriteFailed {
  constructor(readonly cause: unknown) {}
}

/**
 * Writes a 2xx response's body (or finishes a partial file a 416 says is
 * whole) to its file: the outcome has `saved`, or the error that stopped it.
 * `limit` (the call's `maxBodyBytes`) bounds the whole file. A body that
 * breaks off leaves the partial file for the next attempt; `onReadError`
 * folds that error as the engine folds any body's.
 *
 * @internal
 */
export const save = (
  response: HttpClientResponse.HttpClientResponse,
  part: Part,
  limit: number,
  method: string,
  url: string,
  statusCode: number,
  headers: ResponseHeaders,
  onReadError: (error: HttpClientError.HttpClientError) => Outcome
): Effect.Effect<Outcome> => {
  const fail = (error: RequestError): Outcome => ({ statusCode, headers, body: null, error })
  const discard = discardBody(response)
  const rangeError = (detail: string) =>
    Effect.as(
      Effect.andThen(discard, Effect.promise(() => forget(part).catch(() => undefined))),
      fail(new DownloadError({ method, url, path: part.path, reason: "Range", detail }))
    )
  let start = 0
  if (statusCode === 416) {
    const range = contentRange(headers["content-range"])
    // The partial file is the whole representation already: it only needs its hash and its name.
    if (range === undefined || range.total !== part.offset) {
      return rangeError(`the server cannot send bytes from ${part.offset} on (416), and the partial file was removed`)
    }
    start = part.offset
  } else if (statusCode === 206 && part.offset > 0) {
    // A 206 to a request without a range of loamy's (the request's own `Range`) is written as it comes.
    const range = contentRange(headers["content-range"])
    if (range === undefined || range.first !== part.offset) {
      return rangeError(
        `asked for bytes from ${part.offset}, got ${
          typeof headers["content-range"] === "string" ? headers["content-range"] : "no Content-Range"
        }; the partial file was removed`
      )
    }
    start = part.offset
  }
  const declared = headers["content-length"]
  if (statusCode !== 416 && typeof declared === "string" && start + Number(declared) > limit) {
    return Effect.as(
      Effect.andThen(discard, Effect.promise(() => forget(part).catch(() => undefined))),
      fail(new BodyTooLargeError({ method, url, statusCode, maxBodyBytes: limit }))
    )
  }
  const hash = createHash("sha256")
  let size = start
  let tooLarge = false
  /** The write's own failure, on the transport's path (`writeTo`), which stops the read. */
  let writeFailed: WriteFailed | undefined
  /**
   * The transport's path: each chunk as it came off the socket written at
   * its place and hashed, one in flight per download; no Effect per chunk.
   */
  const writeThrough = (handle: fs.FileHandle) => (chunk: Uint8Array): Promise<boolean> => {
    if (size + chunk.byteLength > limit) {
      tooLarge = true
      return Promise.resolve(false)
    }
    const at = size
    size += chunk.byteLength
    hash.update(chunk)
    return writeAll(handle, chunk, at).then(() => true, (cause) => {
      writeFailed = new WriteFailed(cause)
      return false
    })
  }
  const open = Effect.tryPromise({
    try: async () => {
      const handle = await fs.open(part.temp, start === 0 ? "w" : "r+")
      try {
        if (start === 0) {
          const validator = validatorOf(headers)
          if (validator !== undefined) await fs.writeFile(part.temp + ".json", JSON.stringify({ validator }))
          else await fs.rm(part.temp + ".json", { force: true })
        } else {
          await hashPrefix(part.temp, start, hash)
        }
      } catch (cause) {
        await handle.close()
        throw cause
      }
      return handle
    },
    catch: (cause) => new WriteFailed(cause)
  })
  return Effect.acquireUseRelease(
    open,
    (handle) => {
      const write = (chunk: Uint8Array) =>
        Effect.suspend(() => {
          if (size + chunk.byteLength > limit) {
            tooLarge = true
            return Effect.succeed(false)
          }
          const at = size
          size += chunk.byteLength
          hash.update(chunk)
          return Effect.as(
            Effect.tryPromise({ try: () => writeAll(handle, chunk, at), catch: (cause) => new WriteFailed(cause) }),
            true
          )
        })
      // A 416's body (if any) is only read to free its connection.
      const bounded = isBoundedResponse(response) ? response[BoundedResponseTypeId] : undefined
      const body = statusCode === 416
        ? discard
        : bounded?.writeTo !== undefined
        ? bounded.writeTo(writeThrough(handle))
        : Stream.runForEachWhile(response.stream, write)
      return Effect.flatMap(body, () =>
        writeFailed !== undefined
          ? Effect.fail(writeFailed)
          : tooLarge
          ? Effect.as(
            Effect.promise(() => handle.close().then(() => forget(part)).catch(() => undefined)),
            fail(new BodyTooLargeError({ method, url, statusCode, maxBodyBytes: limit }))
          )
          : Effect.tryPromise({
            try: async () => {
              await finish(handle, part)
              const saved: Saved = { path: part.path, bytes: size, sha256: hash.digest("hex") }
              const outcome: Outcome = { statusCode, headers, body: null, error: undefined, saved }
              return outcome
            },
            catch: (cause) => new WriteFailed(cause)
          }))
    },
    // Closing twice (after `finish`) only fails, and is ignored.
    (handle) => Effect.promise(() => handle.close().catch(() => undefined))
  ).pipe(
    Effect.catch((error) =>
      error instanceof WriteFailed
        ? Effect.as(discard, fail(writeError(method, url, part.path, error.cause)))
        : Effect.succeed(onReadError(error))
    )
  )
}
