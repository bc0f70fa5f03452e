/**
 * The entity that sends one chunk of a distributed batch: a persisted
 * `SendChunk` message carries the chunk's `RequestMap`s (in their Schema
 * encoding) and the batch's options; the runner that owns the chunk's shard
 * runs `Clump.send` on them unchanged and replies with the
 * `RequestResponse`s, which `@effect/cluster` stores next to the message.
 *
 * The entity id is `<job>/<chunk index>` and the message's primary key a
 * digest of the chunk, so sending the same chunk of a job again (a
 * coordinator that was restarted) finds the stored reply instead of sending
 * the requests again.
 *
 * @since 0.1.0
 */
import * as ClusterSchema from "@effect/cluster/ClusterSchema"
import * as Entity from "@effect/cluster/Entity"
import type * as Sharding from "@effect/cluster/Sharding"
import * as HttpClient from "@effect/platform/HttpClient"
import * as Rpc from "@effect/rpc/Rpc"
import { Clump, LoamyError, Options, RequestMap, RequestResponse } from "@loamy/core"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as SharedRateLimit from "./SharedRateLimit.js"

/**
 * The name of the entity type in the cluster's storage.
 *
 * @since 0.1.0
 * @category constants
 */
export const entityType = "LoamyChunk"

/**
 * The entity id of a job's chunk: `<job>/<index>`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const entityId = (job: string, index: number): string => `${job}/${index}`

/**
 * A chunk of a job: its requests (already checked by the coordinator) and the
 * batch's options in their JSON form (`WireOptions`).
 *
 * @since 0.1.0
 * @category rpcs
 */
export const SendChunk = Rpc.make("SendChunk", {
  payload: {
    job: Schema.String,
    index: Schema.Number,
    /** A digest of the chunk's requests and options: a chunk that changed between two runs of a job is sent again. */
    key: Schema.String,
    requests: Schema.Array(RequestMap.RequestMap),
    options: Schema.Unknown,
    rateLimit: Schema.NullOr(Schema.Struct({ limit: Schema.Number, intervalMs: Schema.Number, perOrigin: Schema.Boolean }))
  },
  success: Schema.Array(RequestResponse.RequestResponse),
  error: Schema.Union(LoamyError.InvalidInputError, LoamyError.InvalidOptionsError),
  primaryKey: ({ key }) => key
})

/**
 * The chunk entity. Its messages are persisted (`annotateRpcs`: annotating
 * the entity alone with `Persisted` would store nothing), so a chunk whose
 * runner dies is run again by the runner that takes over its shard, and a
 * finished chunk's reply stays in storage until its job is pruned.
 *
 * @since 0.1.0
 * @category entities
 */
export const ChunkEntity = Entity.make(entityType, [SendChunk]).annotateRpcs(ClusterSchema.Persisted, true)

/**
 * The options of a batch as they travel: what `Options.toOptions` gives,
 * with durations in milliseconds and no timeout written as 2³¹ ms (JSON has
 * no Infinity; the core takes a bound past its longest timer as none). `deadline` and `returnExceptions: false` are refused by
 * `sendDistributed`; `rateLimit` is taken out and applied by the runners'
 * shared limiter.
 *
 * @since 0.1.0
 * @category encoding
 */
export const toWireOptions = (resolved: Options.Resolved): Record<string, unknown> => {
  const options: Record<string, unknown> = { ...Options.toOptions(resolved) }
  // JSON has no Infinity: a bound past the longest timer is no bound to the core too.
  if (options["timeout"] === Infinity) options["timeout"] = 2 ** 31
  delete options["rateLimit"]
  delete options["deadline"]
  return options
}

/**
 * The entity's behaviour on a runner: each chunk is one `Clump.send` on the
 * runner's `HttpClient`, paced by the `SharedRateLimit` when the job has a
 * rate limit.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<
  never,
  never,
  HttpClient.HttpClient | SharedRateLimit.SharedRateLimit | Sharding.Sharding
> = ChunkEntity.toLayer(
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const limits = yield* SharedRateLimit.SharedRateLimit
    return ChunkEntity.of({
      SendChunk: ({ payload }) =>
        Effect.suspend(() => {
          const decoded = Options.decode(payload.options)
          if (Either.isLeft(decoded)) return Effect.fail(decoded.left)
          if (decoded.right.failFast) {
            return Effect.fail(
              new LoamyError.InvalidOptionsError({ option: "returnExceptions", detail: "must be true for a chunk" })
            )
          }
          return Effect.flatMap(
            payload.rateLimit === null ? Effect.succeed(client) : limits.limit(client, payload.job, payload.rateLimit),
            (limited) =>
              Effect.provideService(
                // Checked by the coordinator and decoded by the message's schema; with failures folded
                // (sendDistributed refuses returnExceptions: false) no RequestError reaches here.
                Effect.orDie(Clump.unsafeSend(payload.requests, decoded.right)),
                HttpClient.HttpClient,
                limited
              )
          )
        })
    })
  }),
  // A chunk is one message; its entity has nothing to keep once it has replied.
  { maxIdleTime: "10 seconds", concurrency: 1 }
)
