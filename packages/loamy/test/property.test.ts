/**
 * The property test of issue 5 at the Promise and synchronous doors: random
 * clumps over the fault routes and healthy ones, with random options, against
 * the real server. Whatever the mix, every request gets exactly one response,
 * in order, equal to its validated input, with the outcome the fault table
 * predicts (the same error classes after the trip out of the sync worker);
 * retries stay within their bound and the concurrency and rate bounds hold at
 * the server; nothing is rejected unhandled, no socket outlives the runtime,
 * and the door still answers afterwards.
 *
 * The synchronous door blocks this thread, so its server runs in a child
 * process (`startRemote`), whose stats are fetched over IPC after each call.
 */
import { waitUntil } from "@loamy/test-kit"
import {
  closedPort,
  expectedOutcome,
  type FaultErrorTag,
  faultOrigin,
  type FaultRoute,
  faultRoutes,
  rateViolations,
  start,
  type Stats,
  type TestServer
} from "@loamy/test-server"
import fc from "fast-check"
import {
  BodyDecodeError,
  BodyTooLargeError,
  close,
  type Options,
  RedirectError,
  type RequestInput,
  type RequestResponse,
  sendRequests,
  sendRequestsSync,
  TimeoutError,
  TransportError
} from "loamy"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
// The shipped sync module, to bound how long a sync call may block (5 minutes by default).
import { config as syncConfig, testing as syncTesting } from "../dist/internal/sync.js"
import { type RemoteServer, startRemote } from "./helpers.js"

const RUNS = 12

let local: TestServer
let remote: RemoteServer
let refusedPort: number
const unhandled: Array<unknown> = []
const onUnhandled = (reason: unknown) => unhandled.push(reason)
const defaultWaitMs = syncConfig.defaultWaitMs
beforeAll(async () => {
  process.on("unhandledRejection", onUnhandled)
  ;[local, remote, refusedPort] = await Promise.all([start(), startRemote(), closedPort()])
  // No sync call in this file may block the thread for more than 30 s (no deadline is set, so
  // this, not the 5-minute default, bounds the wait; past it the call throws a SyncTimeoutError).
  syncConfig.defaultWaitMs = 30_000
})
afterAll(async () => {
  syncConfig.defaultWaitMs = defaultWaitMs
  process.off("unhandledRejection", onUnhandled)
  await close()
  await Promise.all([local?.close(), remote?.close()])
})

let keys = 0
const uniqueKey = () => `loamy-prop-${process.pid}-${++keys}-${Math.random().toString(36).slice(2, 8)}`

const originOf = (route: FaultRoute, serverUrl: string): string =>
  faultOrigin(route, { serverUrl, refusedPort, invalidHost: "loamy-door-property.invalid" })

type Canonical = RequestResponse["requestMap"]

/** The request for a route as given (camelCase or snake_case, maybe with query params) and as validated. */
const requestFor = (route: FaultRoute, snake: boolean, withQuery: boolean, n: number, serverUrl: string) => {
  const path = route.keyed === true ? `${route.path}&key=${uniqueKey()}` : route.path
  const url = `${originOf(route, serverUrl)}${path}`
  const headers = { "X-Request": String(n) }
  const body = route.method === "POST" ? { n, tags: ["a", null, { deep: true }], text: "é\n\"" } : undefined
  const queryParams = withQuery ? { q: String(n), "sp ace": "a&b" } : undefined
  const canonical: Canonical = {
    url,
    httpOp: route.method,
    headers,
    ...(body !== undefined ? { body } : {}),
    ...(queryParams !== undefined ? { queryParams } : {})
  }
  const input: RequestInput = snake
    ? {
      url,
      http_op: route.method === "GET" ? "get" : "post",
      headers,
      ...(body !== undefined ? { body } : {}),
      ...(queryParams !== undefined ? { query_params: queryParams } : {})
    }
    : canonical
  return { canonical, input }
}

const classOf: Record<FaultErrorTag, abstract new(...args: never) => unknown> = {
  TransportError,
  TimeoutError,
  BodyDecodeError,
  BodyTooLargeError,
  RedirectError
}

