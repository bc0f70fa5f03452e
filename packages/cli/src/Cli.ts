/**
 * The `loamy` command: `loamy send` sends a batch file of requests and
 * streams one JSON line per response; `loamy demo` shows it all against the
 * embedded test server.
 *
 * @since 0.1.0
 */
import * as Args from "@effect/cli/Args"
import * as CliConfig from "@effect/cli/CliConfig"
import * as Command from "@effect/cli/Command"
import * as CommandDescriptor from "@effect/cli/CommandDescriptor"
import * as HelpDoc from "@effect/cli/HelpDoc"
import * as Options from "@effect/cli/Options"
import * as Span from "@effect/cli/HelpDoc/Span"
import * as ValidationError from "@effect/cli/ValidationError"
import type * as HttpClient from "@effect/platform/HttpClient"
import type { Clump } from "@loamy/core"
import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import { createRequire } from "node:module"
import * as nodePath from "node:path"
import { parseDuration, parseHeader, parseRate } from "./internal/duration.js"
import * as clusterCommands from "./internal/clusterCommands.js"
import type * as http from "./internal/http.js"
import { parseShard } from "./internal/shard.js"
import type * as send from "./internal/send.js"
import { ExitCode as Codes, exitCodeOf, type StopSignal } from "./internal/signals.js"
import * as terminal from "./internal/terminal.js"

// The commands' machinery (the core, the undici layer, the test server) is loaded when a command runs, not for
// `--help` or a usage error: in the bundle these are chunks of their own, so starting takes a fraction of the time.
const sendModule = Effect.promise(() => import("./internal/send.js"))
const demoModule = Effect.promise(() => import("./internal/demo.js"))
// The cluster commands (and `send --cluster`) load @effect/cluster and pg: only when one of them runs.
const clusterModule = Effect.promise(() => import("./internal/cluster.js"))
const { clusterCommand, clusterFlags, flagChecks, jobsCommand, workerCommand } = clusterCommands.make({
  usage: (message) => usage(message),
  exitWith: (code) => exitWith(code)
})
const withHttp = (connections: number | undefined) =>
<A, E>(
  effect: Effect.Effect<A, E, HttpClient.HttpClient | http.Abort>
): Effect.Effect<A, E> =>
  Effect.flatMap(Effect.promise(() => import("./internal/http.js")), (http) => http.provide(effect, connections))

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

const usage = (message: string): Effect.Effect<never, ExitCode> =>
  Effect.zipRight(
    Effect.sync(() => process.stderr.write(`loamy: ${message}\nRun "loamy send --help" for the flags.\n`)),
    Effect.fail(new ExitCode({ code: 2 }))
  )

const file = Args.text({ name: "FILE" }).pipe(
  Args.withDescription(
    "A JSON array or JSONL file of requests (url, httpOp or http_op, body, queryParams or query_params, headers). " +
      "\"-\" or nothing reads stdin."
  ),
  Args.optional
)

