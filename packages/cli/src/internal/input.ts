/**
 * Reading requests from a file or stdin: a JSON array (parsed whole and
 * checked before anything is sent) or JSONL (read line by line, so memory
 * stays bounded whatever the file size).
 *
 * @internal
 */
import * as fs from "node:fs"
import { RequestMap } from "@loamy/core"
import * as Result from "effect/Result"
import { fieldDetail, parseErrorDetail, redactUrls } from "./output.js"

/**
 * Input that cannot be used at all: not readable, not JSON, or a JSON array
 * with a bad request. Nothing has been sent when this is raised.
 *
 * @internal
 */
export class BadInput extends Error {
  override readonly name = "BadInput"
}

/** @internal */
export type Input =
  | {
    readonly kind: "array"
    readonly requests: ReadonlyArray<RequestMap.RequestMap>
  }
  | {
    readonly kind: "lines"
    /** Batches of raw lines (blank ones included, so line numbers stay right). */
    readonly batches: AsyncIterable<ReadonlyArray<string>>
  }

const isSpace = (byte: number) => byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09

/** The first byte that is not whitespace (or a UTF-8 byte order mark). */
const firstSignificant = (chunk: Buffer, start: number): number | undefined => {
  for (let i = start; i < chunk.length; i++) {
    const byte = chunk[i]!
    if (isSpace(byte)) continue
    if (byte === 0xef && chunk[i + 1] === 0xbb && chunk[i + 2] === 0xbf) {
      i += 2
      continue
    }
    return byte
  }
  return undefined
}

/**
 * Opens `path` (`-` for stdin) and decides its format from the first byte
 * that is not whitespace: `[` is a JSON array, anything else is JSONL. A
 * JSON array's requests are checked with `context` (the run's `baseUrl`).
 *
 * @internal
 */
export const open = async (path: string, context?: RequestMap.ValidateContext): Promise<Input> => {
  let readable: NodeJS.ReadableStream
  if (path === "-") {
    readable = process.stdin
  } else {
    try {
      const stat = await fs.promises.stat(path)
      if (stat.isDirectory()) throw new BadInput(`${path} is a directory, not a file of requests`)
    } catch (error) {
      if (error instanceof BadInput) throw error
      throw new BadInput(`cannot read ${path}: ${(error as Error).message}`)
    }
    readable = fs.createReadStream(path, { highWaterMark: 256 * 1024 })
  }
  const iterator = (readable as AsyncIterable<Buffer | string>)[Symbol.asyncIterator]()
  const head: Array<Buffer> = []
  let first: number | undefined
  try {
    while (first === undefined) {
      const next = await iterator.next()
      if (next.done) break
      const chunk = typeof next.value === "string" ? Buffer.from(next.value) : next.value
      head.push(chunk)
      first = firstSignificant(chunk, 0)
    }
  } catch (error) {
    throw new BadInput(`cannot read ${path === "-" ? "stdin" : path}: ${(error as Error).message}`)
  }
  const rest: AsyncIterable<Buffer> = {
    [Symbol.asyncIterator]: () => ({
      next: async () => {
        const shifted = head.shift()
        if (shifted !== undefined) return { done: false, value: shifted }
        const next = await iterator.next()
        if (next.done) return { done: true, value: undefined }
        return { done: false, value: typeof next.value === "string" ? Buffer.from(next.value) : next.value }
      },
      return: async () => {
        await iterator.return?.()
        return { done: true, value: undefined }
      }
    })
  }
  if (first === 0x5b /* [ */) return { kind: "array", requests: await readArray(rest, context) }
  return { kind: "lines", batches: lineBatches(rest) }
}

