/**
 * `--shard i/n`: which request lines one of n processes sends. No imports, so
 * the flag is checked without loading the commands' machinery.
 *
 * @internal
 */

/** Shard `index` of `count` (0 <= index < count). @internal */
export interface Shard {
  readonly index: number
  readonly count: number
}

/**
 * Parses `i/n` (integers, 0 <= i < n). Returns the shard, or a message saying
 * what is wrong.
 *
 * @internal
 */
export const parseShard = (text: string): Shard | string => {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(text)
  if (match === null) return `${JSON.stringify(text)} is not i/n (two integers, e.g. 0/4)`
  const index = Number(match[1])
  const count = Number(match[2])
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(count)) return `${JSON.stringify(text)}: numbers too large`
  if (count < 1) return `${JSON.stringify(text)}: n must be at least 1`
  if (index >= count) {
    return `${JSON.stringify(text)}: i must be between 0 and n-1 (shards are numbered from 0, e.g. 0/${count} to ${
      count - 1
    }/${count})`
  }
  return { index, count }
}

/** Whether the request at `index` (0-based among request lines) belongs to `shard`. @internal */
export const inShard = (shard: Shard, index: number): boolean => index % shard.count === shard.index

/** How many of the indices 0..size-1 belong to `shard`. @internal */
export const shardSize = (shard: Shard, size: number): number =>
  size <= shard.index ? 0 : Math.floor((size - 1 - shard.index) / shard.count) + 1
