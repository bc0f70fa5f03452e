/**
 * How the routes read requests and write bodies: JSON answers, compressed
 * and charset-encoded bytes, JSON strings streamed as they are generated.
 *
 * @internal
 */
import type * as http from "node:http"
import * as zlib from "node:zlib"

/** Answers `value` as JSON with a content-length. */
export const json = (res: http.ServerResponse, status: number, value: unknown, headers: http.OutgoingHttpHeaders = {}) => {
  const body = JSON.stringify(value)
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    ...headers
  })
  res.end(body)
}

/** The request body as UTF-8 text. */
export const readBody = (req: http.IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

/** A number from the query, or `fallback` when it is absent or not a number. */
export const numberParam = (query: URLSearchParams, name: string, fallback: number): number => {
  const raw = query.get(name)
  if (raw === null) return fallback
  const n = Number(raw)
  return Number.isFinite(n) ? n : fallback
}

/** The charsets `/charset` can encode a body in, by label, and the Buffer encoding used. */
export const charsets: Record<string, BufferEncoding> = {
  "utf-8": "utf8",
  "utf8": "utf8",
  "iso-8859-1": "latin1",
  "latin1": "latin1",
  "utf-16le": "utf16le",
  // Declared but unknown to everyone: the bytes are sent as UTF-8.
  "x-unknown": "utf8"
}

/** Every byte value 0..255, once, in order. */
export const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i))

/** The largest decoded size `/gzip|deflate|brotli?bytes=N` makes (compressed, it stays small). */
export const maxCompressedSource = 1024 * 1024 * 1024

export type Coding = "gzip" | "deflate" | "br"

export const compressSync = (coding: Coding, body: Buffer): Buffer =>
  coding === "gzip" ? zlib.gzipSync(body) : coding === "deflate" ? zlib.deflateSync(body) : zlib.brotliCompressSync(body)

const compressor = (coding: Coding): zlib.Gzip | zlib.Deflate | zlib.BrotliCompress =>
  coding === "gzip"
    ? zlib.createGzip()
    : coding === "deflate"
    ? zlib.createDeflate()
    : zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } })

/** Compressed JSON strings of `bytes` bytes (`"xxx…"`), made once per size, without holding the decoded form. */
const compressedCache = new Map<string, Promise<Buffer>>()
export const compressedString = (coding: Coding, bytes: number): Promise<Buffer> => {
  const key = `${coding}:${bytes}`
  let made = compressedCache.get(key)
  if (made === undefined) {
    made = new Promise<Buffer>((resolve, reject) => {
      const stream = compressor(coding)
      const out: Array<Buffer> = []
      stream.on("data", (chunk: Buffer) => out.push(chunk))
      stream.on("end", () => resolve(Buffer.concat(out)))
      stream.on("error", reject)
      const chunk = Buffer.alloc(64 * 1024, "x")
      let left = Math.max(0, bytes - 2)
      const pump = () => {
        let more = true
        while (left > 0 && more) {
          const piece = left >= chunk.length ? chunk : chunk.subarray(0, left)
          left -= piece.length
          more = stream.write(piece)
        }
        if (left > 0) stream.once("drain", pump)
        else stream.end("\"")
      }
      stream.write("\"")
      pump()
    })
    compressedCache.set(key, made)
    if (compressedCache.size > 32) compressedCache.delete(compressedCache.keys().next().value!)
  }
  return made
}

/** Sends `body` with status 200, with a content-length or (when `chunked`) without one. */
export const sendBytes = (res: http.ServerResponse, body: Buffer, headers: http.OutgoingHttpHeaders, chunked: boolean) => {
  res.writeHead(200, chunked ? headers : { ...headers, "content-length": body.byteLength })
  if (chunked) {
    // Two writes, so the body really goes out as chunks.
    const half = Math.floor(body.byteLength / 2)
    res.write(body.subarray(0, half))
    return void res.end(body.subarray(half))
  }
  return void res.end(body)
}

/** Streams a JSON string of `bytes` bytes (`"xxx…"`), generated as it goes, minding backpressure. */
export const streamJsonString = async (res: http.ServerResponse, bytes: number, headers: http.OutgoingHttpHeaders) => {
  res.writeHead(200, { "content-type": "application/json", ...headers })
  const chunk = "x".repeat(16 * 1024)
  let left = Math.max(0, bytes - 2)
  res.write("\"")
  while (left > 0 && !res.destroyed) {
    const piece = left >= chunk.length ? chunk : chunk.slice(0, left)
    left -= piece.length
    if (!res.write(piece)) {
      await new Promise<void>((resolve) => {
        const go = () => {
          res.off("drain", go)
          res.off("close", go)
          resolve()
        }
        res.on("drain", go)
        res.on("close", go)
      })
    }
  }
  if (!res.destroyed) res.end("\"")
}

/** Waits `ms` (a route's own delay, not a test's synchronisation). */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))
