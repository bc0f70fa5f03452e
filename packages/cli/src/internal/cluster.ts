/**
 * The CLI's cluster commands, on `@loamy/cluster`: `loamy worker` (a
 * runner), `loamy send --cluster` (a coordinator), `loamy jobs prune` and
 * `loamy cluster demo`. Loaded with `import()` only when one of them runs, so
 * `loamy --help` and a plain `loamy send` never load @effect/cluster or pg.
 *
 * @internal
 */
import { Distributed, Runner } from "@loamy/cluster"
import type { Clump } from "@loamy/core"
import { Options } from "@loamy/core"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Stream from "effect/Stream"
import * as input from "./input.js"
import * as output from "./output.js"
import type { SendConfig } from "./send.js"
import * as stats from "./stats.js"

const say = (text: string) => Effect.sync(() => process.stderr.write(`loamy: ${text}\n`))

/** A connection string as it may be shown: without its password. */
export const showUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.href
  } catch {
    return "(not a URL)"
  }
}

/** @effect/cluster logs at Info (runner registration, shard moves): only warnings and worse reach stderr. */
const quietLogs = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Logger.withMinimumLogLevel(effect, process.env["LOAMY_CLUSTER_LOG"] === "debug" ? LogLevel.Debug : LogLevel.Warning)

/** What `loamy send --cluster` adds to a send. @internal */
export interface ClusterConfig {
  readonly db: string
  readonly job: string
  readonly chunkSize: number | undefined
  readonly parallel: number | undefined
}

/**
 * The requests of the input for `Distributed.streamFrom`, as `loamy send`
 * reads them: a JSON array's requests, or the JSONL lines that hold
 * something (a line that is not JSON goes on as its text, and the check
 * refuses it with its reason).
 */
const requestStream = (
  source: input.Input,
  lineOf: Map<number, number>,
  notUtf8: Map<number, string>
): Stream.Stream<unknown, input.BadInput> => {
  if (source.kind === "array") return Stream.fromIterable(source.requests)
  let lineNumber = 0
  let index = 0
  return Stream.fromAsyncIterable(
    source.batches,
    (error) => new input.BadInput(`cannot read the input: ${(error as Error)?.message ?? String(error)}`)
  ).pipe(
    Stream.mapConcat((batch) => {
      const items: Array<unknown> = []
      for (let text of batch) {
        lineNumber++
        if (text.endsWith("\r")) text = text.slice(0, -1)
        if (text.trim() === "") continue
        lineOf.set(index, lineNumber)
        if (input.isNotUtf8(text)) {
          notUtf8.set(index++, text.slice(1))
          items.push(null)
          continue
        }
        index++
        let item: unknown = text
        try {
          item = JSON.parse(text)
        } catch {
          // The check names what is wrong with it.
        }
        items.push(item)
      }
      return items
    })
  )
}

/**
 * `loamy send --cluster DB --job ID`: the input is cut into chunks that the
 * runners send; the output is in input order (`--ordered` is implied) and
 * has exactly one line per request, or the run fails (exit 1) saying so.
 * Returns the exit code.
 *
 * @internal
 */
