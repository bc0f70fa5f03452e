/**
 * One loamy batch across many machines, on `effect/cluster` with Postgres.
 *
 * @since 0.1.0
 */

/**
 * @since 0.1.0
 */
export * as ChunkEntity from "./ChunkEntity.js"

/**
 * @since 0.1.0
 */
export * as Distributed from "./Distributed.js"

/**
 * @since 0.1.0
 */
export * as Runner from "./Runner.js"

/**
 * @since 0.1.0
 */
export * as SharedRateLimit from "./SharedRateLimit.js"
