/**
 * The `loamy` command: `loamy send` sends a batch file of requests and
 * streams one JSON line per response; `loamy demo` shows it all against the
 * embedded test server. Written with `effect/cli`: its parser, its help and
 * its suggestions for mistyped commands and flags (see `internal/help.ts`
 * for what loamy changes in how they are printed).
 *
 * @since 0.1.0
 */
import * as CliError from "effect/cli/CliError"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as HttpClient from "effect/http/HttpClient"
import * as Option from "effect/Option"
import { createRequire } from "node:module"
import { attachValues } from "./internal/argv.js"
import * as clusterCommands from "./internal/clusterCommands.js"
import * as help from "./internal/help.js"
import type * as http from "./internal/http.js"
import * as sendCommandLine from "./internal/sendCommand.js"
import * as statsCommandLine from "./internal/statsCommand.js"
import { ExitCode as Codes, exitCodeOf, type StopSignal } from "./internal/signals.js"
import * as terminal from "./internal/terminal.js"

// The commands' machinery (the core's engine, the undici layer, the test server) is loaded when a command runs,
// not for `--help` or a usage error: in the bundle these are chunks of their own, so starting takes a fraction of
// the time.
const sendModule = Effect.promise(() => import("./internal/send.js"))
const demoModule = Effect.promise(() => import("./internal/demo.js"))
// The cluster commands (and `send --cluster`) load effect/cluster, effect/sql and Postgres: only when one runs.
const clusterModule = Effect.promise(() => import("./internal/cluster.js"))
const statsModule = Effect.promise(() => import("./internal/statsRun.js"))
const withHttp = <A, E>(effect: Effect.Effect<A, E, HttpClient.HttpClient | http.Abort>): Effect.Effect<A, E> =>
  Effect.flatMap(Effect.promise(() => import("./internal/http.js")), (http) => http.provide(effect))

/**
 * The process exit code a command asks for (see "Exit codes" in
 * `loamy send --help`).
 *
 * @since 0.1.0
 * @category errors
 */
export class ExitCode extends Data.TaggedError("ExitCode")<{ readonly code: number }> {}

const exitWith = (code: number): Effect.Effect<void, ExitCode> =>
  code === 0 ? Effect.void : Effect.fail(new ExitCode({ code }))

/** A usage error found by a command itself: its message and where to read more on stderr, exit 2. */
const usageError = (hint: string) => (message: string): Effect.Effect<never, ExitCode> =>
  Effect.andThen(
    Effect.sync(() => process.stderr.write(`loamy: ${message}\n${hint}\n`)),
    Effect.fail(new ExitCode({ code: Codes.usage }))
  )

const usage = usageError(`Run "loamy send --help" for the flags.`)

const { clusterCommand, clusterFlags, jobsCommand, workerCommand } = clusterCommands.make({
  usage: usageError(`Run "loamy --help" for the commands, "loamy COMMAND --help" for their flags.`),
  exitWith
})

/** The arguments after `loamy`, as given: for the command that completes an interrupted run. */
let commandLine: ReadonlyArray<string> = []

/**
 * `loamy send [FILE|-]`.
 *
 * @since 0.1.0
 * @category commands
 */
export const sendCommand = Command.make("send", sendCommandLine.flagsWith(clusterFlags), (flags) =>
  sendCommandLine.toConfig(flags, commandLine, { usage }).pipe(
    Effect.flatMap((config) => {
      if (Option.isSome(flags.cluster)) {
        const db = flags.cluster.value
        const job = flags.job
        if (Option.isNone(job)) return usage("--cluster needs --job ID (the id to resume the run by)")
        if (Option.isSome(flags.resume) || flags.retryFailed || Option.isSome(flags.shard)) {
          return usage("--resume, --retry-failed and --shard cannot be used with --cluster (run the same --job again to resume)")
        }
        const chunkSize = Option.getOrUndefined(flags.chunkSize)
        return Effect.flatMap(clusterModule, (m) => m.send(config, { db, job: job.value, chunkSize, parallel: undefined }))
      }
      if (Option.isSome(flags.job) || Option.isSome(flags.chunkSize)) return usage("--job and --chunk-size need --cluster")
      return Effect.flatMap(sendModule, (send) => send.run(config)).pipe(withHttp)
    }),
    Effect.flatMap(exitWith)
  )).pipe(
    Command.withDescription(sendCommandLine.description),
    Command.withShortDescription(
      "Send the requests of a JSON array or JSONL file (or stdin) concurrently and write one JSON line per " +
        "response. \"loamy send --help\" lists its flags."
    )
  )

