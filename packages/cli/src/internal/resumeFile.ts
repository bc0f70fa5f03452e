/**
 * The `--resume` file itself (see `resume.ts` for its rules): reading its
 * records back and checking each, finding a torn last line, and changing it
 * only in ways a crash cannot make worse (cutting the torn line, rewriting it
 * next to itself and renaming it over).
 *
 * @internal
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as input from "./input.js"

/** A set of non-negative integers, 32 to a map entry: small for the dense sets of indices a file holds. @internal */
export class Indices {
  private readonly words = new Map<number, number>()
  size = 0
  has(index: number): boolean {
    const word = this.words.get(Math.floor(index / 32))
    return word !== undefined && (word & (1 << (index % 32))) !== 0
  }
  add(index: number): void {
    const key = Math.floor(index / 32)
    const word = this.words.get(key) ?? 0
    const bit = 1 << (index % 32)
    if ((word & bit) !== 0) return
    this.words.set(key, word | bit)
    this.size++
  }
  delete(index: number): void {
    const key = Math.floor(index / 32)
    const word = this.words.get(key) ?? 0
    const bit = 1 << (index % 32)
    if ((word & bit) === 0) return
    this.words.set(key, word & ~bit)
    this.size--
  }
  *[Symbol.iterator](): Generator<number> {
    for (const [key, word] of this.words) {
      for (let bit = 0; bit < 32; bit++) if ((word & (1 << bit)) !== 0) yield key * 32 + bit
    }
  }
}

/** A 32-bit hash per index, in pages of 4,096 (4 bytes an index, allocated where a file has records). @internal */
export class IndexHashes {
  private readonly pages = new Map<number, Uint32Array>()
  set(index: number, hash: number): void {
    const key = Math.floor(index / 4096)
    let page = this.pages.get(key)
    if (page === undefined) this.pages.set(key, page = new Uint32Array(4096))
    page[index % 4096] = hash
  }
  get(index: number): number {
    return this.pages.get(Math.floor(index / 4096))?.[index % 4096] ?? 0
  }
}

/** FNV-1a over the UTF-16 code units of `text`. */
const fnv1a = (text: string): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return hash >>> 0
}

/**
 * What is compared between a record and the input's request at its index:
 * URL, method, query parameters, header names, body (any of its fields) and
 * the request's own options, as one hash. Header
 * values are not compared: records redact the secret ones (and which ones
 * depends on flags that may differ between runs).
 *
 * @internal
 */
export const requestKey = (request: unknown): number => {
  if (typeof request !== "object" || request === null || Array.isArray(request)) {
    return fnv1a(`not a request: ${safeJson(request)}`)
  }
  const r = request as Record<string, unknown>
  const headers = r["headers"]
  return fnv1a(safeJson([
    r["url"] ?? null,
    r["httpOp"] ?? null,
    r["queryParams"] ?? null,
    typeof headers === "object" && headers !== null ? Object.keys(headers) : null,
    r["body"] ?? null,
    // The other bodies and the request's own options, as records write them (`RequestMap.toJsonable`).
    r["text"] ?? null,
    r["form"] ?? null,
    r["bytes"] ?? null,
    r["multipart"] ?? null,
    r["options"] ?? null
  ]))
}

const safeJson = (value: unknown): string => {
  try {
    return JSON.stringify(value) ?? ""
  } catch {
    return "(cannot be written as JSON)"
  }
}

/** Every record the CLI writes starts with this. */
const RECORD_START = "{\"index\":"

const isSpace = (byte: number) => byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === 0x0a

const isBlank = (bytes: Uint8Array): boolean => {
  for (let i = 0; i < bytes.length; i++) if (!isSpace(bytes[i]!)) return false
  return true
}

/**
 * Whether a last line that is not a whole record was torn by a crash: it
 * starts as a record does (or is the start of that start), once NUL bytes (a
 * power loss leaves them) and whitespace are dropped from its end. Any other
 * text is not loamy output and is refused, never cut: `--resume requests.jsonl`
 * by mistake must not lose a line.
 */
const tornRecord = (bytes: Uint8Array): boolean => {
  let end = bytes.length
  while (end > 0 && (bytes[end - 1] === 0 || isSpace(bytes[end - 1]!))) end--
  if (end === 0) return true
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(end, RECORD_START.length)).toString("latin1")
  return RECORD_START.startsWith(head)
}

