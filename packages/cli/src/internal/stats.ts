/**
 * Counting what happened (by status class and error tag), latency
 * percentiles in constant memory, the progress bar and the final summary.
 *
 * @internal
 */
import type { Progress } from "@loamy/core"

/** Buckets grow by 2 %, so a percentile is within about 1 % of the truth. */
const GROWTH = 1.02
const LOG_GROWTH = Math.log(GROWTH)
/** Microseconds up to about 3 hours. */
const BUCKETS = 1200

/**
 * Everything the progress bar and the summary show, updated per response.
 *
 * @internal
 */
export class Tracker {
  readonly startedAt = performance.now()
  total: number | undefined = undefined
  done = 0
  failed = 0
  /** The core's latest progress figures (`Progress.reportTo`), which the bar draws. */
  reported: Progress.Progress | undefined = undefined
  readonly statusClasses = new Map<string, number>()
  readonly errorTags = new Map<string, number>()
  private readonly histogram = new Uint32Array(BUCKETS)
  private maxMs = 0

  observe(progress: Progress.Progress): void {
    this.reported = progress
  }

  /** Records one finished request (or a line that was not sent). */
  record(statusCode: number, errorTag: string | undefined, elapsedMs: number, sent: boolean): void {
    this.done++
    if (errorTag !== undefined) {
      this.failed++
      this.errorTags.set(errorTag, (this.errorTags.get(errorTag) ?? 0) + 1)
    }
    const cls = statusCode === 0 ? "none" : `${Math.floor(statusCode / 100)}xx`
    this.statusClasses.set(cls, (this.statusClasses.get(cls) ?? 0) + 1)
    if (!sent) return
    const micros = Math.max(1, elapsedMs * 1000)
    const bucket = Math.min(BUCKETS - 1, Math.floor(Math.log(micros) / LOG_GROWTH))
    this.histogram[bucket]!++
    if (elapsedMs > this.maxMs) this.maxMs = elapsedMs
  }

  /** The latency below which `p` (0..1) of the sent requests finished, in ms. */
  percentile(p: number): number | undefined {
    let count = 0
    for (let i = 0; i < BUCKETS; i++) count += this.histogram[i]!
    if (count === 0) return undefined
    const rank = Math.ceil(p * count)
    let seen = 0
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.histogram[i]!
      // The bucket's geometric middle, but never above the largest value seen.
      if (seen >= rank) return Math.min(this.maxMs, GROWTH ** (i + 0.5) / 1000)
    }
    return this.maxMs
  }

  get max(): number {
    return this.maxMs
  }

  elapsedSeconds(): number {
    return (performance.now() - this.startedAt) / 1000
  }
}

/** @internal */
export const formatMs = (ms: number | undefined): string => {
  if (ms === undefined) return "-"
  if (ms < 10) return `${ms.toFixed(2)} ms`
  if (ms < 1000) return `${ms.toFixed(1)} ms`
  return `${(ms / 1000).toFixed(2)} s`
}

