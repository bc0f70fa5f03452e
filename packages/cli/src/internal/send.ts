/**
 * `loamy send`: read requests, send them through the core's scheduler
 * (`Clump.streamFrom`), write one JSON line per response, track progress.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Clump, Options, Progress, RequestMap } from "@loamy/core"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as input from "./input.js"
import * as output from "./output.js"
import * as plans from "./resume.js"
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
  /** `--resume`, `--retry-failed`, `--shard`: which requests to send and where their records go. */
  readonly selection?: plans.SelectionConfig | undefined
}

const say = (text: string) => Effect.sync(() => process.stderr.write(`loamy: ${text}\n`))

/** Flag names as the user typed them, for option errors. */
const flagOf: Record<string, string> = {
  concurrency: "--concurrency",
  concurrencyPerOrigin: "--concurrency-per-origin",
  timeout: "--timeout",
  deadline: "--deadline",
  maxRedirects: "--max-redirects",
  maxBodyBytes: "--max-body-bytes",
  bodyBudget: "--body-budget",
  reorderBuffer: "--reorder-buffer",
  "retry.attempts": "--retry",
  "rateLimit.limit": "--rate",
  "rateLimit.interval": "--rate",
  proxy: "--proxy"
}

/**
 * The requests of the input as a stream for `Clump.streamFrom`: a JSON
 * array's requests, or the JSONL lines that hold something, parsed (a line
 * that is not JSON goes on as its text, and the core's check refuses it with
 * its reason). `lineOf` learns the line number of each index. With a
 * `selected` plan, only the requests it keeps are in the stream, and
 * `indexOf` maps their positions in it to their indices in the input.
 */
const requestStream = (
  source: input.Input,
  lineOf: Map<number, number>,
  notUtf8: Map<number, string>,
  selected?: { readonly plan: plans.Plan; readonly indexOf: Map<number, number> }
): Stream.Stream<unknown, input.BadInput> => {
  if (source.kind === "array") {
    if (selected === undefined) return Stream.fromIterable(source.requests)
    const kept: Array<unknown> = []
    source.requests.forEach((request, at) => {
      if (!selected.plan.keep(at)) return
      selected.indexOf.set(kept.length, at)
      kept.push(request)
    })
    return Stream.fromIterable(kept)
  }
  let lineNumber = 0
  let index = 0
  // The index in the input; `index` is the position in the stream (the same unless `selected` skips some).
  let global = 0
  const lines = Stream.fromAsyncIterable(
    source.batches,
    (error) => new input.BadInput(`cannot read the input: ${(error as Error)?.message ?? String(error)}`)
  ).pipe(
    Stream.mapConcat((batch) => {
      const items: Array<unknown> = []
      for (let text of batch) {
        lineNumber++
        if (text.endsWith("\r")) text = text.slice(0, -1)
        if (text.trim() === "") continue
        const at = global++
        if (selected !== undefined) {
          if (!selected.plan.keep(at)) continue
          selected.indexOf.set(index, at)
        }
        lineOf.set(at, lineNumber)
        if (input.isNotUtf8(text)) {
          // Not sent: an item the core's check refuses, reported as what it is.
          index++
          notUtf8.set(at, text.slice(1))
          items.push(null)
          continue
        }
        index++
        let item: unknown = text
        try {
          // Numbers digit for digit; a line nested too deep is not built (the core refuses its text).
          item = RequestMap.parseJson(text)
        } catch {
          // The core names what is wrong with it.
        }
        items.push(item)
      }
      return items
    })
  )
  if (selected === undefined) return lines
  // Read to its end: a --resume file with indices beyond it was not written for this input.
  return Stream.concat(lines, Stream.suspend(() => {
    const problem = selected.plan.checkEnd(global)
    return problem === undefined ? Stream.empty : Stream.fail(new input.BadInput(problem))
  }))
}

/**
 * How a run's requests are sent: by this process's engine (`loamy send`) or
 * spread over a cluster's runners (`loamy send --cluster`). Reading the
 * input, writing the records, progress, the summary and the exit code are
 * the same either way.
 *
 * @internal
 */
export interface Via<R> {
  /**
   * The responses to the requests of the input. `onProgress`, when given,
   * takes the sender's progress figures for the bar (without them the bar
   * counts the records written).
   */
  readonly send: (
    requests: Stream.Stream<unknown, input.BadInput>,
    resolved: Options.Resolved,
    onProgress: ((progress: Progress.Progress) => void) | undefined
  ) => Stream.Stream<Clump.Indexed, unknown, R>
  /** What the run says when the sending stops with an error of its own; `written` records made it out. */
  readonly stopped: (message: string, written: number) => string
}

/** This process's engine, the core's one scheduler. */
const local = (ordered: boolean): Via<HttpClient.HttpClient> => ({
  send: (requests, resolved, onProgress) => {
    const responses = Clump.streamFrom(requests, { ...resolved, ordered })
    // The bar draws the core's own progress figures, as the library doors report them.
    return onProgress === undefined
      ? responses
      : responses.pipe(Progress.reportTo((p) => Effect.sync(() => onProgress(p)), { interval: stats.redrawMs }))
  },
  stopped: (message) => `stopped at the first failure (--fail-fast): ${message}`
})