type Parsed =
  | {
    readonly ok: true
    readonly index: number
    readonly failed: boolean
    /** The record is of an item that was not a valid request (an `InvalidInputError`). */
    readonly refused: boolean
    readonly key: number
  }
  | { readonly ok: false; readonly json: boolean; readonly problem: string }

const parseRecord = (text: string): Parsed => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return { ok: false, json: false, problem: "is not JSON" }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { ok: false, json: true, problem: "is not a JSON object" }
  }
  const record = value as Record<string, unknown>
  const index = record["index"]
  if (typeof index !== "number" || !Number.isSafeInteger(index) || index < 0) {
    return { ok: false, json: true, problem: "has no \"index\" (a non-negative integer)" }
  }
  if (
    !("requestMap" in record) || typeof record["statusCode"] !== "number" || typeof record["attempts"] !== "number"
  ) {
    return { ok: false, json: true, problem: "is not a response record (requestMap, statusCode, attempts)" }
  }
  const error = record["error"] as { readonly _tag?: unknown } | null | undefined
  const refused = typeof error === "object" && error !== null && error._tag === "InvalidInputError"
  return {
    ok: true,
    index,
    failed: error !== undefined && error !== null,
    refused,
    key: refused ? 0 : requestKey(record["requestMap"])
  }
}

/** What a read of the output file found. @internal */
export interface Scanned {
  readonly done: Indices
  readonly failed: Indices
  /** Indices whose record is of an item that was not a valid request. */
  readonly refused: Indices
  /** Per index, the `requestKey` of its record's `requestMap`. */
  readonly keys: IndexHashes
  /** The largest index and the line it is on (-1 when there are no records). */
  readonly maxIndex: number
  readonly maxLine: number
  /** Where a torn last line starts (the file is cut there), if there is one. */
  readonly cutAt: number | undefined
  /** The torn line's number. */
  readonly tornLine: number | undefined
}

/**
 * Reads every line of `file` (a missing file is an empty one), checks each
 * record with `check` (a message refuses the file), and finds a torn last line.
 *
 * @internal
 */
export const scan = async (
  file: string,
  check: (index: number, line: number) => string | undefined
): Promise<Scanned> => {
  const done = new Indices()
  const failed = new Indices()
  const refused = new Indices()
  const keys = new IndexHashes()
  let maxIndex = -1
  let maxLine = 0
  const refuse = (line: number, problem: string) =>
    new input.BadInput(`--resume: ${file} is not loamy output for this input: line ${line} ${problem}; nothing sent`)
  try {
    const stat = await fs.promises.stat(file)
    if (!stat.isFile()) throw new input.BadInput(`--resume: ${file} is not a file`)
  } catch (error) {
    if (error instanceof input.BadInput) throw error
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      return { done, failed, refused, keys, maxIndex, maxLine, cutAt: undefined, tornLine: undefined }
    }
    throw new input.BadInput(`--resume: cannot read ${file}: ${(error as Error).message}`)
  }
  let lineNumber = 0
  // A complete line that is not a record: an error, unless it is the file's last line and looks torn.
  let pending: { readonly line: number; readonly start: number; readonly problem: string; readonly torn: boolean } | undefined
  const onLine = (bytes: Buffer, start: number) => {
    lineNumber++
    if (isBlank(bytes)) return
    if (pending !== undefined) throw refuse(pending.line, pending.problem)
    const parsed = parseRecord(bytes.toString("utf8"))
    if (!parsed.ok) {
      pending = { line: lineNumber, start, problem: parsed.problem, torn: !parsed.json && tornRecord(bytes) }
      return
    }
    const { index } = parsed
    if (done.has(index)) throw refuse(lineNumber, `is a second record for index ${index}`)
    const problem = check(index, lineNumber)
    if (problem !== undefined) throw refuse(lineNumber, problem)
    done.add(index)
    if (parsed.failed) failed.add(index)
    if (parsed.refused) refused.add(index)
    else keys.set(index, parsed.key)
    if (index > maxIndex) {
      maxIndex = index
      maxLine = lineNumber
    }
  }
  let carry: Array<Buffer> = []
  let carryStart = 0
  let position = 0
  try {
    for await (const chunk of fs.createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
      let from = 0
      for (let end = chunk.indexOf(0x0a, from); end !== -1; end = chunk.indexOf(0x0a, from)) {
        const piece = chunk.subarray(from, end)
        if (carry.length === 0) onLine(piece, position + from)
        else {
          onLine(Buffer.concat([...carry, piece]), carryStart)
          carry = []
        }
        from = end + 1
      }
      if (from < chunk.length) {
        if (carry.length === 0) carryStart = position + from
        carry.push(chunk.subarray(from))
      }
      position += chunk.length
    }
  } catch (error) {
    if (error instanceof input.BadInput) throw error
    throw new input.BadInput(`--resume: cannot read ${file}: ${(error as Error).message}`)
  }
  let cutAt: number | undefined
  let tornLine: number | undefined
  const rest = Buffer.concat(carry)
  if (rest.length > 0 && !isBlank(rest)) {
    // The last line has no line end: the write that held it was cut short, even if what is there parses.
    const bytes = rest
    if (pending !== undefined) throw refuse(pending.line, pending.problem)
    if (!tornRecord(bytes)) throw refuse(lineNumber + 1, "is not a record and has no line end")
    cutAt = carryStart
    tornLine = lineNumber + 1
  } else if (pending !== undefined) {
    if (!pending.torn) throw refuse(pending.line, pending.problem)
    cutAt = pending.start
    tornLine = pending.line
  } else if (rest.length > 0) {
    // Only blanks after the last line end: dropped, so that the next record starts a line.
    cutAt = carryStart
  }
  return { done, failed, refused, keys, maxIndex, maxLine, cutAt, tornLine }
}

