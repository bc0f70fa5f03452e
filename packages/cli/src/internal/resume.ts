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
 *
 * @internal
 */
import * as fs from "node:fs"
import * as path from "node:path"
import * as input from "./input.js"
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
  /** Called with the input's size once it has all been read: a message if the file does not fit it. */
  readonly checkEnd: (size: number) => string | undefined
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
  | { readonly ok: true; readonly index: number; readonly failed: boolean }
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
  return { ok: true, index, failed: record["error"] !== undefined && record["error"] !== null }
}

/** What a read of the output file found. */
interface Scanned {
  readonly done: Indices
  readonly failed: Indices
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
      return { done, failed, maxIndex, maxLine, cutAt: undefined, tornLine: undefined }
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
  return { done, failed, maxIndex, maxLine, cutAt, tornLine }
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

/**
 * The number of requests in a JSONL file, counted as `loamy send` numbers
 * them (lines that hold something), so a `--resume` file can be checked
 * against it before anything is sent.
 *
 * @internal
 */
export const countRequests = async (file: string): Promise<number> => {
  const source = await input.open(file)
  if (source.kind === "array") return source.requests.length
  let count = 0
  for await (const batch of source.batches) {
    for (const text of batch) if (text.trim() !== "") count++
  }
  return count
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`

/**
 * Works out what a run sends and, with `--resume`, reads, checks and repairs
 * the output file and opens it for appending. Throws `input.BadInput` (nothing
 * sent, nothing changed) when the file is not loamy output for this input.
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
    return { keep: inShardOrAll, sends: shardCount, writer: undefined, failedBefore: 0, checkEnd: () => undefined }
  }
  // The input's size, when it can be known before sending: a JSON array, or a JSONL file read once more.
  // JSONL on stdin is checked as it is read (see `checkEnd`).
  let size: number | undefined
  if (source.kind === "array") size = source.requests.length
  else if (inputPath !== "-") size = await countRequests(inputPath)
  const beyond = (index: number) =>
    `has index ${index}, beyond the input's ${plural(size!, "request")}${size! > 0 ? ` (0 to ${size! - 1})` : ""}`
  const scanned = await scan(file, (index) => {
    if (size !== undefined && index >= size) return beyond(index)
    if (shard !== undefined && !inShard(shard, index)) {
      return `has index ${index}, which is in shard ${index % shard.count}/${shard.count}, not ${shard.index}/${shard.count}`
    }
    return undefined
  })
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
    writer = output.makeWriter(fs.createWriteStream(file, { fd }), true, file)
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
    checkEnd: (n) =>
      scanned.maxIndex >= n
        ? `--resume: ${file} is not loamy output for this input: line ${scanned.maxLine} has index ${scanned.maxIndex}, ` +
          `beyond the input's ${plural(n, "request")} (found at the input's end: the requests it lacked were sent)`
        : undefined
  }
}