const arbitraryCase = fc.record({
  picks: fc.array(
    fc.record({
      route: fc.integer({ min: 0, max: faultRoutes.length - 1 }),
      snake: fc.boolean(),
      query: fc.boolean()
    }),
    { minLength: 1, maxLength: 8 }
  ),
  concurrency: fc.integer({ min: 1, max: 6 }),
  // 1 s is under the stall route's 2.5 s (a TimeoutError), 10 s is over it.
  timeout: fc.constantFrom(undefined, 1_000, 10_000),
  retry: fc.constantFrom(undefined, 1, 2, 3),
  maxBodyBytes: fc.constantFrom(undefined, 4_096, 1_000_000),
  rateLimit: fc.option(fc.record({ limit: fc.integer({ min: 2, max: 5 }), interval: fc.constant(250) }), {
    freq: 3
  })
})
type Case = typeof arbitraryCase extends fc.Arbitrary<infer A> ? A : never

/** About how long a route keeps a slot under these options (stalls, timeouts retried, a 1 s Retry-After date). */
const slowMs = (route: FaultRoute, c: Case): number => {
  const attempts = c.retry ?? 1
  if (route.stallMs !== undefined) {
    return c.timeout !== undefined && c.timeout < route.stallMs ? c.timeout * attempts : route.stallMs
  }
  return route.path.startsWith("/retry-after-date") && attempts > 1 ? 1_000 : 0
}

/**
 * The cases, kept to ones that finish in about 5 s (a clump of eight stalls at concurrency 1
 * would take 20 s), so the whole file stays well under a minute. Not a check: a time budget.
 */
const boundedCase = arbitraryCase.filter((c) => {
  const slow = c.picks.map((p) => slowMs(faultRoutes[p.route]!, c))
  const paced = c.rateLimit === null
    ? 0
    : (c.picks.length * (c.retry ?? 1) / c.rateLimit.limit) * c.rateLimit.interval
  return slow.reduce((a, b) => a + b, 0) / c.concurrency + Math.max(...slow) + paced <= 5_000
})

const build = (c: Case, serverUrl: string) => {
  const routes = c.picks.map((p) => faultRoutes[p.route]!)
  const built = c.picks.map((p, n) => requestFor(faultRoutes[p.route]!, p.snake, p.query, n, serverUrl))
  const options: Options = {
    concurrency: c.concurrency,
    timeout: c.timeout,
    retry: c.retry === undefined ? undefined : { attempts: c.retry, baseDelay: 5, maxDelay: 20 },
    maxBodyBytes: c.maxBodyBytes,
    rateLimit: c.rateLimit ?? undefined
  }
  return { routes, built, options }
}

/** The checks both doors share: one response per request, in order, with the predicted outcome. */
const checkResponses = (
  c: Case,
  routes: ReadonlyArray<FaultRoute>,
  built: ReadonlyArray<{ readonly canonical: Canonical }>,
  responses: ReadonlyArray<RequestResponse>,
  options: Options
) => {
  expect(Array.isArray(responses)).toBe(true)
  expect(responses).toHaveLength(built.length)
  responses.forEach((response, n) => {
    const route = routes[n]!
    const expected = expectedOutcome(route, { timeoutMs: c.timeout, maxBodyBytes: c.maxBodyBytes, attempts: c.retry })
    const where = `#${n} ${route.name} (${JSON.stringify(options)})`
    expect(response, where).toBeDefined()
    // In order, and equal to the validated input (snake_case and lower-case methods canonicalised).
    expect(response.requestMap, where).toEqual(built[n]!.canonical)
    expect(response.error?._tag, where).toBe(expected.errorTag)
    expect(response.statusCode, where).toBe(expected.status)
    if (expected.errorTag === undefined) {
      expect(response.body, where).not.toBeUndefined()
    } else {
      // A typed error, of the loamy class for its tag (also after the trip out of the sync worker).
      expect(response.error, where).toBeInstanceOf(classOf[expected.errorTag])
      expect(response.error!.message, where).toContain(route.method)
    }
    if (route.transportReason !== undefined) {
      expect((response.error as { reason?: string }).reason, where).toBe(route.transportReason)
    }
    expect(response.attempts, where).toBeGreaterThanOrEqual(1)
    expect(response.attempts, where).toBeLessThanOrEqual(c.retry ?? 1)
    expect(response.attempts, where).toBe(expected.maxAttempts)
    expect(response.elapsedMs, where).toBeGreaterThanOrEqual(0)
  })
}

