/**
 * Sending one batch over the runners of a cluster: the requests are cut into
 * chunks, each chunk is a persisted message to its own `ChunkEntity`, and
 * the responses come back in input order, exactly one per request.
 *
 * ```ts
 * import { Distributed, Runner } from "@loamy/cluster"
 * import { Clump } from "@loamy/core"
 * import { Effect } from "effect"
 *
 * const responses = await Distributed.send(Clump.make(requests), { job: "nightly-2026-01-01", chunkSize: 500 }).pipe(
 *   Effect.provide(Runner.layerClient({ db: "postgres://loamy@db.internal/loamy" })),
 *   Effect.runPromise
 * )
 * ```
 *
 * @since 0.1.0
 */
import { type Clump, LoamyError, Options, RequestMap, RequestResponse } from "@loamy/core"
import type * as ClusterError from "effect/cluster/ClusterError"
import type * as Sharding from "effect/cluster/Sharding"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SqlClient from "effect/sql/SqlClient"
import type * as SqlError from "effect/sql/SqlError"
import * as Stream from "effect/Stream"
import { createHash } from "node:crypto"
import * as ChunkEntity from "./ChunkEntity.js"

/**
 * How a batch is spread.
 *
 * @since 0.1.0
 * @category models
 */
export interface DistributedOptions {
  /**
   * The job's id: letters, digits, `.`, `_`, `-`, `:` (at most 200). Running
   * the same job again returns the stored results of the chunks that
   * finished and sends only the others.
   */
  readonly job: string
  /** Requests per chunk (one message, run by one runner). Default 500. */
  readonly chunkSize?: number | undefined
  /**
   * Chunks sent and not yet answered at once; also bounds the coordinator's
   * memory (at most this many chunks of requests and responses are held).
   * Default 16.
   */
  readonly parallel?: number | undefined
}

/**
 * A distributed batch that could not give one result per request: the
 * cluster failed (storage unreachable, a message that could not be saved), or
 * a chunk's reply or the whole output did not have one response per request.
 * Re-running the same job resumes it.
 *
 * @since 0.1.0
 * @category errors
 */
export class DistributedError extends Schema.TaggedError<DistributedError>()(
  "DistributedError",
  {
    reason: Schema.Literals(["Cluster", "MissingResults"]),
    job: Schema.String,
    detail: Schema.String,
    cause: Schema.optional(Schema.Defect())
  }
) {
  override get message(): string {
    return `job ${this.job}: ${this.detail}`
  }
}

const jobPattern = /^[A-Za-z0-9._:-]{1,200}$/

const decodeOptions = (
  options: Clump.Options | Options.Resolved | undefined,
  distributed: DistributedOptions
): Result.Result<{ resolved: Options.Resolved; chunkSize: number; parallel: number }, LoamyError.InvalidOptionsError> => {
  const invalid = (option: string, detail: string) => Result.fail(new LoamyError.InvalidOptionsError({ option, detail }))
  if (typeof distributed.job !== "string" || !jobPattern.test(distributed.job)) {
    return invalid("job", `must be 1 to 200 of A-Z a-z 0-9 . _ : -, got ${JSON.stringify(distributed.job)}`)
  }
  const chunkSize = distributed.chunkSize ?? 500
  if (!Number.isInteger(chunkSize) || chunkSize < 1) return invalid("chunkSize", `must be a whole number of 1 or more`)
  const parallel = distributed.parallel ?? 16
  if (!Number.isInteger(parallel) || parallel < 1) return invalid("parallel", `must be a whole number of 1 or more`)
  const decoded = Options.decode(options)
  if (Result.isFailure(decoded)) return Result.fail(decoded.failure)
  const resolved = decoded.success
  if (resolved.failFast) {
    return invalid("returnExceptions", "must be true for a distributed batch (each chunk folds its failures)")
  }
  if (resolved.proxy !== undefined) {
    return invalid(
      "proxy",
      "is not sent to the runners (its credentials would be stored with every chunk): give the runners a client " +
        "that uses it (Runner.layer's httpClient)"
    )
  }
  if (resolved.deadlineMs !== undefined) {
    return invalid("deadline", "is not supported for a distributed batch (a chunk may run again after a runner dies)")
  }
  return Result.succeed({ resolved, chunkSize, parallel })
}

const digest = (requests: ReadonlyArray<RequestMap.RequestMap>, wire: unknown, rate: unknown): string =>
  createHash("sha256").update(JSON.stringify([requests, wire, rate])).digest("base64url").slice(0, 22)