/**
 * `loamy demo`.
 *
 * @since 0.1.0
 * @category commands
 */
export const demoCommand = Command.make("demo", {
  quiet: Flag.Boolean("quiet").pipe(
    Flag.withAlias("q"),
    Flag.withDescription("No progress bar and no summary."),
    Flag.withDefault(false)
  )
}, ({ quiet }) =>
  Effect.flatMap(demoModule, (demo) => demo.run({ quiet })).pipe(withHttp, Effect.flatMap(exitWith))).pipe(
    Command.withDescription(
      "Start the embedded test server on 127.0.0.1, send it a mixed clump (successes, a 404, a 500 with an HTML " +
        "body, a reset connection, a timeout) with the progress bar, print a table of the results and the summary, " +
        "and stop the server."
    ),
    Command.withShortDescription(
      "Start the embedded test server on 127.0.0.1, send it a mixed clump with the progress bar, print the " +
        "results and the summary."
    )
  )

/**
 * `loamy stats FILE...`: the summary of a run from its output files.
 *
 * @since 1.1.0
 * @category commands
 */
export const statsCommand = Command.make("stats", statsCommandLine.flags, (flags) =>
  Effect.flatMap(statsModule, (stats) => stats.run(flags)).pipe(Effect.flatMap(exitWith))).pipe(
    Command.withDescription(statsCommandLine.description),
    Command.withShortDescription(
      "Print the summary of a run (counts by status and error, latency percentiles, per origin) from one or more " +
        "output files; --json for machines."
    ),
    Command.withExamples(statsCommandLine.examples)
  )

/**
 * The package version, read from the package's own package.json.
 *
 * @since 0.1.0
 * @category constants
 */
export const version: string = (createRequire(import.meta.url)("@loamy/cli/package.json") as { version: string }).version

/**
 * The root command, `loamy`.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("loamy", {}, () =>
  Effect.andThen(
    Effect.sync(() =>
      process.stderr.write("loamy: give a command: send, stats, demo, worker, jobs or cluster. Run \"loamy --help\" for more.\n")
    ),
    Effect.fail(new ExitCode({ code: Codes.usage }))
  )).pipe(
    Command.withDescription(
      `loamy ${version}: send batches of HTTP requests concurrently and get one JSON result per request, with ` +
        "progress and a summary."
    ),
    Command.withSubcommands([sendCommand, statsCommand, demoCommand, workerCommand, jobsCommand, clusterCommand]),
    Command.withExamples([
      { command: "loamy send requests.jsonl > responses.jsonl", description: "One JSON line per response" },
      { command: "loamy send -c 20 --retry 3 --resume out.jsonl requests.jsonl", description: "Resumable" },
      { command: "loamy stats out-0.jsonl out-1.jsonl", description: "One summary of a run's output files" },
      { command: "loamy demo", description: "See it work against the embedded test server" }
    ])
  )

/**
 * Whether a stream gets plain text: `NO_COLOR` set to anything but the empty
 * string (https://no-color.org) always; else unless `FORCE_COLOR` is set to
 * anything but "", "0" or "false", whenever the stream is not a terminal.
 *
 * @since 0.1.0
 * @category running
 */
export const plain: (stream: { readonly isTTY?: boolean }) => boolean = terminal.plain

const runCommand = Command.runWith(command, { version })

/**
 * Parses `process.argv` and runs the command, with help, version and usage
 * errors printed as `internal/help.ts` says.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (argv: ReadonlyArray<string>) => {
  commandLine = argv.slice(2)
  return runCommand(attachValues(command, commandLine)).pipe(Effect.provide(help.layer(command)))
}

/**
 * The exit code of a run (for `signals.runMain`): the code a command asked
 * for, 2 for a usage error (already printed), 130 or 143 for a run
 * interrupted by SIGINT or SIGTERM, 5 (with the cause printed) for anything
 * unexpected.
 *
 * @since 0.1.0
 * @category running
 */
export const teardown = <A, E>(exit: Exit.Exit<A, E>, signal: StopSignal | undefined): number => {
  if (Exit.isSuccess(exit)) return Codes.ok
  if (Cause.hasInterruptsOnly(exit.cause)) return exitCodeOf(signal ?? "SIGINT")
  const failure = Cause.findErrorOption(exit.cause)
  if (Option.isSome(failure)) {
    const error: unknown = failure.value
    if (error instanceof ExitCode) return error.code
    if (CliError.isCliError(error)) return Codes.usage
  }
  process.stderr.write(`loamy: unexpected failure (a bug in loamy: please report it)\n${Cause.pretty(exit.cause)}\n`)
  return Codes.internal
}
