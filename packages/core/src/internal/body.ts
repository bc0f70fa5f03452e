/**
 * Reading a response body: at most `maxBodyBytes` of it (the rest abandoned
 * and the connection closed), then parsed as JSON into the outcome.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Cookies from "effect/http/Cookies"
import type * as HttpClientError from "effect/http/HttpClientError"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as Stream from "effect/Stream"
import { BodyDecodeError, BodyTooLargeError, type RequestError } from "../LoamyError.js"
import type { ResponseHeaders, Saved } from "../RequestResponse.js"
import { BoundedResponseTypeId, isBoundedResponse } from "../Transport.js"
import type { Budget } from "./budget.js"
import * as json from "./json.js"

/** What one attempt produced. @internal */
export interface Outcome {
  readonly statusCode: number
  readonly headers: ResponseHeaders
  readonly body: unknown
  readonly error: RequestError | undefined
  /** Where a download went (see `download.ts`); absent for a body read into memory. */
  readonly saved?: Saved | undefined
}

/**
 * An empty header record: no prototype (as Node's `message.headers`), so
 * any name, `__proto__` and `constructor` included, is set as an own
 * property, and a name that was not sent reads undefined. Made from `{}`
 * rather than `Object.create(null)`, which V8 keeps in dictionary mode
 * (twice as slow to fill and to write as JSON).
 *
 * @internal
 */
export const headerRecord = (): Record<string, string | ReadonlyArray<string>> => Object.setPrototypeOf({}, null)

/**
 * Response headers as a record, as Node gives them: `set-cookie` an array
 * (a cookie's `Expires` date has a comma, so the joined form cannot be split
 * by commas alone), any other repeated header joined with ", ". The record
 * has no prototype (see `headerRecord`).
 *
 * @internal
 */
export const plainHeaders = (response: HttpClientResponse.HttpClientResponse): ResponseHeaders => {
  // A transport's own record of this shape (loamy's undici layer): no copy.
  if (isBoundedResponse(response)) {
    const own = response[BoundedResponseTypeId].responseHeaders
    if (own !== undefined) return own
  }
  const headers = response.headers
  const out = headerRecord()
  // Own names only: a name enumerable on a polluted Object.prototype is not a header of this response.
  for (const name in headers) if (Object.hasOwn(headers, name)) out[name] = headers[name]!
  if (headers["set-cookie"] !== undefined) out["set-cookie"] = setCookieValues(response)
  return out
}

/**
 * A response's `Set-Cookie` values, one per cookie (none: an empty array).
 *
 * @internal
 */
export const setCookieValues = (response: HttpClientResponse.HttpClientResponse): ReadonlyArray<string> => {
  const joined = response.headers["set-cookie"]
  if (joined === undefined) return []
  const cookies = splitSetCookie(joined)
  // Effect's fetch client keeps only the last Set-Cookie in `headers`; its `cookies` has them all (re-serialized).
  const parsed = Cookies.toSetCookieHeaders(response.cookies)
  return parsed.length > cookies.length ? parsed : cookies
}

/** Splits joined `Set-Cookie` values at the commas that start another `name=`. @internal */
export const splitSetCookie = (joined: string | ReadonlyArray<string>): ReadonlyArray<string> =>
  typeof joined === "string" ? joined.split(/,\s*(?=[^;,=\s]+=)/) : joined

/** Text media types; anything else without a charset is binary and kept as bytes. */
const textType = /^(?:text\/|application\/(?:json|xml|javascript|ecmascript|x-www-form-urlencoded|graphql|x-ndjson|jsonl?)\b)|[+/](?:json|xml)\b/

interface Kind {
  readonly binary: boolean
  readonly charset: string | undefined
}

const utf8: Kind = { binary: false, charset: undefined }
let lastType: string | undefined
let lastKind: Kind = utf8