/**
 * Sends the requests of any stream over the cluster's runners and emits each
 * response with its index, in input order, as the chunks finish. Items are
 * checked as `Clump.streamFrom` checks them (request objects, or JSON text);
 * a bad item is not sent and gets a `RequestResponse.Refused` response (its
 * `error` an `InvalidInputError`; narrow with `RequestResponse.isRefused`).
 *
 * Memory is bounded by `parallel × chunkSize`, whatever the input's size.
 * The stream fails with a `DistributedError` rather than end short: it
 * checks that every chunk's reply has one response per request sent, and
 * that as many responses were emitted as items were read.
 *
 * `rateLimit` is applied by the runners' `SharedRateLimit`; `deadline` and
 * `returnExceptions: false` are refused.
 *
 * @since 0.1.0
 * @category sending
 */
export const streamFrom = <E, R>(
  requests: Stream.Stream<unknown, E, R>,
  options: Clump.Options & DistributedOptions
): Stream.Stream<
  Clump.Indexed<unknown, RequestResponse.Refused>,
  E | LoamyError.InvalidOptionsError | DistributedError,
  R | Sharding.Sharding
> => distribute(requests, options, checkItem)

/** A stream item checked as `Clump.streamFrom` checks it (relative URLs joined to `baseUrl`): a request, or its refusal. */
const checkItem = (
  item: unknown,
  index: number,
  resolved: Options.Resolved
): Result.Result<RequestMap.RequestMap, RequestResponse.Refused> =>
  Result.mapError(RequestMap.validateItem(item, index, resolved), (error) => RequestResponse.refused(item, error))

/** Requests checked before the stream (`send`): nothing to refuse. */
const checkedAlready = (item: RequestMap.RequestMap): Result.Result<RequestMap.RequestMap> => Result.succeed(item)

const distribute = <T, X, E, R>(
  requests: Stream.Stream<T, E, R>,
  options: Clump.Options & DistributedOptions,
  check: (item: T, index: number, resolved: Options.Resolved) => Result.Result<RequestMap.RequestMap, X>
): Stream.Stream<
  Clump.Indexed<unknown, X>,
  E | LoamyError.InvalidOptionsError | DistributedError,
  R | Sharding.Sharding
> => {
  const { chunkSize: _c, job, parallel: _p, ...clumpOptions } = options
  const decoded = decodeOptions(clumpOptions, options)
  if (Result.isFailure(decoded)) return Stream.fail(decoded.failure)
  const { chunkSize, parallel, resolved } = decoded.success
  const wire = ChunkEntity.toWireOptions(resolved)
  const rate = resolved.rateLimit === undefined ? null : {
    limit: resolved.rateLimit.limit,
    intervalMs: resolved.rateLimit.intervalMs,
    perOrigin: resolved.rateLimit.perOrigin
  }
  const cluster = (detail: string) => (cause: unknown) =>
    new DistributedError({ reason: "Cluster", job, detail: `${detail}: ${describe(cause)}`, cause })
  return Stream.unwrap(Effect.gen(function*() {
    const client = yield* ChunkEntity.ChunkEntity.client
    let read = 0
    let emitted = 0
    const sendChunk = (items: ReadonlyArray<T>, chunkIndex: number) =>
      Effect.suspend(() => {
        const first = chunkIndex * chunkSize
        const out = new Array<Clump.Indexed<unknown, X>>(items.length)
        const sent: Array<RequestMap.RequestMap> = []
        const positions: Array<number> = []
        let position = 0
        for (const item of items) {
          const index = first + position
          const checked = check(item, index, resolved)
          if (Result.isFailure(checked)) out[position] = { index, response: checked.failure }
          else {
            sent.push(checked.success)
            positions.push(position)
          }
          position++
        }
        if (sent.length === 0) return Effect.succeed(out)
        return client(ChunkEntity.entityId(job, chunkIndex)).SendChunk({
          job,
          index: chunkIndex,
          key: digest(sent, wire, rate),
          requests: sent,
          options: wire,
          rateLimit: rate
        }).pipe(
          Effect.mapError((error: ClientError) =>
            error._tag === "InvalidOptionsError" ? error : cluster(`chunk ${chunkIndex}`)(error)
          ),
          Effect.flatMap((responses) => {
            if (responses.length !== sent.length) {
              return Effect.fail(
                new DistributedError({
                  reason: "MissingResults",
                  job,
                  detail: `chunk ${chunkIndex} came back with ${responses.length} responses for ${sent.length} requests`
                })
              )
            }
            for (let i = 0; i < responses.length; i++) {
              out[positions[i]!] = { index: first + positions[i]!, response: responses[i]! }
            }
            return Effect.succeed(out)
          })
        )
      })
    const total = Effect.suspend(() =>
      emitted === read
        ? Effect.void
        : Effect.fail(
          new DistributedError({
            reason: "MissingResults",
            job,
            detail: `read ${read} requests but got ${emitted} responses`
          })
        )
    )
    return requests.pipe(
      Stream.tap(() => Effect.sync(() => read++)),
      Stream.grouped(chunkSize),
      Stream.mapEffect(sendChunk, { concurrency: parallel }),
      Stream.flattenIterable,
      Stream.tap(() => Effect.sync(() => emitted++)),
      Stream.concat(Stream.fromEffectDrain(total))
    )
  }))
}

