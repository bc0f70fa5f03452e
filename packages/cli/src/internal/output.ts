/**
 * The JSONL record written per response, secret redaction, and a buffered
 * writer that respects backpressure (so a slow reader of stdout slows the
 * sending instead of filling memory).
 *
 * @internal
 */
import * as fs from "node:fs"
import { LoamyError, type RequestMap, type RequestResponse } from "@loamy/core"

const { InvalidInputError } = LoamyError

const isRawJSON = (JSON as unknown as { isRawJSON(u: unknown): boolean }).isRawJSON

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

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

/**
 * Hides secrets in text that is not JSON (a JSONL line that could not be
 * parsed, or a parse error quoting it): the value after each secret header
 * name used as a key (`"Authorization": "…"`, also `'…'` or a bare name, any
 * case) up to its closing quote or the end of the text, then every known
 * secret value.
 *
 * @internal
 */
export const redactRawText = (text: string, redaction: Redaction): string => {
  if (!redaction.enabled) return text
  const names = [...redaction.names].filter((name) => name !== "").map(escapeRegExp).join("|")
  let out = text
  if (names !== "") {
    // key: "name", 'name' or a bare name, then `:`; value: a double- or single-quoted string, maybe unterminated.
    const key = `(?:"(?:${names})"|'(?:${names})'|(?<![\\w-])(?:${names}))\\s*:\\s*`
    const pattern = new RegExp(`(${key})(?:"(?:[^"\\\\]|\\\\.)*("?)|'(?:[^'\\\\]|\\\\.)*('?))`, "gi")
    out = out.replace(
      pattern,
      (_match: string, name: string, doubleEnd: string | undefined, singleEnd: string | undefined) =>
        doubleEnd !== undefined
          ? `${name}"${REDACTED}${doubleEnd}`
          : `${name}'${REDACTED}${singleEnd ?? ""}`
    )
  }
  return redaction.values.length > 0 ? scrubString(out, redaction.values) : out
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
  for (const key of Object.keys(error)) {
    if (key !== "_tag" && key !== "message" && key !== "stack") out[key] = (error as unknown as Record<string, unknown>)[key]
  }
  out["message"] = error.message
  return out
}

/** A binary body as the schema encodes it. */
const encodeBody = (body: unknown): unknown =>
  body instanceof Uint8Array ? { base64: Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("base64") } : body

const round = (ms: number) => Math.round(ms * 100) / 100

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
  redaction: Redaction
): string => {
  const request = response.requestMap
  const values = redaction.enabled ? secretValues(request, redaction) : []
  const headers = redactHeaders(request.headers, redaction)
  const shownRequest = headers === request.headers ? request : { ...request, headers }
  let body = encodeBody(response.body)
  let error = response.error === undefined ? undefined : encodeError(response.error)
  if (values.length > 0) {
    body = scrub(body, values)
    if (error !== undefined) error = scrub(error, values) as Record<string, unknown>
  }
  const record: Record<string, unknown> = { index }
  if (line !== undefined) record["line"] = line
  record["requestMap"] = shownRequest
  record["statusCode"] = response.statusCode
  record["body"] = body
  record["headers"] = redactHeaders(response.headers, redaction)
  if (error !== undefined) record["error"] = error
  record["elapsedMs"] = round(response.elapsedMs)
  record["attempts"] = response.attempts
  return JSON.stringify(record)
}

/**
 * The output line for an item the core refused (its one rule for a bad
 * item: not sent, an `InvalidInputError` naming the index and field), with
 * the raw line redacted and the error's message naming the line. `override`
 * replaces what the core saw with what the CLI knows better (a line that was
 * not UTF-8).
 *
 * @internal
 */
export const invalidLineRecord = (
  index: number,
  line: number,
  response: RequestResponse.RequestResponse & { readonly error: LoamyError.InvalidInputError },
  redaction: Redaction,
  override?: { readonly detail: string; readonly raw: string }
): string => {
  const raw: unknown = override?.raw ?? response.requestMap
  const field = override === undefined ? response.error.field : ""
  const detail = override?.detail ?? response.error.detail
  let request: unknown = raw
  if (redaction.enabled && typeof raw === "string") request = redactRawText(raw, redaction)
  if (redaction.enabled && typeof raw === "object" && raw !== null && !Array.isArray(raw)) {
    const headers = (raw as { headers?: unknown }).headers
    if (typeof headers === "object" && headers !== null && !Array.isArray(headers)) {
      const strings: Record<string, string> = {}
      for (const [k, v] of Object.entries(headers)) strings[k] = typeof v === "string" ? v : JSON.stringify(v)
      request = { ...raw, headers: redactHeaders(strings, redaction) }
    }
  }
  // A parse error may quote the line: hidden the same way as the line.
  const shownDetail = redaction.enabled ? redactRawText(detail, redaction) : detail
  let error: Record<string, unknown> = encodeError(new InvalidInputError({ index, field, detail: shownDetail }))
  // In a file, the line is what a person looks for.
  error["message"] = field === ""
    ? `Invalid request on line ${line}: ${shownDetail}`
    : `Invalid request on line ${line}, field ${field}: ${shownDetail}`
  if (redaction.enabled && redaction.values.length > 0) error = scrub(error, redaction.values) as Record<string, unknown>
  return JSON.stringify({
    index,
    line,
    requestMap: request,
    statusCode: response.statusCode,
    body: response.body,
    headers: response.headers,
    error,
    elapsedMs: response.elapsedMs,
    attempts: response.attempts
  })
}

