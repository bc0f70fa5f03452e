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
import type * as MessageStorage from "@effect/cluster/MessageStorage"
import * as RunnerAddress from "@effect/cluster/RunnerAddress"
import * as RunnerHealth from "@effect/cluster/RunnerHealth"
import * as Runners from "@effect/cluster/Runners"
import * as RunnerStorage from "@effect/cluster/RunnerStorage"
import type * as Sharding from "@effect/cluster/Sharding"
import * as ShardingConfig from "@effect/cluster/ShardingConfig"
import * as SocketRunner from "@effect/cluster/SocketRunner"
import * as SqlMessageStorage from "@effect/cluster/SqlMessageStorage"
import * as SqlRunnerStorage from "@effect/cluster/SqlRunnerStorage"
import * as NodeClusterSocket from "@effect/platform-node-shared/NodeClusterSocket"
import * as RpcSerialization from "@effect/rpc/RpcSerialization"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as SocketServer from "@effect/platform/SocketServer"
import type * as SqlClient from "@effect/sql/SqlClient"
import type * as SqlError from "@effect/sql/SqlError"
import * as PgClient from "@effect/sql-pg/PgClient"
import type { ConfigError } from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
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
   * Default 35 seconds (@effect/cluster's). Use the same value on every
   * runner.
   */
  readonly shardLockExpiration?: Duration.DurationInput | undefined
  /**
   * `redis://host:port`: share each job's `rateLimit` exactly through Redis.
   * Without it each runner takes `limit / runners` (see `SharedRateLimit`).
   */
  readonly redis?: string | undefined
  /** Sockets per origin for the runner's HTTP client. Default: no limit. */
  readonly connections?: number | undefined
  /**
   * The client the chunks are sent with (a proxy, TLS settings, added
   * headers). Default: loamy's undici client (`loamy/UndiciHttpClient`).
   */
  readonly httpClient?: Layer.Layer<HttpClient.HttpClient> | undefined
  /**
   * How often the runner looks in storage for messages it was not told
   * about (sent while a coordinator did not yet know which runner owns a
   * shard, or to a runner that died). Default 1 second (@effect/cluster's
   * default is 10).
   */
  readonly pollInterval?: Duration.DurationInput | undefined
}

const sqlLayer = (db: string): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, SqlError.SqlError> =>
  PgClient.layer({ url: Redacted.make(db), applicationName: "loamy-cluster" })

const shardingConfig = (options: RunnerOptions): Partial<ShardingConfig.ShardingConfig["Type"]> => {
  const host = options.host ?? os.hostname()
  const port = options.port ?? 34431
  const config: { -readonly [K in keyof ShardingConfig.ShardingConfig["Type"]]?: ShardingConfig.ShardingConfig["Type"][K] } = {
    runnerAddress: Option.some(new RunnerAddress.RunnerAddress({ host, port })),
    runnerListenAddress: options.listenHost === undefined
      ? Option.none()
      : Option.some(new RunnerAddress.RunnerAddress({ host: options.listenHost, port })),
    entityMessagePollInterval: options.pollInterval ?? Duration.seconds(1)
  }
  if (options.shardLockExpiration !== undefined) {
    const expiration = Duration.decode(options.shardLockExpiration)
    config.shardLockExpiration = expiration
    // The runner refreshes its locks at a third of the expiry at most.
    config.shardLockRefreshInterval = Duration.min(Duration.seconds(10), Duration.divide(expiration, 3).pipe(
      Option.getOrElse(() => Duration.seconds(10))
    ))
  }
  return config
}

/**
 * @effect/platform-node's `NodeClusterSocket.layer` with SQL storage, built
 * from the same parts without its Kubernetes health check, which would pull
 * all of undici into the CLI's bundle (runners check each other by ping).
 */
const socketCluster = (
  config: Partial<ShardingConfig.ShardingConfig["Type"]>,
  clientOnly: boolean
): Layer.Layer<
  Sharding.Sharding | Runners.Runners | MessageStorage.MessageStorage,
  SocketServer.SocketServerError | ConfigError,
  SqlClient.SqlClient
> => {
  const transport: Layer.Layer<Sharding.Sharding | Runners.Runners, SocketServer.SocketServerError, any> = clientOnly
    ? Layer.provide(SocketRunner.layerClientOnly, NodeClusterSocket.layerClientProtocol)
    : Layer.provide(SocketRunner.layer, [NodeClusterSocket.layerSocketServer, NodeClusterSocket.layerClientProtocol])
  const health: Layer.Layer<RunnerHealth.RunnerHealth, never, any> = clientOnly
    ? RunnerHealth.layerNoop
    : RunnerHealth.layerPing.pipe(Layer.provide(Runners.layerRpc), Layer.provide(NodeClusterSocket.layerClientProtocol))
  return transport.pipe(
    Layer.provide(health),
    Layer.provideMerge(Layer.orDie(SqlMessageStorage.layer)),
    Layer.provide(Layer.orDie(SqlRunnerStorage.layer)),
    Layer.provide(ShardingConfig.layerFromEnv(config)),
    Layer.provide(RpcSerialization.layerMsgPack)
  ) as Layer.Layer<
    Sharding.Sharding | Runners.Runners | MessageStorage.MessageStorage,
    SocketServer.SocketServerError | ConfigError,
    SqlClient.SqlClient
  >
}

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
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: RunnerOptions
): Layer.Layer<
  Sharding.Sharding | MessageStorage.MessageStorage,
  SqlError.SqlError | SocketServer.SocketServerError | ConfigError
> => {
  const config = shardingConfig(options)
  const sql = sqlLayer(options.db)
  const limits = (options.redis === undefined
    ? SharedRateLimit.layerSplit(countRunners)
    : SharedRateLimit.layerRedis(options.redis, countRunners)).pipe(
      Layer.provide(SqlRunnerStorage.layer),
      Layer.provide(ShardingConfig.layerFromEnv(config)),
      Layer.orDie
    )
  const http = options.httpClient !== undefined
    ? options.httpClient
    : options.connections === undefined
    ? UndiciHttpClient.layer
    : UndiciHttpClient.layerWith({ connections: options.connections })
  const cluster = socketCluster(config, false)
  return ChunkEntity.layer.pipe(
    Layer.provide([limits, http]),
    Layer.provideMerge(cluster),
    Layer.provide(sql)
  ) as Layer.Layer<
    Sharding.Sharding | MessageStorage.MessageStorage,
    SqlError.SqlError | SocketServer.SocketServerError | ConfigError
  >
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
  readonly replyPollInterval?: Duration.DurationInput | undefined
}): Layer.Layer<Sharding.Sharding | SqlClient.SqlClient, SqlError.SqlError | ConfigError> =>
  socketCluster({ entityReplyPollInterval: options.replyPollInterval ?? Duration.millis(100) }, true).pipe(
    Layer.provideMerge(sqlLayer(options.db))
  ) as Layer.Layer<Sharding.Sharding | SqlClient.SqlClient, SqlError.SqlError | ConfigError>
