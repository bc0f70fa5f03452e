/**
 * `loamy stats`: reading the records of one or more output files (JSONL, as
 * `loamy send` writes them, see `output.ts`) into one summary. Files are
 * streamed line by line: memory holds one line at a time and a few bytes per
 * distinct index (`Slots`), never a file. A record whose index was already
 * read replaces the earlier one (a resumed run's later record, a file given
 * twice), so sharded or resumed runs count each request once.
 *
 * @internal
 */
import { createReadStream } from "node:fs"
import { createInterface } from "node:readline"
import type { Readable } from "node:stream"

/** Indexes per page of `Slots`: a page is allocated when an index in it is first read. */
const PAGE_BITS = 16
const PAGE = 1 << PAGE_BITS

/** The last record read per index: what the summary needs of it, in typed arrays. */
interface Page {
  /** 0: no record; 1: a record of a request not sent (`attempts` 0); 2: a sent one. */
  readonly state: Uint8Array
  readonly status: Uint16Array
  /** 0: no error; else 1 + the error tag's number. */
  readonly tag: Uint16Array
  readonly origin: Uint32Array
  readonly elapsed: Float64Array
}

const newPage = (): Page => ({
  state: new Uint8Array(PAGE),
  status: new Uint16Array(PAGE),
  tag: new Uint16Array(PAGE),
  origin: new Uint32Array(PAGE),
  elapsed: new Float64Array(PAGE)
})

/** Names (error tags, origins) numbered in the order first seen. */
class Names {
  readonly list: Array<string> = []
  private readonly numbers = new Map<string, number>()
  number(name: string): number {
    let n = this.numbers.get(name)
    if (n === undefined) {
      n = this.list.length
      this.list.push(name)
      this.numbers.set(name, n)
    }
    return n
  }
}

/** What one line is found to be: a record's fields, or why it is not one (never its content). */
type Parsed =
  | {
    readonly index: number
    readonly status: number
    readonly tag: string | undefined
    readonly origin: string
    readonly sent: boolean
    readonly elapsedMs: number
  }
  | { readonly bad: string }

/** The key of a record's request in the per-origin table when its `requestMap` has no http(s) URL. */
export const NO_ORIGIN = "(no valid url)"

/** The origin of a URL's scheme and authority (the text before its path), or `NO_ORIGIN`. */
const parseOrigin = (start: string): string => {
  if (!URL.canParse(start)) return NO_ORIGIN
  const parsed = new URL(start)
  // The origin only: no userinfo, path or query string reaches the summary.
  return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.origin : NO_ORIGIN
}

/**
 * The origin of a record's request, parsed once per scheme and authority:
 * a file holds many URLs of few origins. The keys stay in memory only.
 */
