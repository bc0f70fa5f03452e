/**
 * `loamy stats FILE...`: its argument, flags and help. The work is in
 * `statsRun.ts`, loaded when the command runs.
 *
 * @internal
 */
import * as Argument from "effect/cli/Argument"
import * as Flag from "effect/cli/Flag"

/** @internal */
export const flags = {
  files: Argument.String("FILE").pipe(
    Argument.withDescription(
      "Output files of loamy send (JSONL records), read in this order; \"-\" reads stdin. Shards and resumed " +
        "runs together: a record whose index was already read replaces the earlier one."
    ),
    Argument.atLeast(1)
  ),
  json: Flag.Boolean("json").pipe(
    Flag.withDescription(
      "Print one JSON object instead of the table: files, records, superseded, badLines, requests, ok, failed, " +
        "statuses, errors, latencyMs ({count, min, mean, p50, p90, p95, p99, max}, null when nothing was sent) " +
        "and origins (the same counts by origin)."
    ),
    Flag.withDefault(false)
  )
}

/** @internal */
export const description = [
  "Print the summary of a run from its output files: requests, ok and failed; counts by status and by error " +
  "tag; latency percentiles (elapsedMs of the requests that were sent, nearest rank, in milliseconds); and the " +
  "same per origin (scheme, host and port only). Several files make one summary: the shards of a --shard run, " +
  "or the files of a run and its resumed runs.",
  "The files are read line by line (memory holds one line and a few bytes per request, never a file). A line " +
  "that is not a record is skipped and reported on stderr by file and line number, saying what is wrong, " +
  "never what it holds.",
  "Exit codes: 0 every line was a record; 1 some were not (the summary is still printed); 2 a file could not " +
  "be read (nothing printed)."
].join("\n\n")

/** @internal */
export const examples = [
  { command: "loamy stats out.jsonl", description: "The summary of a run" },
  { command: "loamy stats out-0.jsonl out-1.jsonl --json", description: "Two shards as one, for machines" }
]