const sendFlags = {
  file,
  output: Options.text("output").pipe(
    Options.withPseudoName("FILE"),
    Options.withAlias("o"),
    Options.withDescription(
      "Write the JSONL responses to this file instead of stdout. With --resume, the records go to the --resume file: " +
        "-o may name only that file."
    ),
    Options.optional
  ),
  ordered: Options.boolean("ordered").pipe(
    Options.withDescription(
      "Write responses in input order. A response that finished before an earlier one waits in a reorder buffer " +
        "(--reorder-buffer) while the run goes on, so a slow origin delays the output, not the requests to other " +
        "origins. Default: completion order, each line with its index."
    )
  ),
  reorderBuffer: Options.integer("reorder-buffer").pipe(
    Options.withPseudoName("N"),
    Options.withDescription(
      "With --ordered: at most N finished responses wait for an earlier one; past that, sending waits for the " +
        "output. Default 1000."
    ),
    Options.optional
  ),
  concurrency: Options.integer("concurrency").pipe(
    Options.withPseudoName("N"),
    Options.withAlias("c"),
    Options.withDescription("Requests in flight at once. Default 100."),
    Options.withDefault(100)
  ),
  concurrencyPerOrigin: Options.integer("concurrency-per-origin").pipe(
    Options.withPseudoName("N"),
    Options.withDescription(
      "Requests in flight at once to one origin (scheme, host, port), within --concurrency: politeness for crawls " +
        "over many hosts. A busy origin holds only its own requests; the rest go on. Default none."
    ),
    Options.optional
  ),
  timeout: Options.text("timeout").pipe(
    Options.withPseudoName("DURATION"),
    Options.withDescription("Per attempt, connect to last body byte: milliseconds or 500ms, 5s, 1m. Default 5m."),
    Options.optional
  ),
  deadline: Options.text("deadline").pipe(
    Options.withPseudoName("DURATION"),
    Options.withDescription(
      "For the whole run: requests not finished by then get a DeadlineError. Milliseconds or 30s, 5m. Default none."
    ),
    Options.optional
  ),
  retry: Options.integer("retry").pipe(
    Options.withPseudoName("N"),
    Options.withDescription(
      "Attempts in all, the first included (exponential backoff with jitter, Retry-After honoured, " +
        "idempotent methods only). Default 1."
    ),
    Options.optional
  ),
  rate: Options.text("rate").pipe(
    Options.withPseudoName("N/INTERVAL"),
    Options.withDescription(
      "At most N requests start in any span of INTERVAL (sliding, attempts and retries count): N/INTERVAL, e.g. " +
        "10/1s, 100/500ms, 5/s. Starts are kept 5% of the interval (at most 100 ms) further apart, for the way to the server."
    ),
    Options.optional
  ),
  ratePerOrigin: Options.boolean("rate-per-origin").pipe(
    Options.withDescription("Apply --rate to each origin separately instead of to the whole run.")
  ),
  header: Options.text("header").pipe(
    Options.withPseudoName("'NAME: VALUE'"),
    Options.withAlias("H"),
    Options.withDescription("A default header, 'Name: value', sent with every request (a request's own headers win). Repeatable."),
    Options.repeated
  ),
  failFast: Options.boolean("fail-fast").pipe(
    Options.withDescription("Stop at the first failed request (in-flight ones are abandoned) and exit 1.")
  ),
  maxBodyBytes: Options.integer("max-body-bytes").pipe(
    Options.withPseudoName("BYTES"),
    Options.withDescription("Bodies larger than this (decompressed) are not read; the response gets a BodyTooLargeError. Default 64 MiB."),
    Options.optional
  ),
  bodyBudget: Options.integer("body-budget").pipe(
    Options.withPseudoName("BYTES"),
    Options.withDescription(
      "Bytes of response bodies held at once for the whole run while they are read (decompressed, decoders' " +
        "windows included). A read that would pass it waits, not reading its connection, until others finish: it " +
        "never fails for it, and its --timeout still bounds it. One read at a time may go past it, so the run " +
        "always moves on. Default 64 MiB."
    ),
    Options.optional
  ),
  maxRedirects: Options.integer("max-redirects").pipe(
    Options.withPseudoName("N"),
    Options.withDescription("Redirects followed per request; 0 returns the 3xx response as it is. Default 10."),
    Options.optional
  ),
  redact: Options.text("redact").pipe(
    Options.withPseudoName("NAME"),
    Options.withDescription(
      "A secret header: its values are hidden and it is not sent on across origins (Authorization, Cookie, Set-Cookie, Proxy-Authorization, X-Api-Key, X-Auth-Token always are). Repeatable."
    ),
    Options.repeated
  ),
  proxy: Options.text("proxy").pipe(
    Options.withPseudoName("URL|env"),
    Options.withDescription(
      "Send through this proxy: http://[user:pass@]host:port (https targets through a CONNECT tunnel), or env for " +
        "HTTPS_PROXY, HTTP_PROXY and NO_PROXY. Its credentials are never printed. Default none."
    ),
    Options.optional
  ),
  showSecrets: Options.boolean("show-secrets").pipe(
    Options.withDescription("Show secret header values instead of <redacted>.")
  ),
  quiet: Options.boolean("quiet").pipe(
    Options.withAlias("q"),
    Options.withDescription("No progress bar and no summary on stderr.")
  ),
  resume: Options.text("resume").pipe(
    Options.withPseudoName("FILE"),
    Options.withDescription(
      "FILE is the output: read the records already in it, send only the requests whose index is missing, and " +
        "append their records to it (a missing FILE is created). A torn last line (a run killed mid-write) is cut " +
        "away and its request sent again. -o may name the same file, no other. Refused (exit 2, nothing sent or " +
        "changed) when FILE is not loamy output for this input: a line that is not a record, an index beyond the " +
        "input (or outside --shard), or a record whose requestMap is not the input's request at its index (URL, " +
        "method, query, header names and body are compared). One process per FILE at a time: a run holds the lock " +
        "FILE.loamy-lock (its pid and host) and a second run on FILE is refused (exit 3, nothing sent); a lock left " +
        "by a run that was killed is taken over once its process is gone."
    ),
    Options.optional
  ),
  retryFailed: Options.boolean("retry-failed").pipe(
    Options.withDescription(
      "With --resume: also send again the requests whose record has an error. Their old records are removed first " +
        "(FILE is rewritten next to itself and renamed over it), so FILE always holds at most one record per index."
    )
  ),
  shard: Options.text("shard").pipe(
    Options.withPseudoName("i/n"),
    Options.withDescription(
      "Send only the requests whose index k (0-based among the input's requests) has k mod n = i; the others are " +
        "skipped (not sent, not written). Records keep their index and line in the whole input. 0 <= i < n."
    ),
    Options.optional
  ),
  ...clusterFlags
}

