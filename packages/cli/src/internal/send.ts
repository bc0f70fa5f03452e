/**
 * `loamy send`: read requests, send them through the core's scheduler
 * (`Clump.streamFrom`), write one JSON line per response, track progress.
 *
 * @internal
 */
import { Clump, LoamyError, Options, Progress, RequestMap, RequestResponse } from "@loamy/core"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as HttpClient from "effect/http/HttpClient"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as Stream from "effect/Stream"
import { outputFile, plural, resumeCommand } from "./completion.js"
import * as http from "./http.js"
import * as input from "./input.js"
import * as lock from "./lock.js"
import { flagOfOption, type OptionInput } from "./optionFlags.js"
import * as output from "./output.js"
import * as plans from "./resume.js"
import { ExitCode, exitCodeOf, onSignal, type StopSignal } from "./signals.js"
import * as stats from "./stats.js"
import { openWriter, type Writer } from "./writer.js"

/** What `loamy send` was asked to do, flags already parsed. @internal */
export interface SendConfig {
  /** A path, or `-` for stdin. */
  readonly file: string
  readonly output: string | undefined
  readonly ordered: boolean
  /** `--fail-fast`: the core's `returnExceptions: false`, and the run's own stop on a failure. */
  readonly failFast: boolean
  readonly quiet: boolean
  readonly showSecrets: boolean
  /** The core's options as the flags gave them (`--redact` is `sensitiveHeaders`), read by `Options.decode`. */
  readonly options: OptionInput
  /** `--resume`, `--retry-failed`, `--shard`: which requests to send and where their records go. */
  readonly selection?: plans.SelectionConfig | undefined
  /** The command line after `loamy`, for the command that completes a run stopped short. */
  readonly argv?: ReadonlyArray<string> | undefined
}

const say = (text: string) => Effect.sync(() => process.stderr.write(`loamy: ${text}\n`))

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
    Stream.map((batch) => {
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
    }),
    Stream.flattenIterable
  )
  // A --resume file is checked against the input before anything is sent (see resume.ts): nothing to check at its end.
  return lines
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
  ) => Stream.Stream<Clump.Indexed<unknown, RequestResponse.Refused>, unknown, R>
  /**
   * What the run says when the sending stops with an error of its own that
   * is not --fail-fast's (exit 1); `written` records made it out. Undefined:
   * such an error is loamy's own failure (a bug), exit 5.
   */
  readonly stopped: ((message: string, written: number) => string) | undefined
  /**
   * On SIGINT or SIGTERM: stop sending at once (every request in flight ends
   * as a response `abandoned` recognises), so that the run ends with every
   * response already received written. Undefined: a signal ends the run at
   * once, as a second one always does.
   */
  readonly abort: (() => void) | undefined
}

/** This process's engine, the core's one scheduler. */
const local = (ordered: boolean, abort: (() => void) | undefined): Via<HttpClient.HttpClient> => ({
  send: (requests, resolved, onProgress) => {
    const responses = Clump.streamFrom(requests, { ...resolved, ordered })
    // The bar draws the core's own progress figures, as the library doors report them.
    return onProgress === undefined
      ? responses
      : responses.pipe(Progress.reportTo((p) => Effect.sync(() => onProgress(p)), { interval: stats.redrawMs }))
  },
  stopped: undefined,
  abort
})

/**
 * Whether a response is one of the requests a stop abandoned (failed by
 * `http.Abort`): not written, so that a `--resume` sends it again. `"sent"`
 * when it was with the HTTP client (or past a first attempt) when the stop
 * came, `"unsent"` when it failed at its start, after the stop.
 */
const abandoned = (response: RequestResponse.RequestResponse): "sent" | "unsent" | undefined => {
  const error = response.error
  if (error?._tag !== "TransportError") return undefined
  if (error.code === http.abortedCode) return "sent"
  if (error.code === "UND_ERR_DESTROYED") return response.attempts > 1 ? "sent" : "unsent"
  return undefined
}

/**
 * How long a stopping run may take to write what it has: it ends as soon as
 * no request is in flight, but one waiting out a retry's backoff or a rate
 * limit holds the others of `--ordered` behind it; past this, it stops at once.
 */
const STOP_GRACE_MS = 5_000

/**
 * Runs `loamy send` and returns the exit code (see `signals.ExitCode`).
 *
 * @internal
 */
