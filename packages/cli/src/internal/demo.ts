/**
 * `loamy demo`: the embedded test server on loopback, a mixed clump sent
 * with the progress bar, a table of the results and the summary.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Clump, type RequestMap } from "@loamy/core"
import { start } from "@loamy/test-server"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as output from "./output.js"
import * as stats from "./stats.js"

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
const echoed = (body: any) => {
  if (typeof body !== "object" || body === null) return body
  const shown: Record<string, unknown> = {}
  if (body.query !== undefined && Object.keys(body.query).length > 0) shown["query"] = body.query
  if (body.body !== undefined && body.body !== null && body.body !== "") shown["body"] = body.body
  const authorization = body.headers?.authorization
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
        const rows: Array<Array<string>> = new Array(list.length)
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
              rows[index] = [
                String(index),
                r.requestMap.httpOp,
                pathOf(r.requestMap.url),
                r.statusCode === 0 ? "-" : String(r.statusCode),
                stats.formatMs(r.elapsedMs),
                outcome
              ]
            })
          ),
          Effect.either,
          Effect.ensuring(Effect.sync(() => progress?.stop()))
        )
        if (outcome._tag === "Left") {
          process.stderr.write(`loamy demo: ${outcome.left.message}\n`)
          return 2
        }
        printTable(["#", "METHOD", "PATH", "STATUS", "TIME", "BODY OR ERROR"], rows)
        if (!options.quiet) process.stderr.write(stats.summary(tracker).join("\n") + "\n")
        return 0
      }),
    (server) => Effect.promise(() => server.close())
  )

const printTable = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>) => {
  const color = process.stdout.isTTY === true
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => i === header.length - 1 ? 0 : row[i]!.length)))
  // Rows stay within 100 columns (fewer on a narrower terminal): the /echo bodies alone are ~200 characters.
  const columns = Math.min(100, process.stdout.isTTY === true && process.stdout.columns > 0 ? process.stdout.columns - 1 : 100)
  const line = (cells: ReadonlyArray<string>) => {
    const text = cells.map((cell, i) => i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)).join("  ")
    return text.length > columns ? text.slice(0, columns - 1) + "…" : text
  }
  const out = [color ? `\x1b[1m${line(header)}\x1b[0m` : line(header)]
  for (const row of rows) {
    const status = Number(row[3])
    const failed = row[5]!.includes("Error:")
    const text = line(row)
    out.push(color && (failed || status >= 400 || row[3] === "-") ? `\x1b[31m${text}\x1b[0m` : text)
  }
  process.stdout.write(out.join("\n") + "\n")
}
