/**
 * Content-Encoding: which decoders a body needs (as fetch decides it), the
 * decoders themselves (synchronous for a body already in memory, streams for
 * one still arriving), and what they hold while they inflate, for the
 * call's body budget.
 *
 * @internal
 */
import { Duplex, pipeline, Readable } from "node:stream"
import * as zlib from "node:zlib"

/** @internal */
export type Coding = "gzip" | "deflate" | "br"

/** fetch's limit: more codings than this are a malformed (or hostile) response. */
const maxCodings = 5

/**
 * The decoders a body needs, in the order they apply (the reverse of the
 * header's), as fetch has them: none for `HEAD`, 204 and 304, none for
 * `identity`, and none at all when a coding is unknown (the body is given as
 * it came). `"too many"` when there are more than five.
 *
 * @internal
 */
export const codingsOf = (
  method: string,
  status: number,
  header: string | ReadonlyArray<string> | undefined
): ReadonlyArray<Coding> | "too many" | undefined => {
  if (header === undefined || method === "HEAD" || status === 204 || status === 304) return undefined
  const names = (typeof header === "string" ? header : header.join(",")).toLowerCase().split(",")
  if (names.length > maxCodings) return "too many"
  const codings: Array<Coding> = []
  for (let i = names.length - 1; i >= 0; i--) {
    const name = names[i]!.trim()
    if (name === "gzip" || name === "x-gzip") codings.push("gzip")
    else if (name === "deflate") codings.push("deflate")
    else if (name === "br") codings.push("br")
    else if (name !== "identity" && name !== "") return undefined
  }
  return codings.length === 0 ? undefined : codings
}

// Lenient as fetch and curl are: a body cut short gives what it has instead of an error.
const zlibOptions: zlib.ZlibOptions = { flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH }
const brotliOptions: zlib.BrotliOptions = {
  flush: zlib.constants.BROTLI_OPERATION_FLUSH,
  finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH
}

/** `deflate` is meant to be zlib-wrapped, but some servers send it raw; fetch takes both. */
const isZlibWrapped = (first: number): boolean => (first & 0x0f) === 0x08

/**
 * A whole (small) body at once: the synchronous decoders cost less than streams.
 *
 * @internal
 */
export const decodeSync = (bytes: Uint8Array, codings: ReadonlyArray<Coding>): Uint8Array => {
  let out = bytes
  for (const coding of codings) {
    if (out.byteLength === 0) return out
    out = coding === "gzip"
      ? zlib.gunzipSync(out, zlibOptions)
      : coding === "br"
      ? zlib.brotliDecompressSync(out, brotliOptions)
      : isZlibWrapped(out[0]!)
      ? zlib.inflateSync(out, zlibOptions)
      : zlib.inflateRawSync(out, zlibOptions)
  }
  return out
}

/**
 * `deflate`, zlib-wrapped or raw as the first byte says. Unlike fetch's, it
 * passes the reader's back-pressure on to the inflater, so a reader that
 * stops also stops the inflating.
 */
class AutoInflate extends Duplex {
  private inner: zlib.Inflate | zlib.InflateRaw | undefined = undefined

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let inner = this.inner
    if (inner === undefined) {
      if (chunk.byteLength === 0) return callback()
      const made = isZlibWrapped(chunk[0]!) ? zlib.createInflate(zlibOptions) : zlib.createInflateRaw(zlibOptions)
      inner = this.inner = made
      made.on("data", (data: Buffer) => {
        if (!this.push(data)) made.pause()
      })
      made.on("end", () => this.push(null))
      made.on("error", (error) => this.destroy(error))
    }
    inner.write(chunk, callback)
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.inner === undefined) this.push(null)
    else this.inner.end()
    callback()
  }

  override _read(): void {
    this.inner?.resume()
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.inner?.destroy()
    callback(error)
  }
}

/** What zlib's inflaters hold besides their output: the 32 KiB window and their state. */
const zlibWindowBytes = 48 * 1024

/**
 * A brotli stream's window (RFC 7932, 9.1) from its first byte; undefined:
 * the common 4 MiB (WBITS 22).
 *
 * @internal
 */
export const brotliWindowBytes = (first: number | undefined): number => {
  if (first === undefined) return 1 << 22
  let bits = 16
  if ((first & 1) !== 0) {
    const n = (first >> 1) & 7
    const m = (first >> 4) & 7
    // m = 1 asks for a large window, which the decoder refuses: it fails at once, holding nothing.
    bits = n !== 0 ? 17 + n : m > 1 ? 8 + m : 17
  }
  return 1 << bits
}

/**
 * What a body's decoders hold while inflating, for the call's body budget:
 * brotli's ring buffer, the size of its window, dominates (a hundred
 * inflating bombs hold hundreds of MB in them alone). `first` is the body's
 * first byte, when brotli reads the body as it came.
 *
 * @internal
 */
export const decoderBytes = (codings: ReadonlyArray<Coding>, first: number | undefined): number => {
  let bytes = 0
  for (let i = 0; i < codings.length; i++) {
    const coding = codings[i]!
    bytes += coding !== "br" ? zlibWindowBytes : i === 0 ? brotliWindowBytes(first) : 1 << 24
  }
  return bytes
}

const decoder = (coding: Coding): Duplex =>
  coding === "gzip"
    ? zlib.createGunzip(zlibOptions)
    : coding === "br"
    ? zlib.createBrotliDecompress(brotliOptions)
    : new AutoInflate()

function ignoreError(_: unknown) {}

/**
 * `source` through the decoders of `codings`. Destroying the last stream (a
 * reader that stops) destroys every stream before it, `source` included,
 * which for an undici body aborts the request and closes its socket.
 *
 * @internal
 */
export const decodedReadable = (source: Readable, codings: ReadonlyArray<Coding>): Readable => {
  const decoders = codings.map(decoder)
  pipeline([source, ...decoders], ignoreError)
  return decoders.length === 0 ? source : decoders[decoders.length - 1]!
}

/** A whole body in memory as a stream, for the decoders. @internal */
export const readableOf = (bytes: Uint8Array): Readable => Readable.from([bytes], { objectMode: false })

/** @internal */
export const concat = (chunks: ReadonlyArray<Uint8Array>, size: number): Uint8Array => {
  if (chunks.length === 1) return chunks[0]!
  const out = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}

/** Every byte of `readable`. @internal */
export const collect = async (readable: Readable): Promise<Uint8Array> => {
  const chunks: Array<Uint8Array> = []
  let size = 0
  for await (const chunk of readable as AsyncIterable<Uint8Array>) {
    chunks.push(chunk)
    size += chunk.byteLength
  }
  return concat(chunks, size)
}