type SendFlags = Command.Command.ParseConfig<typeof sendFlags>

const toConfig = (flags: SendFlags): Effect.Effect<send.SendConfig, ExitCode> =>
  Effect.gen(function*() {
    const duration = (name: string, value: Option.Option<string>) => {
      if (Option.isNone(value)) return Effect.succeed(undefined)
      const ms = parseDuration(value.value)
      return ms === undefined
        ? usage(`--${name}: ${JSON.stringify(value.value)} is not a duration (use 500, 500ms, 5s, 2m)`)
        : Effect.succeed(ms)
    }
    const headers: Record<string, string> = {}
    for (const [n, text] of flags.header.entries()) {
      const parsed = parseHeader(text)
      // Not echoed: it may be a secret given without its name.
      if (parsed === undefined) {
        return yield* usage(`--header number ${n + 1} has no "Name:" in front of its value: give it as 'Name: value'`)
      }
      headers[parsed[0]] = parsed[1]
      const unexpanded = unexpandedVariable(parsed[1])
      if (unexpanded !== undefined) {
        process.stderr.write(
          `loamy: warning: --header ${parsed[0]}: its value holds ${unexpanded} as it is, not the variable's value ` +
            `(single quotes keep the shell from expanding it: use double quotes, -H "${parsed[0]}: ...${unexpanded}")\n`
        )
      }
    }
    let rateLimit: Clump.RateLimitOptions | undefined
    if (Option.isSome(flags.rate)) {
      const rate = parseRate(flags.rate.value)
      if (rate === undefined) {
        return yield* usage(`--rate: ${JSON.stringify(flags.rate.value)} is not N/INTERVAL (e.g. 10/1s)`)
      }
      rateLimit = { limit: rate.limit, interval: rate.intervalMs, perOrigin: flags.ratePerOrigin }
    }
    const timeout = yield* duration("timeout", flags.timeout)
    const deadline = yield* duration("deadline", flags.deadline)
    const options: {
      -readonly [K in keyof Clump.Options]: Clump.Options[K]
    } = { concurrency: flags.concurrency }
    if (Option.isSome(flags.concurrencyPerOrigin)) options.concurrencyPerOrigin = flags.concurrencyPerOrigin.value
    if (timeout !== undefined) options.timeout = timeout
    if (deadline !== undefined) options.deadline = deadline
    if (Option.isSome(flags.retry)) options.retry = flags.retry.value
    if (rateLimit !== undefined) options.rateLimit = rateLimit
    if (Option.isSome(flags.maxBodyBytes)) options.maxBodyBytes = flags.maxBodyBytes.value
    if (Option.isSome(flags.bodyBudget)) options.bodyBudget = flags.bodyBudget.value
    if (Option.isSome(flags.reorderBuffer)) options.reorderBuffer = flags.reorderBuffer.value
    if (Option.isSome(flags.maxRedirects)) options.maxRedirects = flags.maxRedirects.value
    if (flags.header.length > 0) options.headers = headers
    if (Option.isSome(flags.proxy)) options.proxy = flags.proxy.value
    const path = Option.getOrElse(flags.file, () => "-")
    if (Option.isNone(flags.file) && process.stdin.isTTY === true) {
      return yield* usage("no input: give a FILE or pipe requests on stdin (\"-\" reads the terminal)")
    }
    let shard: { readonly index: number; readonly count: number } | undefined
    if (Option.isSome(flags.shard)) {
      const parsed = parseShard(flags.shard.value)
      if (typeof parsed === "string") return yield* usage(`--shard: ${parsed}`)
      shard = parsed
    }
    const resume = Option.getOrUndefined(flags.resume)
    if (flags.retryFailed && resume === undefined) {
      return yield* usage("--retry-failed needs --resume FILE (the output file whose failed records to send again)")
    }
    if (resume !== undefined) {
      if (resume === "" || resume === "-") return yield* usage("--resume needs a file (stdout cannot be read back)")
      if (Option.isSome(flags.output) && nodePath.resolve(flags.output.value) !== nodePath.resolve(resume)) {
        return yield* usage(
          `--output ${flags.output.value} and --resume ${resume} name different files: with --resume, the records ` +
            "are appended to the --resume file (drop -o, or give it the same file)"
        )
      }
      if (path !== "-" && nodePath.resolve(path) === nodePath.resolve(resume)) {
        return yield* usage(`--resume ${resume} is the input file: it must be the output file`)
      }
    }
    return {
      file: path,
      output: resume ?? Option.getOrUndefined(flags.output),
      ordered: flags.ordered,
      failFast: flags.failFast,
      quiet: flags.quiet,
      showSecrets: flags.showSecrets,
      redact: flags.redact,
      options,
      selection: resume === undefined && shard === undefined
        ? undefined
        : { resume, retryFailed: flags.retryFailed, shard },
      argv: commandLine
    }
  })

