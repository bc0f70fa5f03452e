/**
 * `loamy send`: read requests, send them through the core's sender with
 * bounded concurrency, write one JSON line per response, track progress.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Clump } from "@loamy/core"
import * as Effect from "effect/Effect"
import * as input from "./input.js"
import * as output from "./output.js"
import * as pump from "./pump.js"
import * as stats from "./stats.js"

/** What `loamy send` was asked to do, flags already parsed. @internal */
export interface SendConfig {
  /** A path, or `-` for stdin. */
  readonly file: string
  readonly output: string | undefined
  readonly ordered: boolean
  readonly failFast: boolean
  readonly quiet: boolean
  readonly showSecrets: boolean
  readonly redact: ReadonlyArray<string>
  readonly options: Clump.Options
}

const say = (text: string) => Effect.sync(() => process.stderr.write(`loamy: ${text}\n`))

/** Flag names as the user typed them, for option errors. */
const flagOf: Record<string, string> = {
  concurrency: "--concurrency",
  timeout: "--timeout",
  deadline: "--deadline",
  maxRedirects: "--max-redirects",
  maxBodyBytes: "--max-body-bytes",
  "retry.attempts": "--retry",
  "rateLimit.limit": "--rate",
  "rateLimit.interval": "--rate"
}

/**
 * Runs `loamy send` and returns the exit code: 0 when every response came
 * back without error, 1 when some failed (or a JSONL line was invalid), 2
 * when the input or the options could not be used (nothing sent).
 *
 * @internal
 */
export const run = (config: SendConfig): Effect.Effect<number, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const checked = Clump.resolveOptions(config.options)
    if (checked._tag === "Left") {
      const e = checked.left
      const flag = flagOf[e.option] ?? (e.option.startsWith("headers") ? "--header" : e.option)
      yield* say(`invalid option ${flag}: ${e.detail}`)
      return 2
    }
    const opened = yield* Effect.either(Effect.tryPromise({
      try: () => input.open(config.file),
      catch: (error) => error instanceof input.BadInput ? error : new input.BadInput(String(error))
    }))
    if (opened._tag === "Left") {
      yield* say(opened.left.message)
      return 2
    }
    const source = opened.right
    let writer: output.Writer
    try {
      writer = output.openWriter(config.output)
    } catch (error) {
      yield* say(`cannot write ${config.output}: ${(error as Error).message}`)
      return 2
    }
    const tracker = new stats.Tracker()
    const showProgress = !config.quiet && process.stderr.isTTY === true
    if (source.kind === "array") {
      tracker.total = source.requests.length
    } else if (showProgress && config.file !== "-") {
      // Known totals make the bar and the ETA meaningful; counting is one fast read of the file.
      tracker.total = yield* Effect.promise(() => input.countLines(config.file).catch(() => undefined))
    }
    const redaction = output.makeRedaction(config.showSecrets, config.redact, config.options.headers ?? {})
    const items = source.kind === "array" ? pump.arraySource(source.requests) : pump.lineSource(source.batches)
    const progress = showProgress ? stats.startProgress(tracker) : undefined
    const onResult = (result: pump.Result): boolean => {
      const { item } = result
      if (result.response === undefined) {
        const bad = result.invalid
        writer.write(output.invalidLineRecord(item.index, item.line!, bad.field, bad.detail, bad.raw, redaction))
        return config.failFast
      }
      writer.write(output.responseRecord(item.index, item.line, result.response, redaction))
      return config.failFast && result.response.error !== undefined
    }
    const ready = () => (writer.needsDrain() ? writer.drained() : undefined)
    // A failed output (a closed pipe, a full disk) ends the run: nothing more could be written.
    const outputFailed = Effect.async<"outputFailed">((resume) =>
      writer.onFail(() => resume(Effect.succeed("outputFailed")))
    )
    const outcome = yield* pump.pump(items, config.options, { ordered: config.ordered, tracker, onResult, ready }).pipe(
      Effect.raceFirst(outputFailed),
      Effect.either,
      Effect.ensuring(Effect.sync(() => progress?.stop())),
      Effect.ensuring(Effect.promise(() => writer.close())),
      Effect.ensuring(Effect.sync(() => {
        if (!config.quiet && writer.failed()?.readerGone !== true) {
          process.stderr.write(stats.summary(tracker).join("\n") + "\n")
        }
      }))
    )
    const failure = writer.failed()
    if (failure !== undefined) {
      // The reader of a pipe went away (`| head`): stop quietly with 0, as Unix tools do. Else the output is lost: 2.
      if (failure.readerGone) return 0
      yield* say(failure.message)
      return 2
    }
    if (outcome._tag === "Left") {
      yield* say(outcome.left.message)
      return 2
    }
    if (outcome.right === "stopped") {
      yield* say("stopped at the first failure (--fail-fast)")
      return 1
    }
    return tracker.failed > 0 ? 1 : 0
  })
