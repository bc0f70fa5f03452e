/**
 * `loamy send`'s command line: its argument, its flags and what they ask
 * for (`send.SendConfig`). The flags of the core's options (concurrency,
 * timeout, retry, fail-fast, ...) come from the core's option table
 * (`optionFlags.ts`); the flags that only the CLI has (where the output goes,
 * resuming, sharding, what is printed) are declared here, once. The sending itself is in
 * `send.ts`, loaded when the command runs.
 *
 * @internal
 */
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as nodePath from "node:path"
import * as optionFlags from "./optionFlags.js"
import type { SendConfig } from "./send.js"
import { parseShard } from "./shard.js"

/**
 * How the command's handler ends: a usage error (message on stderr, exit 2)
 * or the exit code a run asks for. Passed in by Cli.ts, which owns the exit
 * code error.
 *
 * @internal
 */
export interface Exits<X> {
  readonly usage: (message: string) => Effect.Effect<never, X>
}

const file = Argument.String("FILE").pipe(
  Argument.withDescription(
    "A JSON array or JSONL file of requests (url, httpOp or http_op, body or text, form, bytes, multipart, " +
      "queryParams or query_params, headers, options: timeout, retry, maxBodyBytes, saveTo). \"-\" or nothing reads stdin."
  ),
  Argument.optional
)

/**
 * The flags only the CLI has.
 *
 * @internal
 */
export const cliFlags = {
  output: Flag.String("output").pipe(
    Flag.withMetavar("FILE"),
    Flag.withAlias("o"),
    Flag.withDescription(
      "Write the JSONL responses to this file instead of stdout. With --resume, the records go to the --resume file: " +
        "-o may name only that file."
    ),
    Flag.optional
  ),
  ordered: Flag.Boolean("ordered").pipe(
    Flag.withDescription(
      "Write responses in input order. A response that finished before an earlier one waits in a reorder buffer " +
        "(--reorder-buffer) while the run goes on, so a slow origin delays the output, not the requests to other " +
        "origins. Default: completion order, each line with its index."
    ),
    Flag.withDefault(false)
  ),
  showSecrets: Flag.Boolean("show-secrets").pipe(
    Flag.withDescription("Show secret header values instead of <redacted>."),
    Flag.withDefault(false)
  ),
  quiet: Flag.Boolean("quiet").pipe(
    Flag.withAlias("q"),
    Flag.withDescription("No progress bar and no summary on stderr."),
    Flag.withDefault(false)
  ),
  resume: Flag.String("resume").pipe(
    Flag.withMetavar("FILE"),
    Flag.withDescription(
      "FILE is the output: read the records already in it, send only the requests whose index is missing, and " +
        "append their records to it (a missing FILE is created). A torn last line (a run killed mid-write) is cut " +
        "away and its request sent again. -o may name the same file, no other. Refused (exit 2, nothing sent or " +
        "changed) when FILE is not loamy output for this input: a line that is not a record, an index beyond the " +
        "input (or outside --shard), or a record whose requestMap is not the input's request at its index (URL, " +
        "method, query, header names and body are compared). One process per FILE at a time: a run holds the lock " +
        "FILE.loamy-lock (its pid and host) and a second run on FILE is refused (exit 3, nothing sent); a lock left " +
        "by a run that was killed is taken over once its process is gone."
    ),
    Flag.optional
  ),
  retryFailed: Flag.Boolean("retry-failed").pipe(
    Flag.withDescription(
      "With --resume: also send again the requests whose record has an error. Their old records are removed first " +
        "(FILE is rewritten next to itself and renamed over it), so FILE always holds at most one record per index."
    ),
    Flag.withDefault(false)
  ),
  shard: Flag.String("shard").pipe(
    Flag.withMetavar("i/n"),
    Flag.withDescription(
      "Send only the requests whose index k (0-based among the input's requests) has k mod n = i; the others are " +
        "skipped (not sent, not written). Records keep their index and line in the whole input. 0 <= i < n."
    ),
    Flag.optional
  )
}

/**
 * `loamy send`'s description: what it writes, and the rules users need.
 *
 * @internal
 */
