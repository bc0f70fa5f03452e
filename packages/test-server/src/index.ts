/**
 * A `node:http` server on loopback with the routes loamy's tests, demo and
 * benchmarks talk to: the original project's routes, an echo, and fault routes
 * (resets, stalls, Retry-After, truncated or oversized bodies, redirects).
 *
 * It measures what the client does to it: requests in flight (and the peak),
 * connections open (and the total), and when each request arrived, so tests
 * can check the client's concurrency and rate bounds from the server's side.
 *
 * @since 0.1.0
 */
export * from "./faults.js"
export { arrivalSlack, closedPort, shortestSpan } from "./helpers.js"
export * from "./process.js"
export { type Options, start, type Stats, type TestServer } from "./server.js"