/** The first line of `file` (1-based) that is a record whose index `matches`, and that index. @internal */
export const firstLineOf = async (
  file: string,
  matches: (index: number) => boolean
): Promise<{ readonly line: number; readonly index: number } | undefined> => {
  let lineNumber = 0
  const lines = await input.open(file)
  if (lines.kind !== "lines") return undefined
  for await (const batch of lines.batches) {
    for (const text of batch) {
      lineNumber++
      if (text.trim() === "") continue
      let index: number
      try {
        index = indexOf(text)
      } catch {
        continue
      }
      if (matches(index)) return { line: lineNumber, index }
    }
  }
  return undefined
}

/** The index of a record line already checked by `scan`. */
const indexOf = (text: string): number => {
  const match = /^\{"index":(\d+)[,}]/.exec(text)
  return match !== null ? Number(match[1]) : (JSON.parse(text) as { index: number }).index
}

const syncDirectory = (file: string) => {
  // Makes a rename durable; not every platform can open a directory (Windows), and then there is nothing to do.
  try {
    const fd = fs.openSync(path.dirname(path.resolve(file)), "r")
    try {
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
  } catch {
    // best effort
  }
}

/**
 * Rewrites `file` without the records of the indices in `drop` and without
 * anything from `end` on: to a new file next to it, flushed to disk, then
 * renamed over it.
 *
 * @internal
 */
export const rewriteWithout = async (file: string, drop: Indices, end: number | undefined): Promise<void> => {
  const temporary = `${file}.loamy-rewrite`
  const fd = fs.openSync(temporary, "w")
  try {
    let buffer = ""
    const flush = () => {
      if (buffer !== "") fs.writeSync(fd, buffer)
      buffer = ""
    }
    let carry = ""
    const onLine = (text: string) => {
      if (text.trim() === "" || drop.has(indexOf(text))) return
      buffer += text + "\n"
      if (buffer.length >= 1024 * 1024) flush()
    }
    if (end !== 0) {
      // Decoded as a stream, so a character cut by a chunk's end is decoded whole.
      const stream = fs.createReadStream(file, {
        encoding: "utf8",
        highWaterMark: 1024 * 1024,
        ...(end !== undefined ? { end: end - 1 } : {})
      }) as AsyncIterable<string>
      for await (const chunk of stream) {
        const lines = (carry + chunk).split("\n")
        carry = lines.pop()!
        for (const line of lines) onLine(line)
      }
    }
    // `scan` cut the file before any line without a line end: a rest here is blank.
    if (carry.trim() !== "") onLine(carry)
    flush()
    fs.fchmodSync(fd, fs.statSync(file).mode & 0o7777)
    fs.fsyncSync(fd)
  } catch (error) {
    fs.closeSync(fd)
    fs.rmSync(temporary, { force: true })
    throw error
  }
  fs.closeSync(fd)
  fs.renameSync(temporary, file)
  syncDirectory(file)
}

/** Cuts `file` at `end` (a torn last line) and makes that durable. @internal */
export const cut = (file: string, end: number) => {
  const fd = fs.openSync(file, "r+")
  try {
    fs.ftruncateSync(fd, end)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}
