/**
 * `loamy demo`: the embedded test server on loopback, a mixed clump sent
 * with the progress bar, a table of the results and the summary.
 *
 * @internal
 */
import { Clump, type RequestMap } from "@loamy/core"
import { start } from "@loamy/test-server"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import type * as HttpClient from "effect/http/HttpClient"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import * as output from "./output.js"
import * as stats from "./stats.js"
import { fit, plain } from "./terminal.js"

/** The demo's requests: every kind of outcome, and enough slow ones for the bar to be seen. */
const requests = (url: string): Array<RequestMap.RequestMap> => {
  const list: Array<RequestMap.RequestMap> = [
    { url: `${url}/`, httpOp: "GET" },
    { url: `${url}/foo`, httpOp: "POST", body: { hello: "loamy" } },
    { url: `${url}/echo`, httpOp: "PUT", queryParams: { page: "2" }, body: [1, 2, 3] },
    { url: `${url}/echo`, httpOp: "GET", headers: { Authorization: "Bearer demo-secret-token" } },
    { url: `${url}/status/404`, httpOp: "GET" },
    { url: `${url}/exception`, httpOp: "GET" },
    { url: `${url}/destroy`, httpOp: "GET" },
    { url: `${url}/stall?ms=5000`, httpOp: "GET" },
    { url: `${url}/text`, httpOp: "GET" }
  ]
  for (let i = 1; i <= 24; i++) list.push({ url: `${url}/delay/${50 * (i % 8) + 100}`, httpOp: "GET" })
  return list
}

/** The part of an /echo answer the demo shows: query, body, and an Authorization header if one came back. */
const echoed = (body: unknown): unknown => {
  if (!Predicate.isObject(body)) return body
  const { body: sent, headers, query } = body
  const shown: Record<string, unknown> = {}
  if (Predicate.isObject(query) && Object.keys(query).length > 0) shown["query"] = query
  if (sent !== undefined && sent !== null && sent !== "") shown["body"] = sent
  const authorization = Predicate.isObject(headers) ? headers["authorization"] : undefined
  if (authorization !== undefined) shown["headers"] = { authorization }
  return shown
}

const pathOf = (url: string) => {
  const u = new URL(url)
  return u.pathname + u.search
}

/**
 * Runs the demo; exit code 0 unless the demo itself could not run (the
 * failing requests are part of the show).
 *
 * @internal
 */
export const run = (options: { readonly quiet: boolean }): Effect.Effect<number, never, HttpClient.HttpClient> =>
  Effect.acquireUseRelease(
    Effect.promise(() => start()),
    (server) =>
      Effect.gen(function*() {
        const list = requests(server.url)
        const tracker = new stats.Tracker()
        tracker.total = list.length
        const redaction = output.makeRedaction(false, [], {})
        const rows: Array<Row> = new Array(list.length)
        const showProgress = !options.quiet && process.stderr.isTTY === true
        if (!options.quiet) {
          process.stderr.write(`loamy demo: ${list.length} requests to the test server at ${server.url}\n`)
        }
        const progress = showProgress ? stats.startProgress(tracker) : undefined
        const outcome = yield* Clump.stream(Clump.make(list, { concurrency: 8, timeout: "1 second" })).pipe(
          Stream.runForEach(({ index, response: r }) =>
            Effect.sync(() => {
              tracker.record(r.statusCode, r.error?._tag, r.elapsedMs, true)
              // Through the same record as `loamy send`, so the demo shows redaction at work.
              const record = JSON.parse(output.responseRecord(index, undefined, r, redaction))
              // Within 100 columns: the server's origin is left out of messages, and /echo's answer is cut
              // down to what the request sent (its headers only when they show redaction at work).
              const outcome = record.error !== undefined
                ? `${record.error._tag}: ${String(record.error.message).replaceAll(server.url, "")}`
                : JSON.stringify(pathOf(r.requestMap.url).startsWith("/echo") ? echoed(record.body) : record.body)
              rows[index] = {
                status: r.statusCode === 0 ? "-" : String(r.statusCode),
                index: String(index),
                method: r.requestMap.httpOp,
                time: stats.formatMs(r.elapsedMs),
                path: pathOf(r.requestMap.url),
                outcome,
                failed: record.error !== undefined || r.statusCode === 0 || r.statusCode >= 400
              }
            })
          ),
          Effect.result,
          Effect.ensuring(Effect.sync(() => progress?.stop()))
        )
        if (Result.isFailure(outcome)) {
          process.stderr.write(`loamy demo: ${outcome.failure.message}\n`)
          return 2
        }
        process.stdout.write(table(rows, widthOf(process.stdout), !plain(process.stdout)).join("\n") + "\n")
        if (!options.quiet) process.stderr.write(stats.summary(tracker).join("\n") + "\n")
        return 0
      }),
    (server) => Effect.promise(() => server.close())
  )