export const run = (config: SendConfig): Effect.Effect<number, never, HttpClient.HttpClient | http.Abort> =>
  Effect.flatMap(
    Effect.serviceOption(http.Abort),
    (abort) => runVia(config, local(config.ordered, Option.getOrUndefined(abort)))
  )

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
      returnExceptions: !config.failFast
    })
    if (Result.isFailure(checked)) {
      yield* say(`invalid option ${flagOfOption(checked.failure.option)}: ${checked.failure.detail}`)
      return ExitCode.usage
    }
    const resolved = checked.success
    const opened = yield* Effect.result(Effect.tryPromise({
      try: () => input.open(config.file, resolved),
      catch: (error) => error instanceof input.BadInput ? error : new input.BadInput(String(error))
    }))
    if (Result.isFailure(opened)) {
      yield* say(opened.failure.message)
      return ExitCode.usage
    }
    const prepared = yield* Effect.result(Effect.tryPromise({
      try: () =>
        config.selection === undefined
          ? Promise.resolve(undefined)
          : plans.prepare({ ...config.selection, baseUrl: resolved.baseUrl }, config.file, opened.success, config.quiet),
      catch: (error) =>
        error instanceof input.BadInput || error instanceof lock.LockHeld ? error : new input.BadInput(String(error))
    }))
    if (Result.isFailure(prepared)) {
      yield* say(prepared.failure.message)
      return prepared.failure instanceof lock.LockHeld ? ExitCode.locked : ExitCode.usage
    }
    const plan = prepared.success
    // The lock of a --resume file is held from `prepare` on, and given back however the run ends.
    return yield* Effect.ensuring(
      sendWith(config, via, resolved, plan?.source ?? opened.success, plan),
      Effect.sync(() => plan?.release())
    )
  })