const maxInFlightOk = (stats: Pick<Stats, "maxInFlight">, concurrency: number) =>
  expect(stats.maxInFlight, `server saw ${stats.maxInFlight} in flight, concurrency ${concurrency}`)
    .toBeLessThanOrEqual(concurrency)

describe("property at the Promise door: sendRequests over the fault routes", () => {
  it("every request gets one response with the predicted outcome, within every bound", async () => {
    let runs = 0
    await fc.assert(
      fc.asyncProperty(boundedCase, async (c) => {
        runs++
        local.resetStats()
        const { routes, built, options } = build(c, local.url)
        // Bounded: a call that does not settle in 30 s rejects with an AbortError and fails the run.
        const responses = await sendRequests(built.map((b) => b.input), {
          ...options,
          signal: AbortSignal.timeout(30_000)
        })
        checkResponses(c, routes, built, responses, options)

        maxInFlightOk(local.stats, c.concurrency)
        if (c.rateLimit !== null) {
          expect(rateViolations(local.stats, routes, c.rateLimit), `rate ${c.rateLimit.limit}/${c.rateLimit.interval}ms`)
            .toEqual([])
        }
        // Disposing the shared runtime closes its pool: so is every socket at the server.
        await close()
        const closed = await waitUntil(() => local.stats.openConnections === 0, 3_000)
        expect(closed, `${local.stats.openConnections} sockets left open after close()`).toBe(true)
      }),
      { numRuns: RUNS, endOnFailure: true }
    )
    expect(runs).toBe(RUNS)
    // Still healthy: the next call opens a fresh runtime and answers.
    const [after] = await sendRequests([{ url: `${local.url}/`, httpOp: "GET" }], { signal: AbortSignal.timeout(10_000) })
    expect(after!.statusCode).toBe(200)
    expect(after!.body).toEqual({ message: "Hello, world!" })
    expect(unhandled).toEqual([])
  }, 60_000)
})

describe("property at the synchronous door: sendRequestsSync over the fault routes", () => {
  it("every request gets one response with the predicted outcome, within every bound", async () => {
    let runs = 0
    await fc.assert(
      fc.asyncProperty(boundedCase, async (c) => {
        runs++
        await remote.reset()
        const { routes, built, options } = build(c, remote.url)
        const responses = sendRequestsSync(built.map((b) => b.input), options)
        checkResponses(c, routes, built, responses, options)

        const stats = await remote.stats()
        maxInFlightOk(stats, c.concurrency)
        if (c.rateLimit !== null) {
          expect(rateViolations(stats, routes, c.rateLimit), `rate ${c.rateLimit.limit}/${c.rateLimit.interval}ms`)
            .toEqual([])
        }
      }),
      { numRuns: RUNS, endOnFailure: true }
    )
    expect(runs).toBe(RUNS)
    // Still healthy: the same worker answers the next call.
    const [after] = sendRequestsSync([{ url: `${remote.url}/`, http_op: "get" }])
    expect(after!.statusCode).toBe(200)
    expect(after!.body).toEqual({ message: "Hello, world!" })
    // Stopping the worker closes its pool: so is every socket at the server.
    await syncTesting.stop()
    let open = -1
    const closed = await waitUntil(async () => (open = (await remote.stats()).openConnections) === 0, 3_000)
    expect(closed, `${open} sockets left open after the worker stopped`).toBe(true)
    expect(unhandled).toEqual([])
  }, 60_000)
})