/** Whether a body of this `Content-Type` is text (and in which charset) or bytes. @internal */
export const kindOf = (contentType: string | ReadonlyArray<string> | undefined): Kind => {
  if (contentType === undefined || typeof contentType !== "string") return utf8
  // Responses of one call mostly share a type.
  if (contentType === lastType) return lastKind
  const lower = contentType.toLowerCase()
  const match = /;\s*charset\s*=\s*"?([^";\s]+)/.exec(lower)
  const charset = match === null ? undefined : match[1]
  const kind: Kind = charset !== undefined
    ? { binary: false, charset: charset === "utf-8" || charset === "utf8" ? undefined : charset }
    : { binary: lower.trim() !== "" && !textType.test(lower), charset: undefined }
  lastType = contentType
  lastKind = kind
  return kind
}

const decoders = new Map<string, TextDecoder>()
const fatalUtf8 = new TextDecoder("utf-8", { fatal: true })
const lossyUtf8 = new TextDecoder("utf-8")

/** A strict decoder for `charset`, or undefined when the label is unknown. */
const decoderFor = (charset: string | undefined): TextDecoder | undefined => {
  if (charset === undefined) return fatalUtf8
  let decoder = decoders.get(charset)
  if (decoder === undefined) {
    try {
      decoder = new TextDecoder(charset, { fatal: true })
    } catch {
      return undefined
    }
    decoders.set(charset, decoder)
  }
  return decoder
}

/** The longest string V8 makes; a body that decodes to more is too large to hold. */
const maxStringLength = (1 << 29) - 24

/**
 * A body's outcome: `parseBytes`' or, for `undefined` (the body went past
 * `maxBodyBytes`), a `BodyTooLargeError`. A function rather than a closure
 * per response.
 *
 * @internal
 */
export const bodyOutcome = (
  bytes: Uint8Array | undefined,
  method: string,
  url: string,
  statusCode: number,
  headers: ResponseHeaders,
  maxBodyBytes: number,
  exact: boolean
): Outcome =>
  bytes === undefined
    ? { statusCode, headers, body: null, error: new BodyTooLargeError({ method, url, statusCode, maxBodyBytes }) }
    : parseBytes(bytes, method, url, statusCode, headers, exact)

/**
 * Folds a body's bytes into the outcome: empty is `null`; binary types are
 * the bytes themselves (a `Uint8Array`); text is decoded by its declared
 * charset (UTF-8 by default, strictly: bad bytes are an error, never silent
 * replacement characters) and parsed as JSON, or kept as `{ text }` with a
 * `BodyDecodeError`. JSON nested deeper than `json.maxDepth` is such an
 * error too: no door could carry the value. With `exact`, numbers a JS
 * number would change are kept as `JSON.rawJSON` values (see `json.parse`).
 *
 * @internal
 */
export const parseBytes = (
  bytes: Uint8Array,
  method: string,
  url: string,
  statusCode: number,
  headers: ResponseHeaders,
  exact: boolean
): Outcome => {
  if (bytes.byteLength === 0) return { statusCode, headers, body: null, error: undefined }
  const kind = kindOf(headers["content-type"])
  if (kind.binary) return { statusCode, headers, body: bytes, error: undefined }
  const fail = (detail: string, text: string): Outcome => ({
    statusCode,
    headers,
    body: { text },
    error: new BodyDecodeError({ method, url, statusCode, detail })
  })
  const decoder = decoderFor(kind.charset)
  if (decoder === undefined) return fail(`unknown charset ${JSON.stringify(kind.charset)}`, lossyUtf8.decode(bytes))
  let text: string
  try {
    text = decoder.decode(bytes)
  } catch {
    if (bytes.byteLength > maxStringLength) {
      return {
        statusCode,
        headers,
        body: null,
        error: new BodyTooLargeError({ method, url, statusCode, maxBodyBytes: maxStringLength })
      }
    }
    return fail(`the body is not valid ${kind.charset ?? "utf-8"}`, lossyUtf8.decode(bytes))
  }
  // Only a text long enough to nest that deep is scanned (see `json.deepIn`).
  if (json.deepIn(text) !== undefined) return fail(`the JSON is nested deeper than ${json.maxDepth} levels`, text)
  try {
    return { statusCode, headers, body: json.parse(text, exact), error: undefined }
  } catch (cause) {
    return fail((cause as Error).message, text)
  }
}

const empty = new Uint8Array(0)

/** `bodyBytesNow`'s answer when the body must be read: `readLimited`. @internal */
export const mustRead: unique symbol = Symbol("@loamy/core/internal/body/mustRead")