const sendWith = <R>(
  config: SendConfig,
  via: Via<R>,
  resolved: Options.Resolved,
  source: input.Input,
  plan: plans.Plan | undefined
): Effect.Effect<number, never, R> =>
  Effect.gen(function*() {
    let writer: Writer
    try {
      writer = plan?.writer ?? openWriter(config.output)
    } catch (error) {
      yield* say(`cannot write ${config.output}: ${(error as Error).message}`)
      return ExitCode.usage
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
    const redaction = output.makeRedaction(config.showSecrets, resolved.sensitiveHeaders, resolved.headers ?? {})
    const lineOf = new Map<number, number>()
    const notUtf8 = new Map<number, string>()
    const progress = showProgress ? stats.startProgress(tracker) : undefined
    // What a run stopped short says it had sent: the requests whose responses came back (answered, failed, or
    // abandoned in flight by the stop), those handed to the HTTP client after the stop not counted.
    let sent = 0
    let abandonedInFlight = 0
    // Why the sending stopped early: a signal, or an output that failed (a full disk; a reader gone away).
    let stoppedBy: StopSignal | "output" | undefined
    let signalled: StopSignal | undefined
    // The run ended before every response came back: the grace ran out, or a second signal came.
    let cutShort = false
    const stopNow = yield* Deferred.make<void>()
    const stopInput = yield* Deferred.make<void>()
    let graceTimer: ReturnType<typeof setTimeout> | undefined
    const endNow = () => {
      cutShort = true
      Deferred.doneUnsafe(stopNow, Exit.void)
    }
    /**
     * Reads no more requests and ends those in flight at once (`via.abort`): the run then ends as soon as their
     * responses have come back, with everything received written. Without `abort`, it ends at once.
     */
    const stop = (reason: StopSignal | "output") => {
      if (stoppedBy !== undefined) return
      stoppedBy = reason
      progress?.clear()
      if (via.abort === undefined) return endNow()
      Deferred.doneUnsafe(stopInput, Exit.void)
      via.abort()
      graceTimer = setTimeout(endNow, STOP_GRACE_MS)
    }
    // SIGINT or SIGTERM: the first stops the run as above; a second one ends it at once.
    const unregister = onSignal((signal, count) => {
      signalled ??= signal
      if (count === 1 && stoppedBy === undefined) return stop(signal)
      progress?.clear()
      endNow()
    })
    // A failed output ends the run the same way: nothing more could be written.
    writer.onFail(() => stop("output"))
    // A response whose body could not be written gets an error of the CLI's making: it counts as failed.
    let unwritableTag: string | undefined
    const onUnwritable = (tag: string) => {
      unwritableTag = tag
    }
    const write = ({ index, response }: Clump.Indexed<unknown, RequestResponse.Refused>): Effect.Effect<void> => {
      const line = lineOf.get(index)
      lineOf.delete(index)
      if (RequestResponse.isRefused(response)) {
        // Stopped: a line read since is not written (a --resume reads it again).
        if (stoppedBy !== undefined) return Effect.void
        tracker.record(0, "InvalidInputError", 0, false)
        const mangled = notUtf8.get(index)
        notUtf8.delete(index)
        writer.write(
          output.invalidLineRecord(
            index,
            line ?? index + 1,
            response,
            redaction,
            mangled === undefined ? undefined : { detail: "not valid UTF-8", raw: mangled }
          )
        )
      } else {
        if (stoppedBy !== undefined) {
          // Stopped: a request the stop abandoned has no record (a --resume sends it); after a failed output
          // nothing more is written.
          const cut = abandoned(response)
          if (cut !== undefined) {
            if (cut === "sent") {
              sent++
              abandonedInFlight++
            }
            return Effect.void
          }
          if (stoppedBy === "output") {
            sent++
            return Effect.void
          }
        }
        sent++
        unwritableTag = undefined
        const text = output.responseRecord(index, line, response, redaction, onUnwritable)
        tracker.record(response.statusCode, response.error?._tag ?? unwritableTag, response.elapsedMs, true)
        writer.write(text)
      }
      // A slow reader of the output slows the sending instead of filling memory.
      return writer.needsDrain() ? Effect.promise(() => writer.drained()) : Effect.void
    }
    const selected = plan === undefined ? undefined : { plan, indexOf: new Map<number, number>() }
    // Once stopped, no more requests are read.
    const requests = Stream.interruptWhen(requestStream(source, lineOf, notUtf8, selected), Deferred.await(stopInput))
    const responses = via.send(requests, resolved, progress === undefined ? undefined : (p) => tracker.observe(p))
    const outcome = yield* (selected === undefined ? responses : Stream.map(responses, ({ index, response }) => {
      // Positions in the stream back to indices in the input.
      const at = selected.indexOf.get(index)!
      selected.indexOf.delete(index)
      return { index: at, response }
    })).pipe(
      Stream.runForEach(write),
      Effect.raceFirst(Deferred.await(stopNow)),
      Effect.exit,
      Effect.ensuring(Effect.sync(() => {
        unregister()
        if (graceTimer !== undefined) clearTimeout(graceTimer)
        progress?.stop()
      })),
      Effect.ensuring(Effect.promise(() => writer.close())),
      Effect.ensuring(Effect.sync(() => {
        if (!config.quiet && writer.failed()?.readerGone !== true) {
          process.stderr.write(stats.summary(tracker).join("\n") + "\n")
        }
      }))
    )
    const written = writer.written()
    /** What was sent and written when the run stopped short, and how to complete it. */
    const account = (inFlightKnown: boolean) => {
      const target = outputFile(config.output)
      const completion = target.file === undefined ? undefined : resumeCommand(
        config.argv ?? [],
        target.file,
        config.selection?.resume !== undefined,
        redaction.names,
        config.showSecrets
      )
      const abandonedNote = !inFlightKnown
        ? " (and the requests in flight, abandoned: they have no record)"
        : abandonedInFlight > 0
        ? ` (${plural(abandonedInFlight, "request")} in flight abandoned: ${abandonedInFlight === 1 ? "it has" : "they have"} no record)`
        : ""
      return `${plural(sent, "request")} sent, ${plural(written, "record")} written to ${target.name}${abandonedNote}` +
        (cutShort && inFlightKnown ? ", and those waiting out a retry's backoff or a rate limit abandoned too" : "") +
        (completion === undefined
          ? `; the records went to ${target.name}, which loamy cannot read back (--resume FILE makes a run resumable)`
          : `; to complete the run: ${completion}${config.file === "-" ? " (with the same input on stdin)" : ""}`)
    }
    const failure = writer.failed()
    if (failure !== undefined) {
      // The reader of a pipe went away (`| head`): stop quietly with 0, as Unix tools do. Else the output is lost.
      if (failure.readerGone) return ExitCode.ok
      yield* say(failure.message)
      yield* say(`the run stopped: its output could not be written: ${account(true)}`)
      return ExitCode.output
    }
    if (signalled !== undefined) {
      yield* say(`interrupted by ${signalled}: ${account(true)}`)
      return exitCodeOf(signalled)
    }
    if (Exit.isFailure(outcome)) {
      const failed = Cause.findErrorOption(outcome.cause)
      const error: unknown = Option.getOrUndefined(failed)
      if (error instanceof input.BadInput) {
        yield* say(error.message)
        return ExitCode.usage
      }
      // Known only when the run starts: a proxy variable that is not a URL (--proxy env).
      if (error instanceof Clump.InvalidOptionsError) {
        yield* say(`invalid option ${flagOfOption(error.option)}: ${error.detail}`)
        return ExitCode.usage
      }
      const message = Option.isSome(failed)
        ? (error as { readonly message?: string }).message ?? String(error)
        : Cause.pretty(outcome.cause)
      // --fail-fast stops on a request's own typed error; anything else is not a failure --fail-fast asked for.
      if (config.failFast && (LoamyError.isRequestError(error) || LoamyError.isInvalidInputError(error))) {
        yield* say(`stopped at the first failure (--fail-fast): ${message}`)
        return ExitCode.failed
      }
      if (via.stopped !== undefined) {
        yield* say(via.stopped(message, written))
        return ExitCode.failed
      }
      yield* say(`the run stopped on an unexpected error (a bug in loamy: please report it): ${message}`)
      yield* say(account(false))
      return ExitCode.internal
    }
    // With --resume, the failed records already in the file count too: the exit code speaks for the whole file.
    return tracker.failed > 0 || (plan?.failedBefore ?? 0) > 0 ? ExitCode.failed : ExitCode.ok
  })
