/**
 * The CLI's cluster commands, on `@loamy/cluster`: `loamy worker` (a
 * runner), `loamy send --cluster` (a coordinator), `loamy jobs prune` and
 * `loamy cluster demo`. Loaded with `import()` only when one of them runs, so
 * `loamy --help` and a plain `loamy send` never load effect/cluster,
 * effect/sql, @effect/sql-pg or redis.
 *
 * @internal
 */
import { Distributed, Runner } from "@loamy/cluster"
import { Options } from "@loamy/core"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import type * as LogLevel from "effect/LogLevel"
import * as Predicate from "effect/Predicate"
import * as References from "effect/References"
import * as Stream from "effect/Stream"
import type { SendConfig } from "./send.js"
import * as sending from "./send.js"

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

/**
 * effect/cluster logs at Info (runner registration, shard moves): only
 * warnings and worse, unless `LOAMY_CLUSTER_LOG=debug`, and on stderr:
 * stdout holds `send`'s records.
 */
const logLevel = (): LogLevel.LogLevel => process.env["LOAMY_CLUSTER_LOG"] === "debug" ? "Debug" : "Warn"
const quietLogs = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.provideService(References.MinimumLogLevel, logLevel()), Effect.provideService(Logger.LogToStderr, true))
const quietLogLevel = Layer.merge(Layer.sync(References.MinimumLogLevel, logLevel), Layer.succeed(Logger.LogToStderr, true))

/** What `loamy send --cluster` adds to a send. @internal */
export interface ClusterConfig {
  readonly db: string
  readonly job: string
  readonly chunkSize: number | undefined
  readonly parallel: number | undefined
}

/**
 * `loamy send --cluster DB --job ID`: the input is cut into chunks that the
 * runners send; the output is in input order (`--ordered` is implied) and
 * has exactly one line per request, or the run fails (exit 1) saying so.
 * Reading, writing, progress and the summary are `loamy send`'s own.
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
    const { chunkSize, parallel } = cluster
    return yield* sending.runVia({ ...config, ordered: true }, {
      send: (requests, resolved) =>
        Distributed.streamFrom(requests, {
          ...Options.toOptions(resolved),
          job: cluster.job,
          ...(chunkSize === undefined ? {} : { chunkSize }),
          ...(parallel === undefined ? {} : { parallel })
        }).pipe(
          // Provided to the layer too: the cluster's own fibers, forked while it is built, log at that level.
          Stream.provide(Layer.provideMerge(Runner.layerClient({ db: cluster.db }), quietLogLevel))
        ),
      stopped: (message, written) =>
        `the distributed run stopped before every request had its result: ${message}\n` +
        `loamy: ${written} results were written; run the same command again (same --job) to resume: ` +
        `finished chunks come from storage, the rest are sent`,
      // The runners send: a signal stops this process at once (the job resumes from storage).
      abort: undefined
    })
  })

/** What `loamy worker` was asked for. @internal */
export interface WorkerConfig {
  readonly db: string
  readonly host: string | undefined
  readonly port: number
  readonly listenHost: string | undefined
  readonly redis: string | undefined
  readonly lockExpiryMs: number | undefined
  readonly connections: number | undefined
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
    connections: config.connections
  })
  const ready = Layer.effectDiscard(say(
    `worker ready: runner ${config.host ?? "(this host)"}:${config.port} in the cluster at ${showUrl(config.db)}` +
      (config.redis === undefined ? " (rate limits split between runners)" : ` (rate limits shared through ${showUrl(config.redis)})`)
  ))
  return Layer.launch(Layer.provideMerge(ready, runner)).pipe(
    quietLogs,
    Effect.as(0),
    Effect.catchCause((cause) => Effect.as(say(`worker failed: ${
        failure(cause, {
          db: config.db,
          redis: config.redis,
          listen: `${config.listenHost ?? config.host ?? "(this host)"}:${config.port}`
        })
      }`), 1))
  )
}

/**
 * The usual first failures in one line: the database or the Redis cannot be
 * reached, or the runner's port is taken (which, and why); anything else in
 * full.
 */
const failure = (
  cause: Cause.Cause<unknown>,
  where: { readonly db: string; readonly redis?: string | undefined; readonly listen?: string | undefined }
): string => {
  const error = Cause.squash(cause)
  if (Predicate.isTagged(error, "SqlError")) return `the cluster's Postgres at ${showUrl(where.db)}: ${describe(error)}`
  if (Predicate.isTagged(error, "RedisError")) return `the Redis at ${showUrl(where.redis ?? "")}: ${describe(error)}`
  if (Predicate.isTagged(error, "SocketServerError")) return `listening on ${where.listen}: ${describe(error)}`
  return Cause.pretty(cause)
}

/** An error's message and its causes', each once: `PgConnection: Failed to connect (connect ECONNREFUSED …)`. */
const describe = (error: unknown): string => {
  const messages: Array<string> = []
  let at = error
  for (let depth = 0; depth < 4 && Predicate.hasProperty(at, "message"); depth++) {
    if (typeof at.message === "string" && at.message !== "" && !messages.includes(at.message)) messages.push(at.message)
    at = Predicate.hasProperty(at, "cause") ? at.cause : undefined
  }
  const [first, ...more] = messages
  return first === undefined ? String(error) : more.length === 0 ? first : `${first} (${more.join(": ")})`
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
    Effect.catchCause((cause) => Effect.as(say(`jobs prune failed: ${failure(cause, { db })}`), 1))
  )
