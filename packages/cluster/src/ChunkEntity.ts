/**
 * The entity that sends one chunk of a distributed batch: a persisted
 * `SendChunk` message carries the chunk's `RequestMap`s and the batch's
 * resolved options, both in their Schema encoding (JSON: effect/cluster
 * stores messages and replies as JSON); the runner that owns the chunk's
 * shard runs the core's send on them unchanged and replies with the
 * `RequestResponse`s, which effect/cluster stores next to the message.
 *
 * The entity id is `<job>/<chunk index>` and the message's primary key a
 * digest of the chunk, so sending the same chunk of a job again (a
 * coordinator that was restarted) finds the stored reply instead of sending
 * the requests again.
 *
 * @since 0.1.0
 */
import { LoamyError, Options, RequestMap, RequestResponse } from "@loamy/core"
import * as Unchecked from "@loamy/core/Unchecked"
import * as ClusterSchema from "effect/cluster/ClusterSchema"
import * as Entity from "effect/cluster/Entity"
import type * as Sharding from "effect/cluster/Sharding"
import * as Effect from "effect/Effect"
import * as HttpClient from "effect/http/HttpClient"
import type * as Layer from "effect/Layer"
import * as Rpc from "effect/rpc/Rpc"
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
 * A chunk of a job: its requests (already checked by the coordinator), the
 * batch's options (`toWireOptions`) and its rate limit, which the runners'
 * `SharedRateLimit` applies.
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
    options: Options.ResolvedSchema,
    rateLimit: Schema.NullOr(Schema.Struct({ limit: Schema.Number, intervalMs: Schema.Number, perOrigin: Schema.Boolean }))
  },
  success: Schema.Array(RequestResponse.RequestResponse),
  error: LoamyError.InvalidOptionsError,
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
 * The options of a batch as a chunk carries them: the resolved options
 * without `rateLimit` (the runners' shared limiter applies it) and
 * `deadline` (`Distributed` refuses it).
 *
 * @since 0.1.0
 * @category encoding
 */
export const toWireOptions = (resolved: Options.Resolved): Options.Resolved =>
  resolved.rateLimit === undefined && resolved.deadlineMs === undefined
    ? resolved
    : { ...resolved, rateLimit: undefined, deadlineMs: undefined }

/**
 * The entity's behaviour on a runner: each chunk is one send of the core
 * (`Unchecked.unsafeSend`: the coordinator checked the requests, the message's
 * schema decoded them) on the runner's `HttpClient`, paced by the
 * `SharedRateLimit` when the job has a rate limit.
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
      SendChunk: ({ payload }) => {
        if (payload.options.failFast) {
          return Effect.fail(
            new LoamyError.InvalidOptionsError({ option: "returnExceptions", detail: "must be true for a chunk" })
          )
        }
        const send = Unchecked.unsafeSend(payload.requests, payload.options).pipe(
          // With failures folded (Distributed refuses returnExceptions: false) no RequestError reaches here.
          Effect.catch((error) => error._tag === "InvalidOptionsError" ? Effect.fail(error) : Effect.die(error))
        )
        return payload.rateLimit === null ? send : Effect.flatMap(
          limits.limit(client, payload.job, payload.rateLimit),
          (limited) => Effect.provideService(send, HttpClient.HttpClient, limited)
        )
      }
    })
  }),
  // A chunk is one message; its entity has nothing to keep once it has replied.
  { maxIdleTime: "10 seconds", concurrency: 1 }
)
