/**
 * `loamy stats`: the summary as text for people (a few lines and a table
 * per origin) or as one JSON object (`--json`).
 *
 * @internal
 */
import type { Counts, Latency, Summary } from "./statsRead.js"

const ms = (value: number): string => String(Math.round(value * 100) / 100)

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`

const statusName = (status: string) => status === "0" ? "0 (no response)" : status

const pairs = (counts: Readonly<Record<string, number>>, name: (key: string) => string = (key) => key): string =>
  Object.entries(counts).map(([key, n]) => `${name(key)}: ${n}`).join("  ")

const latencyLine = (latency: Latency): string =>
  `p50 ${ms(latency.p50)}  p90 ${ms(latency.p90)}  p95 ${ms(latency.p95)}  p99 ${ms(latency.p99)}  ` +
  `max ${ms(latency.max)}  (ms; min ${ms(latency.min)}, mean ${ms(latency.mean)}, over ${
    plural(latency.count, "sent request")
  })`

/** Columns of `rows` padded to their widest cell: the first one to the left, the others to the right. */
const table = (rows: ReadonlyArray<ReadonlyArray<string>>): Array<string> => {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)))
  return rows.map((row) =>
    row.map((cell, column) => column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))
      .join("  ")
      .trimEnd()
  )
}

const originRow = (origin: string, counts: Counts): Array<string> => {
  const latency = counts.latencyMs
  const cell = (pick: (latency: Latency) => number) => latency === undefined ? "-" : ms(pick(latency))
  return [
    origin,
    String(counts.requests),
    String(counts.ok),
    String(counts.failed),
    cell((l) => l.p50),
    cell((l) => l.p90),
    cell((l) => l.p99),
    cell((l) => l.max)
  ]
}

/**
 * The summary for people.
 *
 * @internal
 */
export const human = (summary: Summary): string => {
  const notes: Array<string> = []
  if (summary.superseded > 0) {
    notes.push(`${summary.superseded} replaced by a later record of the same index`)
  }
  if (summary.badLines > 0) notes.push(`${plural(summary.badLines, "line")} not a record, skipped`)
  const out = [
    `${plural(summary.files, "file")}, ${plural(summary.records, "record")}${
      notes.length > 0 ? ` (${notes.join("; ")})` : ""
    }`,
    "",
    `requests  ${summary.requests}  ok ${summary.ok}  failed ${summary.failed}`
  ]
  if (summary.requests > 0) out.push(`statuses  ${pairs(summary.statuses, statusName)}`)
  if (summary.failed > 0) out.push(`errors    ${pairs(summary.errors)}`)
  if (summary.latencyMs !== undefined) out.push(`latency   ${latencyLine(summary.latencyMs)}`)
  const origins = Object.entries(summary.origins)
  if (origins.length > 0) {
    out.push("", ...table([
      ["origin", "requests", "ok", "failed", "p50 ms", "p90 ms", "p99 ms", "max ms"],
      ...origins.map(([origin, counts]) => originRow(origin, counts))
    ]))
  }
  return out.join("\n") + "\n"
}

/**
 * The summary for machines: one JSON object, `latencyMs` null when nothing
 * was sent.
 *
 * @internal
 */
export const json = (summary: Summary): string => {
  const counts = (c: Counts) => ({
    requests: c.requests,
    ok: c.ok,
    failed: c.failed,
    statuses: c.statuses,
    errors: c.errors,
    latencyMs: c.latencyMs ?? null
  })
  const origins: Record<string, ReturnType<typeof counts>> = {}
  for (const [origin, c] of Object.entries(summary.origins)) origins[origin] = counts(c)
  return JSON.stringify({
    files: summary.files,
    records: summary.records,
    superseded: summary.superseded,
    badLines: summary.badLines,
    ...counts(summary),
    origins
  }) + "\n"
}