const originOf = (requestMap: unknown, seen: Map<string, string>): string => {
  if (typeof requestMap !== "object" || requestMap === null) return NO_ORIGIN
  const url: unknown = (requestMap as { url?: unknown }).url
  if (typeof url !== "string") return NO_ORIGIN
  const authority = url.indexOf("//")
  // No authority: not a URL loamy sends; not kept, so odd lines cannot grow the cache.
  if (authority < 0) return parseOrigin(url)
  const end = url.slice(authority + 2).search(/[/?#\\]/)
  const start = end < 0 ? url : url.slice(0, authority + 2 + end)
  let origin = seen.get(start)
  if (origin === undefined) seen.set(start, origin = parseOrigin(start))
  return origin
}

const isCount = (u: unknown): u is number => typeof u === "number" && Number.isSafeInteger(u) && u >= 0

/**
 * Reads one line as a record (`origins`: the origins parsed so far). The
 * reasons a line is not one say what is wrong, never what it holds (a line
 * may carry a secret).
 *
 * @internal
 */
export const parseRecord = (line: string, origins: Map<string, string>): Parsed => {
  let value: unknown
  try {
    value = JSON.parse(line)
  } catch {
    // JSON.parse's message quotes the text: not shown.
    return { bad: "not JSON" }
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { bad: "not a JSON object" }
  const record = value as Record<string, unknown>
  if (!isCount(record["index"])) return { bad: "no index (a whole number >= 0)" }
  const status = record["statusCode"]
  if (!isCount(status) || status > 999) return { bad: "no statusCode (a whole number from 0 to 999)" }
  const elapsedMs = record["elapsedMs"]
  if (typeof elapsedMs !== "number" || !Number.isFinite(elapsedMs) || elapsedMs < 0) {
    return { bad: "no elapsedMs (a number >= 0)" }
  }
  const attempts = record["attempts"]
  if (!isCount(attempts)) return { bad: "no attempts (a whole number >= 0)" }
  const error = record["error"]
  let tag: string | undefined
  if (error !== undefined) {
    const errorTag = typeof error === "object" && error !== null ? (error as { _tag?: unknown })._tag : undefined
    if (typeof errorTag !== "string" || !/^[A-Za-z][A-Za-z0-9]*$/.test(errorTag)) {
      return { bad: "an error without a _tag name" }
    }
    tag = errorTag
  }
  return { index: record["index"], status, tag, origin: originOf(record["requestMap"], origins), sent: attempts > 0, elapsedMs }
}

/**
 * Latencies (`elapsedMs`) of the sent requests: nearest-rank percentiles
 * (the smallest value with at least p % of the values at or below it).
 *
 * @internal
 */
export interface Latency {
  readonly count: number
  readonly min: number
  readonly mean: number
  readonly p50: number
  readonly p90: number
  readonly p95: number
  readonly p99: number
  readonly max: number
}

/** Counts of a set of records: by status, by error tag, and the latency of the sent ones. */
export interface Counts {
  readonly requests: number
  readonly ok: number
  readonly failed: number
  /** By status code, `"0"` for no response. */
  readonly statuses: Readonly<Record<string, number>>
  /** By error tag. */
  readonly errors: Readonly<Record<string, number>>
  /** Undefined when none was sent. */
  readonly latencyMs: Latency | undefined
}

/**
 * The summary of the files.
 *
 * @internal
 */
export interface Summary extends Counts {
  readonly files: number
  /** Lines that were records. */
  readonly records: number
  /** Records replaced by a later record of the same index. */
  readonly superseded: number
  /** Lines that were not records (each reported as it was read). */
  readonly badLines: number
  /** By origin (scheme, host, port), in the order first seen. */
  readonly origins: Readonly<Record<string, Counts>>
}

/** A line that is not a record: where, and why. */
export interface BadLine {
  readonly file: string
  readonly line: number
  readonly reason: string
}

/** Where a file's lines come from: its path, or `"-"` for stdin. */
const open = (file: string): Readable => file === "-" ? process.stdin : createReadStream(file)

/**
 * Reads `files` (in this order; `"-"` is stdin) into one summary; calls
 * `onBad` for each line that is not a record. A file that cannot be read
 * rejects with its error.
 *
 * @internal
 */
export const summarize = async (
  files: ReadonlyArray<string>,
  onBad: (bad: BadLine) => void
): Promise<Summary> => {
  const pages = new Map<number, Page>()
  const tags = new Names()
  const origins = new Names()
  const originCache = new Map<string, string>()
  let records = 0
  let superseded = 0
  let badLines = 0
  for (const file of files) {
    const lines = createInterface({ input: open(file), crlfDelay: Infinity })
    let number = 0
    for await (const line of lines) {
      number++
      if (line.trim() === "") continue
      const parsed = parseRecord(line, originCache)
      if ("bad" in parsed) {
        badLines++
        onBad({ file, line: number, reason: parsed.bad })
        continue
      }
      records++
      const pageNumber = Math.floor(parsed.index / PAGE)
      let page = pages.get(pageNumber)
      if (page === undefined) pages.set(pageNumber, page = newPage())
      const slot = parsed.index % PAGE
      if (page.state[slot] !== 0) superseded++
      page.state[slot] = parsed.sent ? 2 : 1
      page.status[slot] = parsed.status
      page.tag[slot] = parsed.tag === undefined ? 0 : 1 + tags.number(parsed.tag)
      page.origin[slot] = origins.number(parsed.origin)
      page.elapsed[slot] = parsed.elapsedMs
    }
  }
  return { files: files.length, records, superseded, badLines, ...count(pages, tags.list, origins.list) }
}

/** Counts under way: plain maps, and the latencies once their number is known. */
interface Tally {
  requests: number
  failed: number
  sent: number
  readonly statuses: Map<number, number>
  readonly errors: Map<string, number>
  latencies: Float64Array
  filled: number
}

const newTally = (): Tally => ({
  requests: 0,
  failed: 0,
  sent: 0,
  statuses: new Map(),
  errors: new Map(),
  latencies: new Float64Array(0),
  filled: 0
})

const bump = <K>(map: Map<K, number>, key: K) => map.set(key, (map.get(key) ?? 0) + 1)

const add = (tally: Tally, status: number, tag: string | undefined, sent: boolean) => {
  tally.requests++
  bump(tally.statuses, status)
  if (tag !== undefined) {
    tally.failed++
    bump(tally.errors, tag)
  }
  if (sent) tally.sent++
}

/** Two passes over the kept records: counts first, then the latencies into arrays of the right size. */
const count = (
  pages: ReadonlyMap<number, Page>,
  tagNames: ReadonlyArray<string>,
  originNames: ReadonlyArray<string>
): Counts & { readonly origins: Record<string, Counts> } => {
  const all = newTally()
  const byOrigin = originNames.map(newTally)
  for (const page of pages.values()) {
    for (let slot = 0; slot < PAGE; slot++) {
      const state = page.state[slot]!
      if (state === 0) continue
      const tag = page.tag[slot]!
      const tagName = tag === 0 ? undefined : tagNames[tag - 1]!
      add(all, page.status[slot]!, tagName, state === 2)
      add(byOrigin[page.origin[slot]!]!, page.status[slot]!, tagName, state === 2)
    }
  }
  all.latencies = new Float64Array(all.sent)
  for (const tally of byOrigin) tally.latencies = new Float64Array(tally.sent)
  for (const page of pages.values()) {
    for (let slot = 0; slot < PAGE; slot++) {
      if (page.state[slot] !== 2) continue
      const elapsed = page.elapsed[slot]!
      all.latencies[all.filled++] = elapsed
      const tally = byOrigin[page.origin[slot]!]!
      tally.latencies[tally.filled++] = elapsed
    }
  }
  const origins: Record<string, Counts> = {}
  originNames.forEach((name, n) => (origins[name] = finish(byOrigin[n]!)))
  return { ...finish(all), origins }
}

const finish = (tally: Tally): Counts => {
  const statuses: Record<string, number> = {}
  for (const status of [...tally.statuses.keys()].sort((a, b) => a - b)) statuses[status] = tally.statuses.get(status)!
  const errors: Record<string, number> = {}
  for (const [tag, n] of [...tally.errors].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))) errors[tag] = n
  return {
    requests: tally.requests,
    ok: tally.requests - tally.failed,
    failed: tally.failed,
    statuses,
    errors,
    latencyMs: latency(tally.latencies)
  }
}

/** Nearest rank: the value at position ceil(p/100 * n) (1-based) of the sorted values. */
const rank = (sorted: Float64Array, p: number): number => sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!

const round = (ms: number): number => Math.round(ms * 100) / 100

const latency = (values: Float64Array): Latency | undefined => {
  if (values.length === 0) return undefined
  values.sort()
  let sum = 0
  for (const value of values) sum += value
  return {
    count: values.length,
    min: values[0]!,
    mean: round(sum / values.length),
    p50: rank(values, 50),
    p90: rank(values, 90),
    p95: rank(values, 95),
    p99: rank(values, 99),
    max: values[values.length - 1]!
  }
}