const readArray = async (
  chunks: AsyncIterable<Buffer>,
  context: RequestMap.ValidateContext | undefined
): Promise<ReadonlyArray<RequestMap.RequestMap>> => {
  const parts: Array<Buffer> = []
  for await (const chunk of chunks) parts.push(chunk)
  const bytes = Buffer.concat(parts)
  let text: string
  try {
    text = strictUtf8.decode(bytes)
  } catch {
    throw new BadInput(`the input is not valid UTF-8 (line ${firstBadLine(bytes)})`)
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  let parsed: unknown
  try {
    // Numbers digit for digit; each request's body depth is checked by the core.
    parsed = RequestMap.parseJson(text, { maxDepth: Infinity })
  } catch (error) {
    // Without the text V8 quotes around the error, nor URLs' userinfo and query: they may be secrets.
    throw new BadInput(
      `the input starts with [ but is not a valid JSON array: ${redactUrls(parseErrorDetail((error as Error).message))}`
    )
  }
  if (!Array.isArray(parsed)) throw new BadInput("the input is not a JSON array")
  const checked = RequestMap.validateAll(parsed, context)
  if (Result.isFailure(checked)) {
    const e = checked.failure
    const detail = redactUrls(fieldDetail(e.field, e.detail))
    throw new BadInput(
      e.field === ""
        ? `request at index ${e.index} is invalid: ${detail}`
        : `request at index ${e.index} is invalid, field ${e.field}: ${detail}`
    )
  }
  return checked.success
}

/** Refuses bytes that are not UTF-8; keeps a byte order mark (only the input's first one is dropped). */
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
const lossyUtf8 = new TextDecoder("utf-8", { ignoreBOM: true })

/** The 1-based number of the first line of `bytes` that is not UTF-8. */
const firstBadLine = (bytes: Uint8Array): number => {
  let line = 1
  let start = 0
  while (start <= bytes.length) {
    let end = bytes.indexOf(0x0a, start)
    if (end === -1) end = bytes.length
    try {
      strictUtf8.decode(bytes.subarray(start, end))
    } catch {
      return line
    }
    line++
    start = end + 1
  }
  return line
}

/**
 * A line that is not UTF-8 is handed on as this marker followed by its lossy
 * decoding (for the record's `request`). A lone surrogate cannot come out of
 * decoding valid UTF-8, so no real line can start with it; `loamy send`
 * hands the marked line on as an item the core refuses, with its own detail.
 */
const NOT_UTF8 = "\ud800"

/** @internal */
export const isNotUtf8 = (text: string): boolean => text.charCodeAt(0) === 0xd800

/** Decodes whole lines (`bytes` ends at a line end or the input's end), marking those that are not UTF-8. */
const decodeLines = (bytes: Uint8Array): Array<string> => {
  try {
    // The fast path: the whole chunk at once.
    return strictUtf8.decode(bytes).split("\n")
  } catch {
    const lines: Array<string> = []
    let start = 0
    while (start <= bytes.length) {
      let end = bytes.indexOf(0x0a, start)
      if (end === -1) end = bytes.length
      const line = bytes.subarray(start, end)
      try {
        lines.push(strictUtf8.decode(line))
      } catch {
        lines.push(NOT_UTF8 + lossyUtf8.decode(line))
      }
      start = end + 1
    }
    return lines
  }
}

/**
 * Splits a byte stream into lines, one batch per chunk read, so the consumer
 * pays one async step per chunk rather than per line. Lines are split on the
 * newline byte before decoding (it never occurs inside a UTF-8 sequence), so a
 * character cut by a chunk boundary is decoded whole, and a line that is not
 * UTF-8 is caught on its own (see `NOT_UTF8`).
 */
async function* lineBatches(chunks: AsyncIterable<Buffer>): AsyncGenerator<ReadonlyArray<string>> {
  // The start of a line not yet ended, in pieces (a long line may span many chunks).
  let carry: Array<Buffer> = []
  let first = true
  const firstLine = (lines: Array<string>) => {
    if (first) {
      first = false
      if (lines[0]!.charCodeAt(0) === 0xfeff) lines[0] = lines[0]!.slice(1)
    }
    return lines
  }
  for await (const chunk of chunks) {
    const last = chunk.lastIndexOf(0x0a)
    if (last === -1) {
      carry.push(chunk)
      continue
    }
    const ended = chunk.subarray(0, last)
    const bytes = carry.length === 0 ? ended : Buffer.concat([...carry, ended])
    carry = last + 1 < chunk.length ? [chunk.subarray(last + 1)] : []
    yield firstLine(decodeLines(bytes))
  }
  if (carry.length > 0) {
    const bytes = Buffer.concat(carry)
    if (bytes.length > 0) yield firstLine(decodeLines(bytes))
  }
}

/**
 * Counts the lines of a file that hold something, for the progress bar's
 * total. Reads the file once more; cheap next to sending its requests.
 *
 * @internal
 */
export const countLines = async (path: string): Promise<number> => {
  let count = 0
  let blank = true
  for await (const chunk of fs.createReadStream(path, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!
      if (byte === 0x0a) {
        if (!blank) count++
        blank = true
      } else if (blank && !isSpace(byte)) {
        blank = false
      }
    }
  }
  return blank ? count : count + 1
}