/** What the entity's client fails with: the cluster's errors and the chunk's refusals. */
type ClientError =
  | ClusterError.MailboxFull
  | ClusterError.AlreadyProcessingMessage
  | ClusterError.PersistenceError
  | ClusterError.EntityNotAssignedToRunner
  | LoamyError.InvalidOptionsError

const describe = (cause: unknown): string =>
  typeof cause === "object" && cause !== null && "message" in cause ? String(cause.message) : String(cause)

/**
 * Sends a clump over the cluster's runners and returns one `RequestResponse`
 * per request, in input order (see `streamFrom`). The requests are checked
 * first, as `Clump.send` does: a bad one fails the call before anything is
 * sent.
 *
 * @since 0.1.0
 * @category sending
 */
export const send = <E>(
  clump: Clump.Clump<E>,
  options: DistributedOptions
): Effect.Effect<
  ReadonlyArray<RequestResponse.RequestResponse>,
  LoamyError.InvalidInputError | LoamyError.InvalidOptionsError | DistributedError,
  Sharding.Sharding
> =>
  Effect.suspend((): Effect.Effect<
    ReadonlyArray<RequestResponse.RequestResponse>,
    LoamyError.InvalidInputError | LoamyError.InvalidOptionsError | DistributedError,
    Sharding.Sharding
  > => {
    const base = Options.isResolved(clump.options) ? Options.toOptions(clump.options) : clump.options
    const checked = RequestMap.validateAll(clump.requests, { baseUrl: baseUrlOf(base) })
    if (Result.isFailure(checked)) return Effect.fail(checked.failure)
    const results = new Array<RequestResponse.RequestResponse>(checked.success.length)
    return Stream.runForEach(
      distribute(Stream.fromIterable(checked.success), { ...base, ...options }, checkedAlready),
      ({ index, response }) => Effect.sync(() => {
        results[index] = response
      })
    ).pipe(Effect.as(results as ReadonlyArray<RequestResponse.RequestResponse>))
  })

/** The clump's `baseUrl` when it is a valid one (the options are checked, and refused, as the batch starts). */
const baseUrlOf = (options: Clump.Options): string | undefined => {
  const decoded = Options.decode({ baseUrl: options.baseUrl })
  return Result.isSuccess(decoded) ? decoded.success.baseUrl : undefined
}

/**
 * Deletes what the cluster's storage holds for a job (its chunks' messages
 * and replies): the cluster never prunes them itself. Returns the number of
 * messages deleted. Running the job again afterwards sends everything again.
 *
 * @since 0.1.0
 * @category storage
 */
export const prune = (job: string): Effect.Effect<number, SqlError.SqlError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()
    const pattern = job.replace(/[\\%_]/g, (c) => `\\${c}`) + "/%"
    const ids = sql`SELECT id FROM cluster_messages WHERE entity_type = ${ChunkEntity.entityType} AND entity_id LIKE ${pattern}`
    return yield* sql.withTransaction(Effect.gen(function*() {
      yield* sql`DELETE FROM cluster_replies WHERE request_id IN (${ids})`
      const rows = yield* sql<{ count: string | number }>`WITH deleted AS (
        DELETE FROM cluster_messages WHERE entity_type = ${ChunkEntity.entityType} AND entity_id LIKE ${pattern} RETURNING 1
      ) SELECT count(*) AS count FROM deleted`
      return Number(rows[0]?.count ?? 0)
    }))
  })