export const description = [
  "Send the requests of a JSON array or JSONL file (or stdin) concurrently and write one JSON line per response, " +
  "RequestResponse's own encoding plus its place: index (0-based position), line (JSONL only), requestMap, " +
  "statusCode (0 when no response arrived), headers, body, error ({_tag, message, ...fields}, absent when none), " +
  "elapsedMs, attempts, saved (a download's path, bytes and sha256).",
  "A JSON array is checked whole before anything is sent. JSONL is streamed line by line (memory bounded by " +
  "--concurrency); a line that is not a valid request is not sent and gets its own record with an " +
  "InvalidInputError naming the line and field.",
  "Bodies: body is JSON; text is sent as it is (text/plain); form is a URL-encoded form from an object of " +
  "strings or arrays of strings; bytes is base64 (application/octet-stream); multipart is a list of parts, " +
  "{name, value} fields and {name, path} or {name, bytes} files (filename and contentType optional), files " +
  "read from disk as they are sent. A Content-Type in headers wins, except for multipart. A file that cannot " +
  "be read is that request's RequestBodyError. Example line: {\"url\": \"/upload\", \"httpOp\": \"POST\", " +
  "\"multipart\": [{\"name\": \"title\", \"value\": \"Q3\"}, {\"name\": \"file\", \"path\": \"report.csv\"}]} " +
  "with --base-url https://api.example.com.",
  "A request's options (timeout, retry, maxBodyBytes) override the flags for that request, in the flags' " +
  "grammar: {\"url\": \"https://example.com/slow\", \"httpOp\": \"GET\", \"options\": {\"timeout\": \"2m\", " +
  "\"retry\": 3}}. A url without a scheme (/users/1) is joined to --base-url and refused without it. " +
  "--fail-on 5xx,404 makes those statuses an HttpStatusError (exit 1; --fail-fast stops at the first).",
  "Numbers go both ways digit for digit: 12345678901234567890 in a request body is sent, and in a response " +
  "body written, as it is. JSON nested deeper than 1,000 levels is not read (a response's BodyDecodeError, a " +
  "request line refused on its field body). Error records name URLs by origin and path, never the query " +
  "string or credentials.",
  "HTTP/2 and TLS: --http2 offers HTTP/2 to https origins, and one that speaks it gets one connection carrying " +
  "every request at once (one that does not keeps HTTP/1.1); --ca FILE trusts the certificate authorities in " +
  "that PEM file, and only them, in place of Node's: \"loamy send --http2 --ca company-ca.pem requests.jsonl\".",
  "Values: DURATION is milliseconds (500) or 500ms, 5s, 1.5m, 2h, 5 seconds, Infinity for no bound; N/INTERVAL " +
  "is a count per DURATION (10/1s, 100/500ms, 5/s); N and BYTES are whole numbers. The options' values are " +
  "checked before anything is sent: a wrong one is a usage error naming its flag.",
  "Resuming: \"loamy send --resume out.jsonl in.jsonl\" can be run again after any interruption (a kill, a " +
  "crash, Ctrl-C, --fail-fast, a deadline, a full disk): each run sends only what out.jsonl lacks and " +
  "appends to it, and once a run completes out.jsonl holds exactly one record per request. Add " +
  "--retry-failed to send the failed ones again. Works with JSONL and JSON arrays, files and stdin (JSONL " +
  "on stdin is read up to the file's largest index, and checked, before anything is sent).",
  "Interrupting: on Ctrl-C (SIGINT) or SIGTERM, loamy sends nothing more, abandons the requests in flight " +
  "(they get no record), writes every response it has received, says how many requests were sent and " +
  "records written, prints the --resume command that completes the run, and exits 130 (SIGINT) or 143 " +
  "(SIGTERM). A second signal stops it at once.",
  "Downloads: \"loamy send --save-dir files --save-name '{index}-{name}' urls.jsonl\" writes each 2xx body to " +
  "a file instead of the record (a request's own options.saveTo names its file): streamed with bounded memory, written " +
  "as NAME.loamy-part and renamed when whole; the record's saved holds path, bytes and sha256, and body is " +
  "null. Running it again resumes a partial file with a Range request (If-Range with its ETag); a file that " +
  "cannot be written is that request's DownloadError. --max-body-bytes bounds each file.",
  "Sharding: \"--shard i/n\" on n processes (or machines) splits one input between them, each sending every " +
  "n-th request; with \"--resume out-i.jsonl\" each shard resumes on its own, and the n files together hold " +
  "every index once.",
  "Cookies: \"loamy send --cookies -c 1 --ordered session.jsonl\" keeps one cookie jar for the run, so a " +
  "login's Set-Cookie goes with the requests after it (and across redirects), to its host and path only.",
  "Secrets: the values of secret headers (Authorization, Cookie, Set-Cookie, Proxy-Authorization, X-Api-Key, " +
  "X-Auth-Token and --redact ones) are <redacted> in every record's requestMap and headers, and replaced " +
  "wherever they appear in bodies and errors. A line that is not a valid request is shown without any " +
  "header value, query parameter value, secret-named field, URL userinfo or query string, and a line that " +
  "is not JSON is not shown at all; messages on stderr never hold them either. --show-secrets shows them. " +
  "The credentials of --proxy are never shown.",
  "Exit codes: 0 every response came back without error; 1 some failed (an error, a bad JSONL line, or " +
  "--fail-fast stopped the run; with --resume, any failed record in the file); 2 bad input or usage " +
  "(nothing sent); 3 another run holds the --resume file (nothing sent); 4 the output could not be " +
  "written (a full disk, an I/O error: the run stopped, requests may have been sent; the message says how " +
  "many, and how many records were written); 5 loamy itself failed (a bug; the message says the same); " +
  "130 interrupted by SIGINT (Ctrl-C); 143 by SIGTERM."
].join("\n\n")

/**
 * `loamy send`'s argument and flags: the core's options', the CLI's own and
 * `extra` (the cluster's).
 *
 * @internal
 */
export const flagsWith = <Extra extends Command.Command.Config>(extra: Extra) => {
  const { ordered, output, ...rest } = cliFlags
  return { file, output, ordered, options: optionFlags.flags, ...rest, ...extra }
}

type Parsed = Command.Command.Config.Infer<ReturnType<typeof flagsWith<{}>>>

/**
 * What the flags ask for, checked as far as the command line can be (the
 * options' values are the core's to check, when the run starts): a usage
 * error names the flag. `argv` is the command line after `loamy`, for the
 * command that completes a run stopped short.
 *
 * @internal
 */
export const toConfig = <X>(
  flags: Parsed,
  argv: ReadonlyArray<string>,
  { usage }: Exits<X>
): Effect.Effect<SendConfig, X> =>
  Effect.gen(function*() {
    const options = optionFlags.toOptions(flags.options, (warning) => process.stderr.write(`loamy: warning: ${warning}\n`))
    if (typeof options === "string") return yield* usage(options)
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
      failFast: options.returnExceptions === false,
      quiet: flags.quiet,
      showSecrets: flags.showSecrets,
      options,
      selection: resume === undefined && shard === undefined
        ? undefined
        : { resume, retryFailed: flags.retryFailed, shard },
      argv
    }
  })