/**
 * The body without waiting, when there is nothing to read or a client has
 * it in memory already (loamy's undici layer reads small bodies before it
 * hands the response over): at most `limit` bytes, or undefined when it is
 * larger; `mustRead` otherwise. Spares an Effect per request.
 *
 * @internal
 */
export const bodyBytesNow = (
  response: HttpClientResponse.HttpClientResponse,
  headers: ResponseHeaders,
  limit: number
): Uint8Array | undefined | typeof mustRead => {
  // No body to read (fetch has no stream for these at all).
  if (response.status === 204 || response.status === 304 || headers["content-length"] === "0") return empty
  if (!isBoundedResponse(response)) return mustRead
  const bytes = response[BoundedResponseTypeId].bufferedBody
  if (bytes === undefined) return mustRead
  return bytes.byteLength > limit ? undefined : bytes
}

/** Waits until `budget` lets read `ticket` go on; a read that ends meanwhile stops waiting. */
const waitBudget = (budget: Budget, ticket: number): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const waiter = budget.wait(ticket, () => resume(Effect.void))
    return Effect.sync(() => {
      if (waiter.resume !== undefined) budget.cancel(waiter)
    })
  })

/**
 * Reads at most `limit` bytes and abandons (aborts) the rest, holding what
 * it reads in the call's `budget` until it ends. For a body `bodyBytesNow`
 * could not give: a response without one (204, 304, length 0) is its to
 * answer.
 */
export const readLimited = (
  response: HttpClientResponse.HttpClientResponse,
  limit: number,
  budget: Budget
): Effect.Effect<Uint8Array | undefined, HttpClientError.HttpClientError> => {
  const declared = response.headers["content-length"]
  if (declared !== undefined) {
    const length = Number(declared)
    if (length > limit) return Effect.as(discard(response), undefined)
  }
  // A transport with a bounded read of its own (loamy's undici layer) reads without an Effect stream.
  if (isBoundedResponse(response)) return response[BoundedResponseTypeId].readUpTo(limit, budget)
  if (declared !== undefined) {
    const length = Number(declared)
    // A declared length within the limit bounds the read by itself (the client enforces the
    // framing), so the whole body can be read at once: streaming it chunk by chunk costs
    // about a millisecond of CPU per request. Not when the body is encoded: fetch
    // decompresses, and the length counts the compressed bytes. The length is counted in the
    // budget before the read starts.
    const encoding = response.headers["content-encoding"]
    if (Number.isSafeInteger(length) && (encoding === undefined || encoding === "identity")) {
      return Effect.suspend(() => {
        const ticket = budget.open()
        const read = Effect.map(response.arrayBuffer, (buffer) => new Uint8Array(buffer))
        return Effect.ensuring(
          budget.take(ticket, length) ? read : Effect.andThen(waitBudget(budget, ticket), read),
          Effect.sync(() => budget.release(ticket, length))
        )
      })
    }
  }
  return Effect.suspend(() => {
    const chunks: Array<Uint8Array> = []
    let size = 0
    let tooLarge = false
    const ticket = budget.open()
    return response.stream.pipe(
      Stream.runForEachWhile((chunk) =>
        Effect.suspend(() => {
          size += chunk.byteLength
          if (size > limit) {
            size -= chunk.byteLength
            tooLarge = true
            return Effect.succeed(false)
          }
          chunks.push(chunk)
          return budget.take(ticket, chunk.byteLength) ? Effect.succeed(true) : Effect.as(waitBudget(budget, ticket), true)
        })
      ),
      Effect.map(() => {
        if (tooLarge) return undefined
        if (chunks.length === 1) return chunks[0]!
        const out = new Uint8Array(size)
        let offset = 0
        for (const chunk of chunks) {
          out.set(chunk, offset)
          offset += chunk.byteLength
        }
        return out
      }),
      Effect.ensuring(Effect.sync(() => budget.release(ticket, size)))
    )
  })
}

/** Stops reading a body we do not want; closing the stream aborts the response. */
export const discard = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<void> =>
  response.stream.pipe(
    Stream.runForEachWhile(() => Effect.succeed(false)),
    Effect.ignore
  )