/**
 * Why the output stopped: a write failed. `readerGone` is true when the
 * reader of a pipe went away (`loamy send … | head -1`: EPIPE), which is
 * not an error worth a message; anything else (a full disk: ENOSPC) is.
 *
 * @internal
 */
export class WriteFailure extends Error {
  override readonly name = "WriteFailure"
  constructor(
    /** What was being written: a path, or `stdout`. */
    readonly target: string,
    readonly code: string | undefined,
    readonly readerGone: boolean,
    options: { readonly cause: unknown }
  ) {
    super(`cannot write ${target}: ${(options.cause as Error)?.message ?? String(options.cause)}`, options)
  }
}

/**
 * Buffers lines and writes them in large chunks. `needsDrain` tells the
 * sender to start no new requests until `drained` resolves, so a slow reader
 * of stdout slows the sending instead of filling memory.
 *
 * A write that fails ends the output: later lines are dropped, `failed()`
 * returns the failure and `onFail` callbacks run once. The sending loop must
 * then stop (start nothing more, abandon the requests in flight): check
 * `failed()` before starting a request, or stop from `onFail`.
 *
 * @internal
 */
export interface Writer {
  readonly write: (line: string) => void
  readonly needsDrain: () => boolean
  readonly drained: () => Promise<void>
  /**
   * Writes what is buffered and waits until it has left the process (or the
   * file is closed), or the output failed. Never rejects: see `failed()`.
   */
  readonly close: () => Promise<void>
  /** The failure that ended the output, or `undefined` while all is well. */
  readonly failed: () => WriteFailure | undefined
  /** Runs `callback` once when the output fails (at once if it already has). */
  readonly onFail: (callback: (failure: WriteFailure) => void) => void
}

const HIGH_WATER = 64 * 1024

/** @internal */
export const makeWriter = (destination: NodeJS.WritableStream, ownsDestination: boolean, target = "stdout"): Writer => {
  let buffer = ""
  let blocked = false
  // Lines written while nothing else arrives (slow requests) should not wait in the buffer for long.
  let timer: ReturnType<typeof setTimeout> | undefined
  let failure: WriteFailure | undefined
  let failCallbacks: Array<(failure: WriteFailure) => void> = []
  // Writes handed to the destination whose callback has not run yet.
  let pending = 0
  let settledWaiters: Array<() => void> = []
  // Listening all the time, so a drain that happens before anyone waits is not missed.
  let waiters: Array<() => void> = []
  const unblock = () => {
    blocked = false
    const ready = waiters
    waiters = []
    for (const resolve of ready) resolve()
  }
  const settle = () => {
    if (pending > 0 && failure === undefined) return
    const ready = settledWaiters
    settledWaiters = []
    for (const resolve of ready) resolve()
  }
  const fail = (error: unknown) => {
    if (failure !== undefined) return
    const code = (error as NodeJS.ErrnoException)?.code
    failure = new WriteFailure(target, code, code === "EPIPE" || code === "ERR_STREAM_DESTROYED", { cause: error })
    buffer = ""
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    unblock()
    settle()
    const callbacks = failCallbacks
    failCallbacks = []
    for (const callback of callbacks) callback(failure)
  }
  destination.on("drain", unblock)
  destination.on("error", fail)
  const written = (error?: Error | null) => {
    pending--
    if (error) fail(error)
    else settle()
  }
  const push = () => {
    if (timer !== undefined) {
      clearTimeout(timer)
      timer = undefined
    }
    if (buffer === "" || failure !== undefined) return
    const chunk = buffer
    buffer = ""
    pending++
    if (!destination.write(chunk, written)) blocked = true
  }
  const drained = () =>
    new Promise<void>((resolve) => {
      if (!blocked) resolve()
      else waiters.push(resolve)
    })
  const allWritten = () =>
    new Promise<void>((resolve) => {
      if (pending === 0 || failure !== undefined) resolve()
      else settledWaiters.push(resolve)
    })
  return {
    write: (line) => {
      if (failure !== undefined) return
      buffer += line + "\n"
      if (buffer.length >= HIGH_WATER) push()
      else timer ??= setTimeout(push, 50)
    },
    needsDrain: () => blocked,
    drained,
    close: async () => {
      push()
      await drained()
      await allWritten()
      if (ownsDestination && failure === undefined) {
        await new Promise<void>((resolve) => {
          destination.once("error", () => resolve())
          destination.end(() => resolve())
        })
      }
    },
    failed: () => failure,
    onFail: (callback) => {
      if (failure !== undefined) callback(failure)
      else failCallbacks.push(callback)
    }
  }
}

/**
 * A writer to `path`, or to stdout when there is none.
 *
 * @internal
 */
export const openWriter = (path: string | undefined): Writer => {
  if (path === undefined || path === "-") return makeWriter(process.stdout, false)
  // Opened here so a path that cannot be written is refused before anything is sent.
  const fd = fs.openSync(path, "w")
  return makeWriter(fs.createWriteStream(path, { fd }), true, path)
}
