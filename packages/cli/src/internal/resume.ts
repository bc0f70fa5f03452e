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
import * as Result from "effect/Result"
import * as fs from "node:fs"
import { plural } from "./completion.js"
import * as input from "./input.js"
import * as lock from "./lock.js"
import { cut, firstLineOf, Indices, requestKey, rewriteWithout, scan, type Scanned } from "./resumeFile.js"
import { inShard, type Shard, shardSize } from "./shard.js"
import { makeWriter, type Writer } from "./writer.js"

/** What the flags ask for. @internal */
export interface SelectionConfig {
  /** `--resume FILE`: the output file to read, complete and append to. */
  readonly resume: string | undefined
  readonly retryFailed: boolean
  readonly shard: Shard | undefined
  /** The run's `--base-url`: the input's relative URLs are joined to it before they are compared with records. */
  readonly baseUrl?: string | undefined
}

/** What a run does with the selection. @internal */
export interface Plan {
  /** Whether the request at this index (0-based among the input's requests) is sent. */
  readonly keep: (index: number) => boolean
  /** How many requests this run sends, for an input of `size` requests. */
  readonly sends: (size: number) => number
  /** The writer appending to the `--resume` file; undefined: the usual output. */
  readonly writer: Writer | undefined
  /** Failed records already in the file and kept there (they make the exit code 1). */
  readonly failedBefore: number
  /** The input to send from, when reading the file's check had to take the start of it (JSONL on stdin). */
  readonly source: input.Input | undefined
  /** Gives the `--resume` file's lock back (nothing without `--resume`). Safe to call more than once. */
  readonly release: () => void
}

/** What the input says at one index, for comparing with the file's record there. */
const inputKey = (
  item: unknown,
  index: number,
  context: RequestMap.ValidateContext
): { readonly refused: boolean; readonly key: number } => {
  const checked = RequestMap.validateAt(item, index, context)
  // As records hold it: bytes as base64, durations as JSON can hold them.
  return Result.isFailure(checked)
    ? { refused: true, key: 0 }
    : { refused: false, key: requestKey(RequestMap.toJsonable(checked.success)) }
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
  constructor(readonly scanned: Scanned, readonly context: RequestMap.ValidateContext) {}
  /** Compares the input's `item` at `index` (on `line` of a JSONL input) with its record, if the file has one. */
  check(index: number, item: () => unknown, line: number | undefined): void {
    const { done, keys, refused } = this.scanned
    if (!done.has(index)) return
    const seen = inputKey(item(), index, this.context)
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
  const source = await input.open(inputPath, comparison.context)
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
  const comparison = new Comparison(scanned, { baseUrl: config.baseUrl })
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
  let writer: Writer
  try {
    // Opened here so a file that cannot be written is refused before anything is sent.
    const fd = fs.openSync(file, "a")
    writer = makeWriter(fs.createWriteStream(file, { fd }), true, file, fs.fstatSync(fd).size)
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

