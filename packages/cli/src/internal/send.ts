/**
 * `loamy send`: read requests, send them through the core's sender with
 * bounded concurrency, write one JSON line per response, track progress.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Clump, type RequestMap, type RequestResponse } from "@loamy/core"
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as input from "./input.js"
import * as output from "./output.js"
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

/** A request to send, or a JSONL line to check first. @internal */
export interface Item {
  readonly index: number
  /** The 1-based line number, for JSONL input. */
  readonly line: number | undefined
  readonly request: RequestMap.RequestMap | undefined
  readonly text: string | undefined
}

/** One finished item. @internal */
export interface Result {
  readonly item: Item
  /** Undefined for a JSONL line that was not a valid request. */
  readonly response: RequestResponse.RequestResponse | undefined
  readonly invalid: input.Line | undefined
}

/** Stops the run after the first failure (`--fail-fast`). */
class Stop {
  readonly _tag = "Stop"
}

/**
 * Sends every item with at most `concurrency` in flight, keeping the
 * tracker's counts current, and hands each result to `onResult` in
 * completion order (or input order with `ordered`).
 *
 * @internal
 */
export const pump = <E, R, E2>(
  items: Stream.Stream<Item, E, R>,
  options: Clump.Options,
  config: {
    readonly ordered: boolean
    readonly tracker: stats.Tracker
    readonly onResult: (result: Result) => Effect.Effect<void, E2>
  }
): Effect.Effect<void, E | E2 | Clump.InvalidOptionsError, R | HttpClient.HttpClient> =>
  Effect.scoped(Effect.gen(function*() {
    const sender = yield* Clump.sender(options)
    const tracker = config.tracker
    const sendOne = (item: Item): Effect.Effect<Result> => {
      let request = item.request
      if (request === undefined) {
        const parsed = input.parseLine(item.text!, item.index)
        if (!parsed.ok) return Effect.succeed({ item, response: undefined, invalid: parsed })
        request = parsed.request
      }
      tracker.inFlight++
      return Effect.map(sender(request, item.index), (response) => {
        tracker.inFlight--
        return { item, response, invalid: undefined }
      })
    }
    yield* items.pipe(
      Stream.mapEffect(sendOne, { concurrency: options.concurrency ?? 100, unordered: !config.ordered }),
      Stream.runForEach((result) => {
        if (result.response === undefined) {
          tracker.record(0, "InvalidInputError", 0, false)
        } else {
          tracker.record(result.response.statusCode, result.response.error?._tag, result.response.elapsedMs, true)
        }
        return config.onResult(result)
      })
    )
  }))

/** The items of a JSONL input, numbered; blank lines are skipped but counted. */
const lineItems = (batches: AsyncIterable<ReadonlyArray<string>>): Stream.Stream<Item, input.BadInput> => {
  let lineNumber = 0
  let index = 0
  return Stream.fromAsyncIterable(
    batches,
    (error) => new input.BadInput(`cannot read the input: ${(error as Error)?.message ?? String(error)}`)
  ).pipe(
    Stream.mapConcat((batch) => {
      const out: Array<Item> = []
      for (let text of batch) {
        lineNumber++
        if (text.endsWith("\r")) text = text.slice(0, -1)
        if (text.trim() === "") continue
        out.push({ index: index++, line: lineNumber, request: undefined, text })
      }
      return out
    })
  )
}

const arrayItems = (requests: ReadonlyArray<RequestMap.RequestMap>): Stream.Stream<Item> => {
  let index = 0
  return Stream.map(Stream.fromIterable(requests), (request) => ({
    index: index++,
    line: undefined,
    request,
    text: undefined
  }))
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
    const items = source.kind === "array" ? arrayItems(source.requests) : lineItems(source.batches)
    const progress = showProgress ? stats.startProgress(tracker) : undefined
    let stopped = false
    const onResult = (result: Result): Effect.Effect<void, Stop> => {
      const { item } = result
      let text: string
      let failed: boolean
      if (result.response === undefined) {
        const bad = result.invalid as Extract<input.Line, { ok: false }>
        text = output.invalidLineRecord(item.index, item.line!, bad.field, bad.detail, bad.raw, redaction)
        failed = true
      } else {
        text = output.responseRecord(item.index, item.line, result.response, redaction)
        failed = result.response.error !== undefined
      }
      const written = writer.write(text)
      if (failed && config.failFast) {
        stopped = true
        return Effect.zipRight(written, Effect.fail(new Stop()))
      }
      return written
    }
    const outcome = yield* pump(items, config.options, { ordered: config.ordered, tracker, onResult }).pipe(
      Effect.either,
      Effect.ensuring(Effect.sync(() => progress?.stop())),
      Effect.ensuring(Effect.zipRight(writer.close, Effect.sync(() => {
        if (!config.quiet) process.stderr.write(stats.summary(tracker).join("\n") + "\n")
      })))
    )
    if (outcome._tag === "Left") {
      const error = outcome.left
      if (error instanceof Stop) {
        yield* say(`stopped at the first failure (--fail-fast)`)
        return 1
      }
      yield* say(error.message)
      return 2
    }
    return tracker.failed > 0 || stopped ? 1 : 0
  })
