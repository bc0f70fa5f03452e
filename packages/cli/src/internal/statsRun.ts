/**
 * `loamy stats`: reads the files (`statsRead.ts`), prints the summary
 * (`statsPrint.ts`) and says the exit code.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { stat } from "node:fs/promises"
import * as print from "./statsPrint.js"
import { type BadLine, summarize } from "./statsRead.js"

/** Lines that are not records reported one by one; past this, counted. */
const REPORTED = 20

/** The code of a file system error (`ENOENT`, ...): its message is not shown, the file is named by the caller. */
const codeOf = (error: unknown): string => {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined
  return typeof code === "string" ? code : "unreadable"
}

/**
 * Runs `loamy stats`: 0 when every line was a record, 1 when some were not,
 * 2 when a file could not be read.
 *
 * @internal
 */
export const run = (options: { readonly files: ReadonlyArray<string>; readonly json: boolean }): Effect.Effect<number> =>
  Effect.promise(async () => {
    const fail = (file: string, error: unknown) => {
      process.stderr.write(`loamy stats: cannot read ${file === "-" ? "stdin" : file}: ${codeOf(error)}\n`)
      return 2
    }
    for (const file of options.files) {
      if (file === "-") continue
      try {
        if ((await stat(file)).isDirectory()) return fail(file, { code: "EISDIR" })
      } catch (error) {
        return fail(file, error)
      }
    }
    let bad = 0
    const onBad = (line: BadLine) => {
      if (++bad <= REPORTED) {
        process.stderr.write(`loamy stats: ${line.file === "-" ? "stdin" : line.file}:${line.line}: not a record: ${line.reason}\n`)
      }
    }
    let summary
    try {
      summary = await summarize(options.files, onBad)
    } catch (error) {
      const file = typeof error === "object" && error !== null && "path" in error ? String(error.path) : "a file"
      return fail(file, error)
    }
    if (bad > REPORTED) process.stderr.write(`loamy stats: ${bad - REPORTED} more lines that are not records\n`)
    process.stdout.write(options.json ? print.json(summary) : print.human(summary))
    return bad > 0 ? 1 : 0
  })