const formatSeconds = (seconds: number): string => {
  if (!Number.isFinite(seconds)) return "?"
  if (seconds < 60) return `${Math.ceil(seconds)}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes}m${String(Math.ceil(seconds % 60)).padStart(2, "0")}s`
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`
}

const classOrder = ["2xx", "3xx", "4xx", "5xx", "1xx", "none"]

/**
 * The end-of-run summary: counts by status class and error tag, latency
 * percentiles, throughput. Lines without a trailing newline.
 *
 * @internal
 */
export const summary = (tracker: Tracker): Array<string> => {
  const seconds = tracker.elapsedSeconds()
  const rate = seconds > 0 ? tracker.done / seconds : 0
  const classes = [...tracker.statusClasses.entries()].sort(
    (a, b) => classOrder.indexOf(a[0]) - classOrder.indexOf(b[0])
  )
  const lines = [
    `loamy: ${tracker.done} requests in ${seconds.toFixed(2)} s (${rate.toFixed(1)} req/s), ` +
    `${tracker.done - tracker.failed} ok, ${tracker.failed} failed`,
    `  status   ${classes.length === 0 ? "-" : classes.map(([cls, n]) => `${cls} ${n}`).join("  ")}`
  ]
  if (tracker.errorTags.size > 0) {
    const tags = [...tracker.errorTags.entries()].sort((a, b) => b[1] - a[1])
    lines.push(`  errors   ${tags.map(([tag, n]) => `${tag} ${n}`).join("  ")}`)
  }
  lines.push(
    `  latency  p50 ${formatMs(tracker.percentile(0.5))}  p95 ${formatMs(tracker.percentile(0.95))}  ` +
      `p99 ${formatMs(tracker.percentile(0.99))}  max ${formatMs(tracker.done === 0 ? undefined : tracker.max)}`
  )
  return lines
}

/**
 * A one-line progress bar redrawn on stderr ten times a second.
 *
 * @internal
 */
export interface Progress {
  /** Stops redrawing and clears the line. */
  readonly stop: () => void
  /** Clears the line (before a message); the next redraw draws it again. */
  readonly clear: () => void
}

/** What the bar shows. @internal */
export interface Figures {
  readonly total: number | undefined
  readonly done: number
  readonly failed: number
  readonly inFlight: number
}

/** Time between redraws of the bar (and between the progress snapshots it draws). @internal */
export const redrawMs = 100

/**
 * The progress line's text for a terminal `columns` wide: at most
 * `columns - 3` characters, so that it never wraps: a line that fills the
 * last column wraps on some terminals (every redraw would then add a line),
 * and the terminal echoes Ctrl-C as `^C` after it (a wrapped line could not be
 * cleared: the clearing reaches only the cursor's line).
 *
 * @internal
 */
export const progressLine = (
  tracker: Figures,
  rate: number,
  columns: number
): string => {
  const total = tracker.total
  const parts = [
    total === undefined ? `${tracker.done}` : `${tracker.done}/${total}`,
    `failed ${tracker.failed}`,
    `in flight ${tracker.inFlight}`,
    `${rate.toFixed(0)} req/s`
  ]
  if (total !== undefined) {
    parts.push(`ETA ${rate > 0 ? formatSeconds((total - tracker.done) / rate) : "?"}`)
  }
  const text = parts.join("  ")
  // A fixed width, so the bar does not jump as the numbers change length; none on a narrow terminal.
  const barWidth = columns >= text.length + 25 ? 20 : 0
  let bar = ""
  if (barWidth > 0) {
    const filled = total === undefined || total === 0
      ? 0
      : Math.min(barWidth, Math.floor((tracker.done / total) * barWidth))
    bar = total === undefined
      ? `[${" ".repeat(barWidth)}] `
      : `[${"#".repeat(filled)}${"-".repeat(barWidth - filled)}] `
  }
  const line = `${bar}${text}`
  const width = Math.max(1, columns - 3)
  return line.length > width ? line.slice(0, width) : line
}

/** @internal */
export const startProgress = (tracker: Tracker, stream: NodeJS.WriteStream = process.stderr): Progress => {
  // The rate is measured over the last two seconds, so it follows changes in pace.
  const samples: Array<[number, number]> = []
  const draw = () => {
    const now = performance.now()
    const p = tracker.reported
    // The sender's own figures when it reports them (the core does); else what has been written (a cluster's
    // chunks come back whole, in flight on the runners).
    const figures: Figures = p === undefined
      ? { total: tracker.total, done: tracker.done, failed: tracker.failed, inFlight: 0 }
      : { total: tracker.total, done: p.done, failed: p.failed, inFlight: p.inFlight }
    samples.push([now, figures.done])
    while (samples.length > 20) samples.shift()
    const [t0, d0] = samples[0]!
    const rate = now - t0 > 0 ? ((figures.done - d0) * 1000) / (now - t0) : 0
    const columns = stream.columns > 0 ? stream.columns : 80
    stream.write(`\r\x1b[2K${progressLine(figures, rate, columns)}`)
  }
  const timer = setInterval(draw, redrawMs)
  draw()
  let stopped = false
  return {
    stop: () => {
      if (stopped) return
      stopped = true
      clearInterval(timer)
      stream.write("\r\x1b[2K")
    },
    clear: () => {
      if (!stopped) stream.write("\r\x1b[2K")
    }
  }
}