/** A shell variable left as it is in a header value (`$TOKEN`, `${TOKEN}`): most likely quoted by mistake. */
const unexpandedVariable = (value: string): string | undefined => /\$(?:\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)/.exec(value)?.[0]

/** The arguments after `loamy`, as given: for the command that completes an interrupted run. */
let commandLine: ReadonlyArray<string> = []

/**
 * `loamy send [FILE|-]`.
 *
 * @since 0.1.0
 * @category commands
 */
export const sendCommand = Command.make("send", sendFlags, (flags) =>
  toConfig(flags).pipe(
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
      return Effect.flatMap(sendModule, (send) => send.run(config)).pipe(withHttp(config.options.concurrency))
    }),
    Effect.flatMap(exitWith)
  )).pipe(
    Command.withDescription(HelpDoc.blocks([
      HelpDoc.p(
        "Send the requests of a JSON array or JSONL file (or stdin) concurrently and write one JSON line per response, " +
          "RequestResponse's own encoding plus its place: index (0-based position), line (JSONL only), requestMap, " +
          "statusCode (0 when no response arrived), headers, body, error ({_tag, message, ...fields}, absent when none), " +
          "elapsedMs, attempts."
      ),
      HelpDoc.p(
        "A JSON array is checked whole before anything is sent. JSONL is streamed line by line (memory bounded by " +
          "--concurrency); a line that is not a valid request is not sent and gets its own record with an " +
          "InvalidInputError naming the line and field."
      ),
      HelpDoc.p(
        "Numbers go both ways digit for digit: 12345678901234567890 in a request body is sent, and in a response " +
          "body written, as it is. JSON nested deeper than 1,000 levels is not read (a response's BodyDecodeError, a " +
          "request line refused on its field body). Error records name URLs by origin and path, never the query " +
          "string or credentials."
      ),
      HelpDoc.p(
        "Resuming: \"loamy send --resume out.jsonl in.jsonl\" can be run again after any interruption (a kill, a " +
          "crash, Ctrl-C, --fail-fast, a deadline, a full disk): each run sends only what out.jsonl lacks and " +
          "appends to it, and once a run completes out.jsonl holds exactly one record per request. Add " +
          "--retry-failed to send the failed ones again. Works with JSONL and JSON arrays, files and stdin (JSONL " +
          "on stdin is read up to the file's largest index, and checked, before anything is sent)."
      ),
      HelpDoc.p(
        "Interrupting: on Ctrl-C (SIGINT) or SIGTERM, loamy sends nothing more, abandons the requests in flight " +
          "(they get no record), writes every response it has received, says how many requests were sent and " +
          "records written, prints the --resume command that completes the run, and exits 130 (SIGINT) or 143 " +
          "(SIGTERM). A second signal stops it at once."
      ),
      HelpDoc.p(
        "Sharding: \"--shard i/n\" on n processes (or machines) splits one input between them, each sending every " +
          "n-th request; with \"--resume out-i.jsonl\" each shard resumes on its own, and the n files together hold " +
          "every index once."
      ),
      HelpDoc.p(
        "Secrets: the values of secret headers (Authorization, Cookie, Set-Cookie, Proxy-Authorization, X-Api-Key, " +
          "X-Auth-Token and --redact ones) are <redacted> in every record's requestMap and headers, and replaced " +
          "wherever they appear in bodies and errors. A line that is not a valid request is shown without any " +
          "header value, query parameter value, secret-named field, URL userinfo or query string, and a line that " +
          "is not JSON is not shown at all; messages on stderr never hold them either. --show-secrets shows them. " +
          "The credentials of --proxy are never shown."
      ),
      HelpDoc.p(
        "Exit codes: 0 every response came back without error; 1 some failed (an error, a bad JSONL line, or " +
          "--fail-fast stopped the run; with --resume, any failed record in the file); 2 bad input or usage " +
          "(nothing sent); 3 another run holds the --resume file (nothing sent); 4 the output could not be " +
          "written (a full disk, an I/O error: the run stopped, requests may have been sent; the message says how " +
          "many, and how many records were written); 5 loamy itself failed (a bug; the message says the same); " +
          "130 interrupted by SIGINT (Ctrl-C); 143 by SIGTERM."
      )
    ]))
  )