/**
 * Runs `loamy send` and returns the exit code: 0 when every response came
 * back without error, 1 when some failed (or a JSONL line was invalid), 2
 * when the input or the options could not be used (nothing sent).
 *
 * @internal
 */
export const run = (config: SendConfig): Effect.Effect<number, never, HttpClient.HttpClient> =>
  runVia(config, local(config.ordered))

/**
 * `run` with its requests sent `via` an engine.
 *
 * @internal
 */
export const runVia = <R>(config: SendConfig, via: Via<R>): Effect.Effect<number, never, R> =>
  Effect.gen(function*() {
    // Decoded once here; the core takes the decoded value as it is.
    const checked = Options.decode({
      ...config.options,
      // Response bodies are written with their numbers digit for digit.
      exactNumbers: true,
      returnExceptions: !config.failFast,
      // --redact names are secrets for redirects too, not only for the output.
      ...(config.redact.length > 0 ? { sensitiveHeaders: config.redact.map((name) => name.trim()) } : {})
    })
    if (checked._tag === "Left") {
      const e = checked.left
      const flag = flagOf[e.option] ?? (e.option.startsWith("headers") ? "--header" : e.option)
      yield* say(`invalid option ${flag}: ${e.detail}`)
      return 2
    }
    const resolved = checked.right
    const opened = yield* Effect.either(Effect.tryPromise({
      try: () => input.open(config.file),
      catch: (error) => error instanceof input.BadInput ? error : new input.BadInput(String(error))
    }))
    if (opened._tag === "Left") {
      yield* say(opened.left.message)
      return 2
    }
    const source = opened.right
    const prepared = yield* Effect.either(Effect.tryPromise({
      try: () =>
        config.selection === undefined
          ? Promise.resolve(undefined)
          : plans.prepare(config.selection, config.file, source, config.quiet),
      catch: (error) => error instanceof input.BadInput ? error : new input.BadInput(String(error))
    }))
    if (prepared._tag === "Left") {
      yield* say(prepared.left.message)
      return 2
    }
    const plan = prepared.right
    let writer: output.Writer
    try {
      writer = plan?.writer ?? output.openWriter(config.output)
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
    if (plan !== undefined && tracker.total !== undefined) tracker.total = plan.sends(tracker.total)
    const redaction = output.makeRedaction(config.showSecrets, resolved.sensitiveHeaders, config.options.headers ?? {})
    const lineOf = new Map<number, number>()
    const notUtf8 = new Map<number, string>()
    const progress = showProgress ? stats.startProgress(tracker) : undefined
    const write = ({ index, response }: Clump.Indexed): Effect.Effect<void> => {
      const line = lineOf.get(index)
      lineOf.delete(index)
      const error = response.error
      if (error !== undefined && error._tag === "InvalidInputError") {
        tracker.record(0, "InvalidInputError", 0, false)
        const mangled = notUtf8.get(index)
        notUtf8.delete(index)
        const refused = response as typeof response & { readonly error: typeof error }
        writer.write(
          output.invalidLineRecord(
            index,
            line ?? index + 1,
            refused,
            redaction,
            mangled === undefined ? undefined : { detail: "not valid UTF-8", raw: mangled }
          )
        )
      } else {
        tracker.record(response.statusCode, error?._tag, response.elapsedMs, true)
        writer.write(output.responseRecord(index, line, response, redaction))
      }
      // A slow reader of the output slows the sending instead of filling memory.
      return writer.needsDrain() ? Effect.promise(() => writer.drained()) : Effect.void
    }
    const selected = plan === undefined ? undefined : { plan, indexOf: new Map<number, number>() }
    const requests = requestStream(source, lineOf, notUtf8, selected)
    // A failed output (a closed pipe, a full disk) ends the run: nothing more could be written.
    const outputFailed = Effect.async<void>((resume) => writer.onFail(() => resume(Effect.void)))
    const responses = via.send(requests, resolved, progress === undefined ? undefined : (p) => tracker.observe(p))
    const outcome = yield* (selected === undefined ? responses : Stream.map(responses, ({ index, response }) => {
      // Positions in the stream back to indices in the input.
      const at = selected.indexOf.get(index)!
      selected.indexOf.delete(index)
      return { index: at, response }
    })).pipe(
      Stream.runForEach(write),
      Effect.raceFirst(outputFailed),
      Effect.exit,
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
    if (Exit.isFailure(outcome)) {
      const failed = Cause.failureOption(outcome.cause)
      const error: unknown = Option.getOrUndefined(failed)
      if (error instanceof input.BadInput) {
        yield* say(error.message)
        return 2
      }
      // Known only when the run starts: a proxy variable that is not a URL (--proxy env).
      if (error instanceof Clump.InvalidOptionsError) {
        yield* say(`invalid option ${flagOf[error.option] ?? error.option}: ${error.detail}`)
        return 2
      }
      const message = Option.isSome(failed)
        ? (error as { readonly message?: string }).message ?? String(error)
        : Cause.pretty(outcome.cause)
      yield* say(via.stopped(message, tracker.done))
      return 1
    }
    // With --resume, the failed records already in the file count too: the exit code speaks for the whole file.
    return tracker.failed > 0 || (plan?.failedBefore ?? 0) > 0 ? 1 : 0
  })
