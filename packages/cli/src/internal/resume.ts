/**
 * `--resume FILE`, `--retry-failed` and `--shard i/n`: which requests of the
 * input a run sends, and the output file it appends to.
 *
 * The output file's rules, which make a crash at any point safe:
 *
 * - Records are only appended, whole lines at a time (the writer hands whole
 *   lines to the file), so a crash can leave at most the last line torn: cut
 *   short (no line end) or, after a power loss, garbage.
 * - Reading it back, every complete line must be one of loamy's records
 *   (`{"index":…, "requestMap":…, "statusCode":…, "attempts":…}`), each index
 *   at most once and in range for the input (and the shard). A torn last line
 *   that starts like a record is cut away (`ftruncate`) and its index is sent
 *   again; anything else is refused before anything is sent or changed.
 * - `--retry-failed` first rewrites the file without its failed records (a
 *   new file next to it, flushed to disk, then renamed over it: a crash leaves
 *   either the old file or the new one, never half of one), then resumes as
 *   usual: the failed indices are missing, so they are sent again. The file
 *   never holds two records for one index, and once a run completes it holds
 *   exactly one per input request.
 * - Each record carries its `requestMap`. Before anything is sent, the
 *   record of every index is compared with the input's request at that index
 *   (URL, method, query parameters, header names and body; header values are
 *   left out, since the secret ones are redacted in records): a file written
 *   for another input is refused, naming its first record that does not match.
 *   A record of a line that was not a valid request matches a line that is not
 *   one either. JSONL on stdin is read up to the file's largest index before
 *   anything is sent (the requests to send among those lines are held until
 *   then); the rest streams as usual.
 * - One process per file: `lock.ts`.
 *
 * @internal
 */
import { RequestMap } from "@loamy/core"
import * as Either from "effect/Either"
import * as fs from "node:fs"
import * as path from "node:path"
import * as input from "./input.js"
import * as lock from "./lock.js"
import * as output from "./output.js"
import { inShard, type Shard, shardSize } from "./shard.js"

/** What the flags ask for. @internal */
export interface SelectionConfig {
  /** `--resume FILE`: the output file to read, complete and append to. */
  readonly resume: string | undefined
  readonly retryFailed: boolean
  readonly shard: Shard | undefined
}

/** What a run does with the selection. @internal */
export interface Plan {
  /** Whether the request at this index (0-based among the input's requests) is sent. */
  readonly keep: (index: number) => boolean
  /** How many requests this run sends, for an input of `size` requests. */
  readonly sends: (size: number) => number
  /** The writer appending to the `--resume` file; undefined: the usual output. */
  readonly writer: output.Writer | undefined
  /** Failed records already in the file and kept there (they make the exit code 1). */
  readonly failedBefore: number
  /** The input to send from, when reading the file's check had to take the start of it (JSONL on stdin). */
  readonly source: input.Input | undefined
  /** Gives the `--resume` file's lock back (nothing without `--resume`). Safe to call more than once. */
  readonly release: () => void
}