/**
 * `loamy demo`.
 *
 * @since 0.1.0
 * @category commands
 */
export const demoCommand = Command.make("demo", {
  quiet: Options.boolean("quiet").pipe(Options.withAlias("q"), Options.withDescription("No progress bar and no summary."))
}, ({ quiet }) => Effect.flatMap(demoModule, (demo) => demo.run({ quiet })).pipe(withHttp(undefined), Effect.flatMap(exitWith))).pipe(
  Command.withDescription(
    "Start the embedded test server on 127.0.0.1, send it a mixed clump (successes, a 404, a 500 with an HTML body, " +
      "a reset connection, a timeout) with the progress bar, print a table of the results and the summary, and stop the server."
  )
)

/**
 * The root command, `loamy`.
 *
 * @since 0.1.0
 * @category commands
 */
export const command = Command.make("loamy", {}, () =>
  Effect.zipRight(
    Effect.sync(() =>
      process.stderr.write("loamy: give a command: send, demo, worker, jobs or cluster. Run \"loamy --help\" for more.\n")
    ),
    Effect.fail(new ExitCode({ code: 2 }))
  )).pipe(
    Command.withDescription(
      "Send batches of HTTP requests concurrently and get one JSON result per request, with progress and a summary."
    ),
    Command.withSubcommands([sendCommand, demoCommand, workerCommand, jobsCommand, clusterCommand])
  )