export const send = (config: SendConfig, cluster: ClusterConfig): Effect.Effect<number> =>
  Effect.gen(function*() {
    if (config.failFast) {
      yield* say("--fail-fast cannot be used with --cluster (each chunk folds its failures)")
      return 2
    }
    if ((config.options as { readonly proxy?: string | undefined }).proxy !== undefined) {
      yield* say("--proxy cannot be used with --cluster: the workers send the requests (run them with a proxy of their own)")
      return 2
    }
    if (config.options.deadline !== undefined) {
      yield* say("--deadline cannot be used with --cluster (a chunk may run again after a runner dies)")
      return 2
    }
    const checked = Options.decode({
      ...config.options,
      ...(config.redact.length > 0 ? { sensitiveHeaders: config.redact.map((name) => name.trim()) } : {})
    })
    if (checked._tag === "Left") {
      yield* say(`invalid option: ${checked.left.message}`)
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
    let writer: output.Writer
    try {
      writer = output.openWriter(config.output)
    } catch (error) {
      yield* say(`cannot write ${config.output}: ${(error as Error).message}`)
      return 2
    }
    const tracker = new stats.Tracker()
    const showProgress = !config.quiet && process.stderr.isTTY === true
    if (source.kind === "array") tracker.total = source.requests.length
    else if (showProgress && config.file !== "-") {
      tracker.total = yield* Effect.promise(() => input.countLines(config.file).catch(() => undefined))
    }
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
        writer.write(output.invalidLineRecord(
          index,
          line ?? index + 1,
          refused,
          redaction,
          mangled === undefined ? undefined : { detail: "not valid UTF-8", raw: mangled }
        ))
      } else {
        tracker.record(response.statusCode, error?._tag, response.elapsedMs, true)
        writer.write(output.responseRecord(index, line, response, redaction))
      }
      return writer.needsDrain() ? Effect.promise(() => writer.drained()) : Effect.void
    }
    const outputFailed = Effect.async<void>((resume) => writer.onFail(() => resume(Effect.void)))
    const { chunkSize, parallel } = cluster
    const outcome = yield* Distributed.streamFrom(requestStream(source, lineOf, notUtf8), {
      ...Options.toOptions(resolved),
      job: cluster.job,
      ...(chunkSize === undefined ? {} : { chunkSize }),
      ...(parallel === undefined ? {} : { parallel })
    }).pipe(
      Stream.runForEach(write),
      Effect.raceFirst(outputFailed),
      Effect.provide(Runner.layerClient({ db: cluster.db })),
      quietLogs,
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
      if (failure.readerGone) return 0
      yield* say(failure.message)
      return 2
    }
    if (Exit.isFailure(outcome)) {
      const error = Cause.failureOption(outcome.cause)
      if (error._tag === "Some" && error.value instanceof input.BadInput) {
        yield* say(error.value.message)
        return 2
      }
      const message = error._tag === "Some"
        ? (error.value as { message?: string }).message ?? String(error.value)
        : Cause.pretty(outcome.cause)
      yield* say(
        `the distributed run stopped before every request had its result: ${message}\n` +
          `loamy: ${tracker.done} results were written; run the same command again (same --job) to resume: ` +
          `finished chunks come from storage, the rest are sent`
      )
      return 1
    }
    return tracker.failed > 0 ? 1 : 0
  })

/** What `loamy worker` was asked for. @internal */
export interface WorkerConfig {
  readonly db: string
  readonly host: string | undefined
  readonly port: number
  readonly listenHost: string | undefined
  readonly redis: string | undefined
  readonly lockExpiryMs: number | undefined
  readonly concurrency: number | undefined
}

/**
 * `loamy worker --db URL`: this process as a runner until it is stopped
 * (Ctrl-C or SIGTERM hand its shards back at once; a killed worker's shards
 * wait for the lock expiry). Prints one line on stderr when it is ready.
 *
 * @internal
 */
export const worker = (config: WorkerConfig): Effect.Effect<number> => {
  const runner = Runner.layer({
    db: config.db,
    host: config.host,
    port: config.port,
    listenHost: config.listenHost,
    redis: config.redis,
    shardLockExpiration: config.lockExpiryMs,
    connections: config.concurrency
  })
  const ready = Layer.effectDiscard(say(
    `worker ready: runner ${config.host ?? "(this host)"}:${config.port} in the cluster at ${showUrl(config.db)}` +
      (config.redis === undefined ? " (rate limits split between runners)" : ` (rate limits shared through ${showUrl(config.redis)})`)
  ))
  return Layer.launch(Layer.provideMerge(ready, runner)).pipe(
    quietLogs,
    Effect.as(0),
    Effect.catchAllCause((cause) => {
      // The usual first failure: the database cannot be reached. Say which, and why, in one line.
      const error = Cause.squash(cause) as { readonly _tag?: string; readonly message?: string; readonly cause?: unknown }
      const reason = (error.cause as { readonly message?: string } | undefined)?.message
      return Effect.as(
        say(
          error._tag === "SqlError"
            ? `worker failed: the cluster's Postgres at ${showUrl(config.db)}: ${error.message}${reason === undefined ? "" : ` (${reason})`}`
            : `worker failed: ${Cause.pretty(cause)}`
        ),
        1
      )
    })
  )
}

/**
 * `loamy jobs prune ID --db URL`: deletes what the cluster's storage holds
 * for a job.
 *
 * @internal
 */
export const prune = (db: string, job: string): Effect.Effect<number> =>
  Distributed.prune(job).pipe(
    Effect.provide(Runner.layerStorage({ db })),
    quietLogs,
    Effect.flatMap((count) =>
      Effect.as(say(`job ${job}: deleted ${count} stored messages and their replies`), 0)
    ),
    Effect.catchAllCause((cause) => Effect.as(say(`jobs prune failed: ${Cause.pretty(cause)}`), 1))
  )