/** A set of non-negative integers, 32 to a map entry: small for the dense sets of indices a file holds. */
class Indices {
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

/** A 32-bit hash per index, in pages of 4,096 (4 bytes an index, allocated where a file has records). */
class IndexHashes {
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
 * URL, method, query parameters, header names and body, as one hash. Header
 * values are not compared: records redact the secret ones (and which ones
 * depends on flags that may differ between runs).
 */
const requestKey = (request: unknown): number => {
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
    r["body"] ?? null
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

/** What a read of the output file found. */
interface Scanned {
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
 */
const scan = async (
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

/** The first line of `file` (1-based) that is a record whose index `matches`, and that index. */
const firstLineOf = async (
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
 */
const rewriteWithout = async (file: string, drop: Indices, end: number | undefined): Promise<void> => {
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

/** Cuts `file` at `end` (a torn last line) and makes that durable. */
const cut = (file: string, end: number) => {
  const fd = fs.openSync(file, "r+")
  try {
    fs.ftruncateSync(fd, end)
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`

/** What the input says at one index, for comparing with the file's record there. */
const inputKey = (item: unknown, index: number): { readonly refused: boolean; readonly key: number } => {
  const checked = RequestMap.validateAt(item, index)
  return Either.isLeft(checked) ? { refused: true, key: 0 } : { refused: false, key: requestKey(checked.right) }
}

/** A JSONL line as `loamy send` reads it: JSON, or the text the core then refuses. */
const lineItem = (text: string): unknown => {
  if (input.isNotUtf8(text)) return null
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

/** Compares the input's requests with the file's records, index by index; collects the indices that differ. */
class Comparison {
  /** Indices whose record is not of the input's request there. */
  readonly mismatched = new Indices()
  /** The input line of (the first 10,000) mismatched indices, for the message. */
  readonly inputLines = new Map<number, number>()
  constructor(readonly scanned: Scanned) {}
  /** Compares the input's `item` at `index` (on `line` of a JSONL input) with its record, if the file has one. */
  check(index: number, item: () => unknown, line: number | undefined): void {
    const { done, keys, refused } = this.scanned
    if (!done.has(index)) return
    const seen = inputKey(item(), index)
    const same = seen.refused ? refused.has(index) : !refused.has(index) && keys.get(index) === seen.key
    if (same) return
    this.mismatched.add(index)
    if (line !== undefined && this.inputLines.size < 10_000) this.inputLines.set(index, line)
  }
}

/**
 * Reads a JSONL input file once to count its requests (lines that hold
 * something, as `loamy send` numbers them) and compare those the file has
 * records of.
 */
const readInputFile = async (inputPath: string, comparison: Comparison): Promise<number> => {
  const source = await input.open(inputPath)
  if (source.kind === "array") {
    source.requests.forEach((request, index) => comparison.check(index, () => bodyAsRead(request), undefined))
    return source.requests.length
  }
  let count = 0
  let lineNumber = 0
  for await (const batch of source.batches) {
    for (let text of batch) {
      lineNumber++
      if (text.endsWith("\r")) text = text.slice(0, -1)
      if (text.trim() === "") continue
      const index = count++
      comparison.check(index, () => lineItem(text), lineNumber)
    }
  }
  return count
}

/**
 * A request of a JSON array input with its body as a record holds it once
 * read back: numbers as `JSON.parse` reads them.
 */
const bodyAsRead = (request: RequestMap.RequestMap): RequestMap.RequestMap =>
  request.body === undefined ? request : { ...request, body: JSON.parse(JSON.stringify(request.body)) }

/**
 * Reads JSONL from stdin until the line of index `last` (or the input's
 * end), comparing the lines the file has records of. Returns the input to
 * send from: the lines read (those `skipped` by the plan replaced by a
 * stand-in), then the rest of stdin; and the count of requests when the
 * input ended within them.
 */
const readStdinPrefix = async (
  source: input.Input & { readonly kind: "lines" },
  last: number,
  comparison: Comparison,
  skipped: (index: number) => boolean
): Promise<{ readonly source: input.Input; readonly size: number | undefined }> => {
  const iterator = source.batches[Symbol.asyncIterator]()
  const held: Array<string> = []
  let count = 0
  let lineNumber = 0
  let ended = false
  while (count <= last) {
    const next = await iterator.next()
    if (next.done === true) {
      ended = true
      break
    }
    for (const raw of next.value) {
      lineNumber++
      const text = raw.endsWith("\r") ? raw.slice(0, -1) : raw
      if (text.trim() === "" || count > last) {
        held.push(raw)
        if (text.trim() !== "") count++
        continue
      }
      const index = count++
      comparison.check(index, () => lineItem(text), lineNumber)
      // A line the plan skips (its record stays) is not needed: a stand-in keeps its place and line number.
      held.push(skipped(index) ? "-" : raw)
    }
  }
  const rest: AsyncIterable<ReadonlyArray<string>> = {
    [Symbol.asyncIterator]: () => {
      let first = true
      return {
        next: async () => {
          if (first) {
            first = false
            if (held.length > 0) return { done: false, value: held.splice(0) }
          }
          if (ended) return { done: true, value: undefined }
          return iterator.next()
        },
        return: async () => {
          await iterator.return?.()
          return { done: true, value: undefined }
        }
      }
    }
  }
  return { source: { kind: "lines", batches: rest }, size: ended ? count : undefined }
}

/**
 * Works out what a run sends and, with `--resume`, takes the file's lock,
 * reads, checks and repairs the output file and opens it for appending.
 * Throws `input.BadInput` (nothing sent, nothing changed) when the file is
 * not loamy output for this input, `lock.LockHeld` when another run uses it.
 * Undefined when no flag of the selection is given.
 *
 * @internal
 */
export const prepare = async (
  config: SelectionConfig,
  inputPath: string,
  source: input.Input,
  quiet: boolean
): Promise<Plan | undefined> => {
  const { shard } = config
  const inShardOrAll = (index: number) => shard === undefined || inShard(shard, index)
  const shardCount = (size: number) => shard === undefined ? size : shardSize(shard, size)
  const file = config.resume
  if (file === undefined) {
    if (shard === undefined) return undefined
    return {
      keep: inShardOrAll,
      sends: shardCount,
      writer: undefined,
      failedBefore: 0,
      source: undefined,
      release: () => {}
    }
  }
  let held: lock.Lock
  try {
    held = lock.acquire(file)
  } catch (error) {
    if (error instanceof lock.LockHeld) throw error
    throw new input.BadInput(`--resume: cannot take the lock of ${file}: ${(error as Error).message}`)
  }
  if (held.takenOver !== undefined && !quiet) {
    process.stderr.write(`loamy: --resume ${file}: took over the lock of ${held.takenOver}\n`)
  }
  try {
    return await prepareLocked(config, inputPath, source, quiet, file, held)
  } catch (error) {
    held.release()
    throw error
  }
}

const prepareLocked = async (
  config: SelectionConfig,
  inputPath: string,
  source: input.Input,
  quiet: boolean,
  file: string,
  held: lock.Lock
): Promise<Plan> => {
  const { shard } = config
  const inShardOrAll = (index: number) => shard === undefined || inShard(shard, index)
  const shardCount = (size: number) => shard === undefined ? size : shardSize(shard, size)
  const refuse = (line: number, problem: string) =>
    new input.BadInput(`--resume: ${file} is not loamy output for this input: line ${line} ${problem}; nothing sent`)
  const beyond = (index: number, size: number) =>
    `has index ${index}, beyond the input's ${plural(size, "request")}${size > 0 ? ` (0 to ${size - 1})` : ""}`
  // A JSON array's size is known at once; a JSONL input's once it has been read (below).
  let size: number | undefined = source.kind === "array" ? source.requests.length : undefined
  const scanned = await scan(file, (index) => {
    if (size !== undefined && index >= size) return beyond(index, size)
    if (shard !== undefined && !inShard(shard, index)) {
      return `has index ${index}, which is in shard ${index % shard.count}/${shard.count}, not ${shard.index}/${shard.count}`
    }
    return undefined
  })
  // Every record against the input's request at its index, before anything is sent or changed.
  const comparison = new Comparison(scanned)
  let replaced: input.Input | undefined
  if (source.kind === "array") {
    for (const index of scanned.done) comparison.check(index, () => bodyAsRead(source.requests[index]!), undefined)
  } else if (inputPath !== "-") {
    size = await readInputFile(inputPath, comparison)
  } else if (scanned.maxIndex >= 0) {
    // The plan skips the indices with a record, but for the failed ones --retry-failed sends again.
    const skipped = (index: number) => scanned.done.has(index) && !(config.retryFailed && scanned.failed.has(index))
    const prefix = await readStdinPrefix(source, scanned.maxIndex, comparison, skipped)
    replaced = prefix.source
    size = prefix.size
  }
  if (size !== undefined && scanned.maxIndex >= size) {
    const total = size
    const first = await firstLineOf(file, (index) => index >= total)
    throw refuse(first?.line ?? scanned.maxLine, beyond(first?.index ?? scanned.maxIndex, total))
  }
  if (comparison.mismatched.size > 0) {
    const first = await firstLineOf(file, (index) => comparison.mismatched.has(index))
    const index = first?.index ?? comparison.mismatched[Symbol.iterator]().next().value!
    const inputLine = comparison.inputLines.get(index)
    throw refuse(
      first?.line ?? 0,
      `is the record of index ${index}, but the input's request at index ${index}` +
        `${inputLine === undefined ? "" : ` (line ${inputLine})`} is another one`
    )
  }
  const { done, failed } = scanned
  const kept = done.size
  const failedCount = failed.size
  let dropped = 0
  if (config.retryFailed && failedCount > 0) {
    await rewriteWithout(file, failed, scanned.cutAt)
    // Fold the failed ones out of the set of indices already done.
    for (const index of failed) done.delete(index)
    dropped = failedCount
  } else if (scanned.cutAt !== undefined) {
    cut(file, scanned.cutAt)
  }
  let writer: output.Writer
  try {
    // Opened here so a file that cannot be written is refused before anything is sent.
    const fd = fs.openSync(file, "a")
    writer = output.makeWriter(fs.createWriteStream(file, { fd }), true, file, fs.fstatSync(fd).size)
  } catch (error) {
    throw new input.BadInput(`--resume: cannot write ${file}: ${(error as Error).message}`)
  }
  if (!quiet) {
    const parts = [`${plural(kept, "record")} already there`]
    if (failedCount > 0 && dropped === 0) parts.push(`${failedCount} of them failed (kept; --retry-failed sends them again)`)
    if (dropped > 0) parts.push(`${plural(dropped, "failed record")} removed to be sent again`)
    if (scanned.tornLine !== undefined) parts.push(`a torn last line (line ${scanned.tornLine}) cut away`)
    const left = size === undefined ? undefined : Math.max(0, shardCount(size) - done.size)
    const toSend = left === undefined ? "sending the rest" : left === 0 ? "nothing left to send" : `sending ${left}`
    process.stderr.write(`loamy: resuming ${file}: ${parts.join(", ")}; ${toSend}\n`)
  }
  return {
    keep: (index) => inShardOrAll(index) && !done.has(index),
    sends: (n) => Math.max(0, shardCount(n) - done.size),
    writer,
    failedBefore: failedCount - dropped,
    source: replaced,
    release: held.release
  }
}