/**
 * The package version, read from the package's own package.json.
 *
 * @since 0.1.0
 * @category constants
 */
export const version: string = (createRequire(import.meta.url)("@loamy/cli/package.json") as { version: string }).version

const runCommand = Command.run(command, { name: "loamy", version })

/**
 * Whether a stream gets plain text: `NO_COLOR` set to anything but the empty
 * string (https://no-color.org) always; else unless `FORCE_COLOR` is set to
 * anything but "", "0" or "false", whenever the stream is not a terminal.
 *
 * @since 0.1.0
 * @category running
 */
export const plain: (stream: { readonly isTTY?: boolean }) => boolean = terminal.plain

const ansi = /\x1b\[[0-9;]*m/g

/**
 * Drops ANSI styling from text.
 *
 * @since 0.1.0
 * @category running
 */
export const stripAnsi = (text: string): string => text.replace(ansi, "")

const render = (doc: HelpDoc.HelpDoc, stream: { readonly isTTY?: boolean }) => {
  const text = HelpDoc.toAnsiText(doc)
  return plain(stream) ? stripAnsi(text) : text
}

// What `loamy send` and `loamy demo` accept, for the check below. `value` flags take the next argument (or
// `--flag=value`); `integer` ones must be integers.
interface Flag {
  readonly value: boolean
  readonly integer?: boolean
}
const builtIn: Record<string, Flag> = {
  "--help": { value: false },
  "-h": { value: false },
  "--version": { value: false },
  "--wizard": { value: false },
  "--completions": { value: true },
  "--log-level": { value: true }
}
const flagsOf: Record<string, Record<string, Flag>> = {
  send: {
    ...builtIn,
    "--output": { value: true },
    "-o": { value: true },
    "--ordered": { value: false },
    "--reorder-buffer": { value: true, integer: true },
    "--concurrency": { value: true, integer: true },
    "-c": { value: true, integer: true },
    "--concurrency-per-origin": { value: true, integer: true },
    "--timeout": { value: true },
    "--deadline": { value: true },
    "--retry": { value: true, integer: true },
    "--rate": { value: true },
    "--rate-per-origin": { value: false },
    "--header": { value: true },
    "-H": { value: true },
    "--fail-fast": { value: false },
    "--max-body-bytes": { value: true, integer: true },
    "--body-budget": { value: true, integer: true },
    "--max-redirects": { value: true, integer: true },
    "--redact": { value: true },
    "--proxy": { value: true },
    "--show-secrets": { value: false },
    "--quiet": { value: false },
    "-q": { value: false },
    "--resume": { value: true },
    "--retry-failed": { value: false },
    "--shard": { value: true },
    ...flagChecks.send
  },
  worker: { ...builtIn, ...flagChecks.worker },
  demo: { ...builtIn, "--quiet": { value: false }, "-q": { value: false } }
}
const longName: Record<string, string> = { "-o": "--output", "-c": "--concurrency", "-H": "--header", "-q": "--quiet" }

/**
 * Checks a subcommand's flags before @effect/cli parses them, for clearer
 * messages than its own: it reports an unknown flag as an unknown argument
 * (naming the flag's value, not the flag) and says "is not a integer".
 * Returns the message for a usage error, or undefined.
 *
 * @since 0.1.0
 * @category running
 */
export const checkFlags = (args: ReadonlyArray<string>): string | undefined => {
  const name = args[0]
  const flags = name === undefined ? undefined : flagsOf[name]
  if (flags === undefined) return undefined
  for (let i = 1; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--") break
    if (!arg.startsWith("-") || arg === "-") continue
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1
    const flagName = eq >= 0 ? arg.slice(0, eq) : arg
    const flag = flags[flagName]
    if (flag === undefined) {
      // Clustered short flags (-qc 10) are left to @effect/cli.
      if (/^-[A-Za-z]{2,}$/.test(arg)) continue
      const near = nearest(flagName, Object.keys(flags).filter((known) => known.startsWith("--")))
      return `${name}: unknown option ${JSON.stringify(flagName)}${near === undefined ? "" : `; did you mean ${near}?`}`
    }
    if (!flag.value) continue
    let value: string | undefined
    if (eq >= 0) value = arg.slice(eq + 1)
    else value = args[++i]
    const label = longName[flagName] ?? flagName
    if (value === undefined) return `${name} ${label} needs a value`
    if (flag.integer === true && !/^[+-]?\d+$/.test(value)) {
      return `${name} ${label}: ${JSON.stringify(value)} is not an integer`
    }
  }
  return undefined
}

/** The edit distance between two names (insertions, deletions, substitutions, adjacent swaps). */
const distance = (a: string, b: string): number => {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1)
      rows[i]![j] = d
    }
  }
  return rows[a.length]![b.length]!
}

