/**
 * What tests measure with: a port that refuses connections, and the spans
 * of arrival times a rate limit is judged by.
 *
 * @since 1.1.0
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"

/**
 * A port on 127.0.0.1 that nothing listens on: bound, then closed, so a
 * connection to it is refused.
 *
 * @since 0.1.0
 * @category constructors
 */
export const closedPort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = http.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      server.close(() => resolve(port))
    })
  })

/**
 * The shortest time that holds `count + 1` of `times` (arrival times, any
 * order): a rate limit of `count` per interval holds when this is at least
 * the interval. `Infinity` when there are no more than `count` times.
 *
 * @since 0.4.0
 * @category stats
 */
export const shortestSpan = (times: ReadonlyArray<number>, count: number): number => {
  const sorted = [...times].sort((a, b) => a - b)
  let shortest = Infinity
  for (let i = 0; i + count < sorted.length; i++) shortest = Math.min(shortest, sorted[i + count]! - sorted[i]!)
  return shortest
}

/**
 * What a test of a rate limit allows for, of an interval, between the starts
 * a limiter spaced (by the interval and its margin) and their arrival at a
 * server through a busy machine's scheduler: a fifth. A fixed window, the
 * fault such tests look for, shows spans of a fifth of the interval or less.
 *
 * @since 0.4.0
 * @category stats
 */
export const arrivalSlack = (intervalMs: number): number => intervalMs / 5
