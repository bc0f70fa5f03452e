/**
 * What a failed exchange means: the client's and the socket's errors mapped
 * to loamy's typed errors (refused, reset, DNS, TLS; a request the client
 * would not send).
 *
 * @internal
 */
import type * as HttpClientError from "effect/http/HttpClientError"
import {
  InvalidRequestError,
  RequestBodyError,
  type RequestError,
  TransportError,
  type TransportReason
} from "../LoamyError.js"

const transportCodes: Record<string, TransportReason> = {
  ECONNREFUSED: "ConnectionRefused",
  ECONNRESET: "ConnectionReset",
  EPIPE: "ConnectionReset",
  UND_ERR_SOCKET: "ConnectionReset",
  UND_ERR_CLOSED: "ConnectionReset",
  ERR_STREAM_PREMATURE_CLOSE: "ConnectionReset",
  ENOTFOUND: "DnsLookup",
  EAI_AGAIN: "DnsLookup",
  EAI_NONAME: "DnsLookup",
  ETIMEDOUT: "ConnectTimeout",
  UND_ERR_CONNECT_TIMEOUT: "ConnectTimeout"
}

/** Walks an error's `cause` chain for the innermost code and message. */
const rootCause = (error: unknown): { code: string | undefined; detail: string } => {
  let code: string | undefined
  let detail = error instanceof Error ? error.message : String(error)
  let current: unknown = error
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth++) {
    if (typeof current === "object") {
      const c = current as { code?: unknown; message?: unknown; cause?: unknown }
      if (typeof c.code === "string") code = c.code
      if (typeof c.message === "string" && c.message !== "") detail = c.message
      current = c.cause
    } else {
      break
    }
  }
  return { code, detail }
}

/** @internal */
export const transportError = (method: string, url: string, cause: unknown): TransportError => {
  const { code, detail } = rootCause(cause)
  let reason: TransportReason = code === undefined ? "Unknown" : transportCodes[code] ?? "Unknown"
  if (reason === "Unknown" && code !== undefined && (code.startsWith("ERR_TLS") || code.includes("CERT"))) {
    reason = "Tls"
  }
  if (reason === "Unknown" && /socket|other side closed|terminated/i.test(detail)) reason = "ConnectionReset"
  return code === undefined
    ? new TransportError({ method, url, reason, detail })
    : new TransportError({ method, url, reason, code, detail })
}

/** Whether a `Blob` in the cause chain failed to read (a multipart file that changed or went away as it was sent). */
const blobUnreadable = (error: unknown): boolean => {
  let current: unknown = error
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null; depth++) {
    if ((current as { name?: unknown }).name === "NotReadableError") return true
    current = (current as { cause?: unknown }).cause
  }
  return false
}

/** @internal */
export const fromClientError = (method: string, url: string, error: HttpClientError.HttpClientError): RequestError => {
  const kind = error.reason._tag
  if (blobUnreadable(error.cause)) {
    return new RequestBodyError({
      method,
      url,
      field: "multipart",
      detail: `a file could not be read as it was sent (changed, truncated or removed): ${rootCause(error.cause).detail}`
    })
  }
  // A request the client would not send (a body it cannot encode, a URL it cannot build).
  if (kind === "EncodeError" || kind === "InvalidUrlError") {
    return new InvalidRequestError({ method, url, detail: rootCause(error.cause ?? error).detail })
  }
  const cause = error.cause ?? error
  // fetch rejects bad requests (a body on GET, a forbidden header) with a TypeError before connecting.
  if (kind === "TransportError" && cause instanceof TypeError && rootCause(cause).code === undefined) {
    return new InvalidRequestError({ method, url, detail: rootCause(cause).detail })
  }
  return transportError(method, url, cause)
}