/**
 * The known name nearest to a mistyped one, when it is near enough to be
 * what was meant (a few edits, fewer for short names).
 *
 * @since 0.3.0
 * @category running
 */
export const nearest = (typed: string, known: ReadonlyArray<string>): string | undefined => {
  let best: string | undefined
  let bestDistance = Infinity
  for (const name of known) {
    const d = distance(typed.toLowerCase(), name.toLowerCase())
    if (d < bestDistance) {
      best = name
      bestDistance = d
    }
  }
  const bare = typed.replace(/^-+/, "")
  return bestDistance <= Math.max(1, Math.min(3, Math.floor(bare.length / 3))) ? best : undefined
}

const commands = ["send", "demo", "worker", "jobs", "cluster"]

/**
 * `loamy send`'s arguments with a positional `-` (stdin) moved after the
 * flags: @effect/cli stops reading flags at it, so `loamy send - -q` would
 * refuse `-q`.
 *
 * @since 0.3.0
 * @category running
 */
export const stdinLast = (args: ReadonlyArray<string>): ReadonlyArray<string> => {
  if (args[0] !== "send") return args
  const flags = flagsOf["send"]!
  for (let i = 1; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--") return args
    if (arg === "-") {
      return i === args.length - 1 ? args : [...args.slice(0, i), ...args.slice(i + 1), "-"]
    }
    // A flag's value is skipped: `-o -` is stdout, not stdin.
    if (arg.startsWith("-") && !arg.includes("=") && flags[arg]?.value === true) i++
  }
  return args
}

const isHelp = (arg: string) => arg === "--help" || arg === "-h"

const helpOf = (name: "send" | "demo", usageLine: string): HelpDoc.HelpDoc => {
  const sub = name === "send" ? sendCommand : demoCommand
  return HelpDoc.blocks([
    HelpDoc.h1(`loamy ${name}`),
    HelpDoc.h1("USAGE"),
    HelpDoc.p(usageLine),
    CommandDescriptor.getHelp(sub.descriptor, CliConfig.defaultConfig)
  ])
}

const rootHelp = (): HelpDoc.HelpDoc =>
  HelpDoc.blocks([
    HelpDoc.h1("loamy"),
    HelpDoc.p(
      `loamy ${version}: send batches of HTTP requests concurrently and get one JSON result per request, ` +
        "with progress and a summary."
    ),
    HelpDoc.h1("USAGE"),
    HelpDoc.p("$ loamy send [FLAGS] [FILE | -]"),
    HelpDoc.p("$ loamy demo [--quiet]"),
    HelpDoc.p("$ loamy worker --db POSTGRES_URL [--host H] [--port P] [--redis REDIS_URL] [--lock-expiry D]"),
    HelpDoc.p("$ loamy send --cluster POSTGRES_URL --job ID [FLAGS] [FILE | -]"),
    HelpDoc.p("$ loamy jobs prune ID --db POSTGRES_URL"),
    HelpDoc.p("$ loamy cluster demo"),
    HelpDoc.p("$ loamy --help | --version"),
    HelpDoc.h1("COMMANDS"),
    HelpDoc.descriptionList([
      [
        Span.text("send"),
        HelpDoc.p(
          "Send the requests of a JSON array or JSONL file (or stdin) concurrently and write one JSON line per " +
            "response. \"loamy send --help\" lists its flags."
        )
      ],
      [
        Span.text("worker"),
        HelpDoc.p(
          "Run a runner of a cluster on Postgres: it sends the chunks of `loamy send --cluster` runs. " +
            "\"loamy worker --help\" lists its flags."
        )
      ],
      [
        Span.text("jobs prune"),
        HelpDoc.p("Delete a distributed job's stored chunks and results.")
      ],
      [
        Span.text("cluster demo"),
        HelpDoc.p("An embedded Postgres, two local workers and the test server: one batch spread over them.")
      ],
      [
        Span.text("demo"),
        HelpDoc.p(
          "Start the embedded test server on 127.0.0.1, send it a mixed clump with the progress bar, print the " +
            "results and the summary."
        )
      ]
    ])
  ])

