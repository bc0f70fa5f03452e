/**
 * The layers of a cluster on Postgres: `layer` makes this process a runner
 * (it takes shards, runs the chunks of their entities with loamy's undici
 * client), `layerClient` makes it a coordinator that only sends
 * (`Distributed.send`, `Distributed.streamFrom`).
 *
 * Runners talk to each other over TCP (`host:port`, which every other
 * runner must reach) and share everything else through the database:
 * registrations, shard locks, messages and replies.
 *
 * @since 0.1.0
 */
import * as NodeClusterSocket from "@effect/platform-node-shared/NodeClusterSocket"
import * as NodeCrypto from "@effect/platform-node-shared/NodeCrypto"
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as MessageStorage from "effect/cluster/MessageStorage"
import * as RunnerAddress from "effect/cluster/RunnerAddress"
import * as RunnerHealth from "effect/cluster/RunnerHealth"
import * as Runners from "effect/cluster/Runners"
import * as RunnerStorage from "effect/cluster/RunnerStorage"
import type * as Sharding from "effect/cluster/Sharding"
import * as ShardingConfig from "effect/cluster/ShardingConfig"
import * as SocketRunner from "effect/cluster/SocketRunner"
import * as SqlMessageStorage from "effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "effect/cluster/SqlRunnerStorage"
import type { ConfigError } from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as HttpClient from "effect/http/HttpClient"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Redis from "effect/persistence/Redis"
import * as Redacted from "effect/Redacted"
import * as RpcSerialization from "effect/rpc/RpcSerialization"
import type * as SocketServer from "effect/socket/SocketServer"
import type * as SqlClient from "effect/sql/SqlClient"
import type * as SqlError from "effect/sql/SqlError"
import * as UndiciHttpClient from "loamy/UndiciHttpClient"
import * as os from "node:os"
import * as ChunkEntity from "./ChunkEntity.js"
import * as SharedRateLimit from "./SharedRateLimit.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface RunnerOptions {
  /** The Postgres connection string, `postgres://user:password@host:port/database`. */
  readonly db: string
  /** The host other runners reach this one at. Default: this machine's host name. */
  readonly host?: string | undefined
  /** The port other runners reach this one at. Default 34431. */
  readonly port?: number | undefined
  /** The address to listen on. Default: `host`. */
  readonly listenHost?: string | undefined
  /**
   * How long a dead runner's shards stay locked before another runner takes
   * them (and runs their unfinished chunks again): the failover time.
   * Default 35 seconds (effect/cluster's). Use the same value on every
   * runner.
   */
  readonly shardLockExpiration?: Duration.Input | undefined
  /**
   * `redis://host:port`: share each job's `rateLimit` exactly through Redis
   * (needs the optional peers `@effect/platform-node` and `redis`). Without
   * it each runner takes `limit / runners` (see `SharedRateLimit`).
   */
  readonly redis?: string | undefined
  /**
   * Sockets per origin for the runner's HTTP client, shared by all the
   * chunks it runs at once. Default: loamy's per-call cap, each chunk on
   * sockets capped at its `concurrency`, which chunks with the same
   * `concurrency` share (so a runner's chunks to one origin run at most
   * `concurrency` requests at once between them).
   */
  readonly connections?: number | undefined
  /**
   * The client the chunks are sent with (a proxy, TLS settings, added
   * headers). Default: loamy's undici client (`loamy/UndiciHttpClient`).
   * A client made from loamy's (`HttpClient.mapRequest` and the like) keeps
   * its socket cap and attempt timeouts when the layer also provides loamy's
   * `Transport`: build it with `Layer.provideMerge(UndiciHttpClient.layer)`.
   */
  readonly httpClient?: Layer.Layer<HttpClient.HttpClient> | undefined
  /**
   * How often the runner looks in storage for messages it was not told
   * about (sent while a coordinator did not yet know which runner owns a
   * shard, or to a runner that died). Default 1 second (effect/cluster's
   * default is 10).
   */
  readonly pollInterval?: Duration.Input | undefined
}

type Config = ShardingConfig.ShardingConfig["Service"]

const sqlLayer = (db: string): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError.SqlError> =>
  PgClient.layer({ url: Redacted.make(db), applicationName: "loamy-cluster" })

const shardingConfig = (options: RunnerOptions): Partial<Config> => {
  const host = options.host ?? os.hostname()
  const port = options.port ?? 34431
  const config: { -readonly [K in keyof Config]?: Config[K] } = {
    runnerAddress: Option.some(RunnerAddress.make(host, port)),
    runnerListenAddress: options.listenHost === undefined
      ? Option.none()
      : Option.some(RunnerAddress.make(options.listenHost, port)),
    entityMessagePollInterval: options.pollInterval ?? Duration.seconds(1)
  }
  if (options.shardLockExpiration !== undefined) {
    const expiration = Duration.fromInputUnsafe(options.shardLockExpiration)
    config.shardLockExpiration = expiration
    // The runner refreshes its locks at a third of the expiry at most.
    config.shardLockRefreshInterval = Duration.min(
      Duration.seconds(10),
      Option.getOrElse(Duration.divide(expiration, 3), () => Duration.seconds(10))
    )
  }
  return config
}

