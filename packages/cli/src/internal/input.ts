/**
 * Reading requests from a file or stdin: a JSON array (parsed whole and
 * checked before anything is sent) or JSONL (read line by line, so memory
 * stays bounded whatever the file size).
 *
 * @internal
 */
import * as fs from "node:fs"
import { StringDecoder } from "node:string_decoder"
import { RequestMap } from "@loamy/core"
import * as Either from "effect/Either"

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
 * that is not whitespace: `[` is a JSON array, anything else is JSONL.
 *
 * @internal
 */
export const open = async (path: string): Promise<Input> => {
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
  if (first === 0x5b /* [ */) return { kind: "array", requests: await readArray(rest) }
  return { kind: "lines", batches: lineBatches(rest) }
}

const readArray = async (chunks: AsyncIterable<Buffer>): Promise<ReadonlyArray<RequestMap.RequestMap>> => {
  const parts: Array<Buffer> = []
  for await (const chunk of chunks) parts.push(chunk)
  let text = Buffer.concat(parts).toString("utf8")
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new BadInput(`the input starts with [ but is not a valid JSON array: ${(error as Error).message}`)
  }
  if (!Array.isArray(parsed)) throw new BadInput("the input is not a JSON array")
  const checked = RequestMap.validateAll(parsed)
  if (Either.isLeft(checked)) {
    const e = checked.left
    throw new BadInput(
      e.field === ""
        ? `request at index ${e.index} is invalid: ${e.detail}`
        : `request at index ${e.index} is invalid, field ${e.field}: ${e.detail}`
    )
  }
  return checked.right
}

/**
 * Splits a byte stream into lines, one batch per chunk read, so the consumer
 * pays one async step per chunk rather than per line.
 */
async function* lineBatches(chunks: AsyncIterable<Buffer>): AsyncGenerator<ReadonlyArray<string>> {
  const decoder = new StringDecoder("utf8")
  let carry = ""
  let first = true
  for await (const chunk of chunks) {
    let text = carry + decoder.write(chunk)
    if (first) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
      first = false
    }
    const lines = text.split("\n")
    carry = lines.pop()!
    if (lines.length > 0) yield lines
  }
  carry += decoder.end()
  if (carry !== "") yield [carry]
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

/** The result of reading one JSONL line. @internal */
export type Line =
  | { readonly ok: true; readonly request: RequestMap.RequestMap }
  | { readonly ok: false; readonly field: string; readonly detail: string; readonly raw: unknown }

/**
 * Parses and checks one JSONL line. `index` is the request's position, used
 * by the core's error.
 *
 * @internal
 */
export const parseLine = (text: string, index: number): Line => {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    return { ok: false, field: "", detail: `not JSON: ${(error as Error).message}`, raw: text }
  }
  const checked = RequestMap.validateAt(parsed, index)
  if (Either.isRight(checked)) return { ok: true, request: checked.right }
  return { ok: false, field: checked.left.field, detail: checked.left.detail, raw: parsed }
}