const say = (stream: NodeJS.WriteStream, text: string) => Effect.sync(() => stream.write(text.endsWith("\n") ? text : text + "\n"))

/**
 * Parses `process.argv` and runs the command. Help is written here, plain
 * unless stdout is a terminal and `NO_COLOR` is unset, with usage lines that
 * name `loamy`; flags are checked first (see `checkFlags`); the rest is
 * @effect/cli's.
 *
 * @since 0.1.0
 * @category running
 */
export const run = (argv: ReadonlyArray<string>) => {
  const args = stdinLast(argv.slice(2))
  commandLine = argv.slice(2)
  if (args.length === 1 && isHelp(args[0]!)) {
    return say(process.stdout, render(rootHelp(), process.stdout))
  }
  const name = args[0]
  if ((name === "send" || name === "demo") && args.slice(1).some(isHelp) && !args.slice(1).includes("--")) {
    const usageLine = name === "send" ? "$ loamy send [FLAGS] [FILE | -]" : "$ loamy demo [--quiet]"
    return say(process.stdout, render(helpOf(name, usageLine), process.stdout))
  }
  if (name !== undefined && !name.startsWith("-") && !commands.includes(name)) {
    const near = nearest(name, commands)
    return Effect.zipRight(
      say(
        process.stderr,
        `loamy: unknown command ${JSON.stringify(name)}${near === undefined ? "" : `; did you mean ${near}?`}\n` +
          `Run "loamy --help" for the commands.`
      ),
      Effect.fail(new ExitCode({ code: Codes.usage }))
    )
  }
  const problem = checkFlags(args)
  if (problem !== undefined) {
    const hint = name === "send" || name === "demo" ? `loamy ${name} --help` : "loamy --help"
    return Effect.zipRight(
      say(process.stderr, `loamy ${problem}\nRun "${hint}" for the flags.`),
      Effect.fail(new ExitCode({ code: Codes.usage }))
    )
  }
  return runCommand([...argv.slice(0, 2), ...args])
}

/**
 * The exit code of a run (for `signals.runMain`): the code a command asked
 * for, 2 for a usage error (already printed by @effect/cli), 130 or 143 for
 * a run interrupted by SIGINT or SIGTERM, 5 (with the cause printed) for
 * anything unexpected.
 *
 * @since 0.1.0
 * @category running
 */
export const teardown = <A, E>(exit: Exit.Exit<A, E>, signal: StopSignal | undefined): number => {
  if (Exit.isSuccess(exit)) return Codes.ok
  if (Cause.isInterruptedOnly(exit.cause)) return exitCodeOf(signal ?? "SIGINT")
  const failure = Cause.failureOption(exit.cause)
  if (Option.isSome(failure)) {
    const error: unknown = failure.value
    if (error instanceof ExitCode) return error.code
    if (ValidationError.isValidationError(error)) return Codes.usage
  }
  process.stderr.write(`loamy: unexpected failure (a bug in loamy: please report it)\n${Cause.pretty(exit.cause)}\n`)
  return Codes.internal
}