/**
 * What runners and coordinators share: the storage on the `SqlClient`, the
 * sharding settings, and the serialization on the sockets, on which they
 * must all agree: NDJSON, the JSON form the messages are stored in too.
 * Effect's schema-binary format (`NodeClusterSocket.layer`'s default) cannot
 * lay out a `RequestResponse` (its body is a union of bytes and any JSON):
 * the runner's reply dies unsent and the sender waits for it forever. A
 * frame holds a whole chunk's reply, so it is not bounded here; the
 * coordinator holds that reply anyway.
 */
const shared = <A, E, R>(
  transport: Layer.Layer<A, E, R>,
  config: Partial<Config>
) =>
  transport.pipe(
    Layer.provideMerge(SqlMessageStorage.layer.pipe(Layer.provide(NodeCrypto.layerDigest))),
    Layer.provide(Layer.orDie(SqlRunnerStorage.layer)),
    Layer.provide([ShardingConfig.layerFromEnv(config), RpcSerialization.layerNdjsonWith({ maxBufferSize: "unbounded" })])
  )

/**
 * @effect/platform-node's `NodeClusterSocket.layer` with SQL storage, built
 * from the same parts without its Kubernetes health check, which would pull
 * all of undici into the CLI's bundle (runners check each other by ping).
 */
const runnerCluster = (config: Partial<Config>): Layer.Layer<
  Sharding.Sharding | Runners.Runners | MessageStorage.MessageStorage,
  SocketServer.SocketServerError | ConfigError,
  SqlClient.SqlClient
> =>
  shared(
    SocketRunner.layer.pipe(
      Layer.provide(RunnerHealth.layerPing.pipe(
        Layer.provide(Runners.layerRpc),
        Layer.provide(NodeClusterSocket.layerClientProtocol)
      )),
      Layer.provide([NodeClusterSocket.layerSocketServer, NodeClusterSocket.layerClientProtocol])
    ),
    config
  )

/** The same for a process that sends and runs nothing: no server, no shards. */
const clientCluster = (config: Partial<Config>): Layer.Layer<
  Sharding.Sharding | Runners.Runners | MessageStorage.MessageStorage,
  ConfigError,
  SqlClient.SqlClient
> => shared(Layer.provide(SocketRunner.layerClientOnly, NodeClusterSocket.layerClientProtocol), config)

/** Runners registered and seen within the lock expiry, for the split rate limit. */
const countRunners = Effect.flatMap(RunnerStorage.RunnerStorage, (storage) => storage.getRunners).pipe(
  Effect.map((runners) => Math.max(1, runners.filter(([, healthy]) => healthy).length)),
  Effect.orElseSucceed(() => 1)
)

/**
 * This process as a runner: registers in the cluster, takes its share of
 * the shards and runs their chunks. It stays a runner while the layer is
 * alive; on a clean stop it hands its shards back at once.
 *
 * With `redis`, building the layer connects to Redis first and fails with a
 * `RedisError`, before it joins the cluster, when it cannot.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: RunnerOptions
): Layer.Layer<
  Sharding.Sharding | MessageStorage.MessageStorage,
  SqlError.SqlError | SocketServer.SocketServerError | ConfigError | Redis.RedisError
> => {
  const config = shardingConfig(options)
  const limits: Layer.Layer<
    SharedRateLimit.SharedRateLimit,
    ConfigError | Redis.RedisError,
    SqlClient.SqlClient
  > = options.redis === undefined
    ? SharedRateLimit.layerSplit(countRunners).pipe(
      Layer.provide(Layer.orDie(SqlRunnerStorage.layer)),
      Layer.provide(ShardingConfig.layerFromEnv(config))
    )
    : SharedRateLimit.layerRedis(options.redis)
  const http = options.httpClient !== undefined
    ? options.httpClient
    : options.connections === undefined
    ? UndiciHttpClient.layer
    : UndiciHttpClient.layerWith({ connections: options.connections })
  return ChunkEntity.layer.pipe(
    Layer.provide(http),
    Layer.provideMerge(runnerCluster(config)),
    // Built before the runner joins the cluster: one that cannot reach its Redis fails without taking shards
    // (their running chunks would move to it and back, and run again).
    Layer.provide(limits),
    Layer.provide(sqlLayer(options.db))
  )
}

/**
 * The cluster's storage alone (a Postgres `SqlClient`), for
 * `Distributed.prune`.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerStorage = (options: {
  readonly db: string
}): Layer.Layer<SqlClient.SqlClient, SqlError.SqlError> => sqlLayer(options.db)

/**
 * This process as a coordinator: it sends chunks and reads their replies
 * through the cluster, and runs none.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerClient = (options: {
  readonly db: string
  /** How often the coordinator reads finished chunks' replies from storage. Default 100 ms. */
  readonly replyPollInterval?: Duration.Input | undefined
}): Layer.Layer<Sharding.Sharding | SqlClient.SqlClient, SqlError.SqlError | ConfigError> =>
  clientCluster({ entityReplyPollInterval: options.replyPollInterval ?? Duration.millis(100) }).pipe(
    Layer.provideMerge(sqlLayer(options.db))
  )