/** One request's line of the table. @internal */
export interface Row {
  readonly status: string
  readonly index: string
  readonly method: string
  readonly time: string
  readonly path: string
  readonly outcome: string
  /** An error, no response, or a status of 400 or more: shown in red. */
  readonly failed: boolean
}

/** The width the table may take: the terminal's, less one column (at most 100), or 100 when not a terminal. */
const widthOf = (stream: NodeJS.WriteStream): number =>
  Math.min(100, stream.isTTY === true && stream.columns > 0 ? stream.columns - 1 : 100)

type Column = { readonly title: string; readonly cell: (row: Row) => string }

const statusColumn: Column = { title: "STATUS", cell: (row) => row.status }
const indexColumn: Column = { title: "#", cell: (row) => row.index }
const methodColumn: Column = { title: "METHOD", cell: (row) => row.method }
const timeColumn: Column = { title: "TIME", cell: (row) => row.time }

/**
 * The demo's table in `width` columns: status first, then the index, method
 * and time as long as the path and the body (or error) keep room enough
 * (they go first, in the reverse order, on a narrow terminal), then the path
 * and the body, each cut to fit. No line is longer than `width`.
 *
 * @internal
 */
export const table = (rows: ReadonlyArray<Row>, width: number, color: boolean): Array<string> => {
  const fixed = [statusColumn, indexColumn, methodColumn, timeColumn]
  const natural = (column: Column) => Math.max(column.title.length, ...rows.map((row) => column.cell(row).length))
  const used = (columns: ReadonlyArray<Column>) => columns.reduce((sum, column) => sum + natural(column) + 2, 0)
  // The path and the body together keep at least this much (or all there is on a very narrow terminal).
  const flexible = 24
  while (fixed.length > 1 && width - used(fixed) < flexible) fixed.pop()
  const rest = Math.max(0, width - used(fixed))
  const pathNatural = Math.max(4, ...rows.map((row) => row.path.length))
  // The path gets up to two fifths of what is left (two separators' worth less), the body the remainder.
  const pathWidth = Math.min(pathNatural, Math.max(4, Math.floor((rest - 2) * 0.4)))
  const bodyWidth = Math.max(0, rest - pathWidth - 2)
  const line = (cells: ReadonlyArray<string>, path: string, outcome: string) =>
    fit(
      [
        ...cells.map((cell, i) => cell.padEnd(natural(fixed[i]!))),
        fit(path, pathWidth).padEnd(pathWidth),
        fit(outcome, bodyWidth)
      ].join("  ").trimEnd(),
      width
    )
  const header = line(fixed.map((column) => column.title), "PATH", "BODY OR ERROR")
  const out = [color ? `\x1b[1m${header}\x1b[0m` : header]
  for (const row of rows) {
    const text = line(fixed.map((column) => column.cell(row)), row.path, row.outcome)
    out.push(color && row.failed ? `\x1b[31m${text}\x1b[0m` : text)
  }
  return out
}
