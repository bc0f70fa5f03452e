/**
 * The `rateLimit` option: at most `limit` starts in any span of `interval`,
 * one log for the call or one per origin. A sliding log, not fixed windows:
 * with fixed windows a burst at the end of one window and another at the
 * start of the next put `2 × limit` starts inside one interval.
 *
 * The log is the last `limit` start times, in a ring. A start is given the
 * earliest time that is at least `interval` (plus a margin) after the
 * `limit`-th start before it, and waits until then; starts are given their
 * times first come, first served, so nothing waits for ever behind later
 * arrivals. The margin (5% of the interval, at most 100 ms) covers what
 * lies between a start here and its arrival at the server (a new
 * connection's handshake, a busy event loop, a client's first request): the
 * bound holds as the server measures it, not only as this process does.
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { ResolvedRateLimit } from "../Options.js"

/** The margin added to the interval (see above). @internal */
export const marginMs = (intervalMs: number): number => Math.min(intervalMs / 20, 100)

/**
 * One sliding log: the times of the last `limit` starts, oldest at `next`
 * once there are that many (it grows to `limit` as starts come, so a large
 * limit costs only the starts made).
 */
interface Log {
  readonly starts: Array<number>
  next: number
}

const makeLog = (): Log => ({ starts: [], next: 0 })

/** Waits until the clock reads `at` or later (a timer may fire a little early). */
const sleepUntil = (at: number): Effect.Effect<void> =>
  Effect.flatMap(Clock.currentTimeMillis, (now) =>
    now >= at ? Effect.void : Effect.andThen(Effect.sleep(Math.max(1, at - now)), sleepUntil(at)))

/** Waits for a start for `origin`; undefined when there is no limit. @internal */
export const makeLimiter = (
  rateLimit: ResolvedRateLimit | undefined
): ((origin: string) => Effect.Effect<void>) | undefined => {
  if (rateLimit === undefined) return undefined
  const { limit } = rateLimit
  const spacing = rateLimit.intervalMs + marginMs(rateLimit.intervalMs)
  const start = (log: Log): Effect.Effect<void> =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const starts = log.starts
      if (starts.length < limit) {
        // Fewer than `limit` starts so far: this one goes at once.
        starts.push(now)
        return Effect.void
      }
      // The times given are in the order asked (each is at least its predecessor's): first come, first served.
      const at = Math.max(now, starts[log.next]! + spacing)
      starts[log.next] = at
      log.next = log.next + 1 === limit ? 0 : log.next + 1
      return at <= now ? Effect.void : sleepUntil(at)
    })
  if (!rateLimit.perOrigin) {
    const log = makeLog()
    return () => start(log)
  }
  const logs = new Map<string, Log>()
  return (origin) => {
    let log = logs.get(origin)
    if (log === undefined) logs.set(origin, log = makeLog())
    return start(log)
  }
}
