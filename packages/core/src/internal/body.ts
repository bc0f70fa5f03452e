/**
 * Reading a response body: at most `maxBodyBytes` of it (the rest abandoned
 * and the connection closed), then parsed as JSON into the outcome.
 *
 * @internal
 */
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import { BodyDecodeError, type RequestError } from "../LoamyError.js"

/** What one attempt produced. @internal */
export interface Outcome {
  readonly statusCode: number
  readonly headers: Record<string, string>
  readonly body: unknown
  readonly error: RequestError | undefined
}

/** @internal */
export const plainHeaders = (headers: Readonly<Record<string, string>>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const name in headers) out[name] = headers[name]!
  return out
}

/** @internal */
export const parseBody = (
  text: string,
  method: string,
  url: string,
  statusCode: number,
  headers: Record<string, string>
): Outcome => {
  if (text === "") return { statusCode, headers, body: null, error: undefined }
  try {
    return { statusCode, headers, body: JSON.parse(text), error: undefined }
  } catch (cause) {
    return {
      statusCode,
      headers,
      body: { text },
      error: new BodyDecodeError({ method, url, statusCode, detail: (cause as Error).message })
    }
  }
}

/** Reads at most `limit` bytes and abandons (aborts) the rest. */
export const readLimited = (
  response: HttpClientResponse.HttpClientResponse,
  limit: number
): Effect.Effect<Uint8Array | undefined, HttpClientError.ResponseError> => {
  const declared = response.headers["content-length"]
  if (declared !== undefined) {
    const length = Number(declared)
    if (length > limit) return Effect.as(discard(response), undefined)
    // A declared length within the limit bounds the read by itself (the client enforces the
    // framing), so the whole body can be read at once: streaming it chunk by chunk costs
    // about a millisecond of CPU per request. Not when the body is encoded: fetch
    // decompresses, and the length counts the compressed bytes.
    const encoding = response.headers["content-encoding"]
    if (Number.isSafeInteger(length) && (encoding === undefined || encoding === "identity")) {
      return Effect.map(response.arrayBuffer, (buffer) => new Uint8Array(buffer))
    }
  }
  return Effect.suspend(() => {
    const chunks: Array<Uint8Array> = []
    let size = 0
    let tooLarge = false
    return response.stream.pipe(
      Stream.runForEachWhile((chunk) =>
        Effect.sync(() => {
          size += chunk.byteLength
          if (size > limit) {
            tooLarge = true
            return false
          }
          chunks.push(chunk)
          return true
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
      })
    )
  })
}

/** Stops reading a body we do not want; closing the stream aborts the response. */
export const discard = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<void> =>
  response.stream.pipe(
    Stream.runForEachWhile(() => Effect.succeed(false)),
    Effect.ignore
  )

