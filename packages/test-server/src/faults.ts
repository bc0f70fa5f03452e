/**
 * The fault routes (and a few healthy ones) with the outcome a loamy client
 * should report for each, so every door's fault and property tests draw from
 * one table. Pure data plus one pure function: no test framework, no
 * generator library.
 *
 * @since 0.1.0
 */

/**
 * Where a route's URL points: the test server, a port that refuses
 * connections (`closedPort()`), or a host under the `.invalid` TLD that never
 * resolves.
 *
 * @since 0.1.0
 * @category models
 */
export type FaultTarget = "server" | "closedPort" | "invalidHost"

/**
 * The error tags a route can produce (loamy's `RequestError` tags).
 *
 * @since 0.1.0
 * @category models
 */
export type FaultErrorTag =
  | "TransportError"
  | "TimeoutError"
  | "BodyDecodeError"
  | "BodyTooLargeError"
  | "RedirectError"

/**
 * @since 0.1.0
 * @category models
 */
export interface FaultRoute {
  readonly name: string
  readonly target: FaultTarget
  readonly method: "GET" | "POST"
  /** Path and query, appended to the target's origin. */
  readonly path: string
  /** Append `key=<something unique>` to the query: the route counts attempts per key. */
  readonly keyed?: boolean
  /** The status with default options: 0 when no response arrived. */
  readonly status: number
  /** The error folded with default options, if any. */
  readonly errorTag?: FaultErrorTag
  /** `TransportError`'s `reason`, when it is always the same. */
  readonly transportReason?: "ConnectionRefused" | "ConnectionReset" | "DnsLookup"
  /** Answers 200 once this many attempts have failed with `status` (a retry can heal it). */
  readonly failsFirst?: number
  /** Answers only after this many ms: a shorter `timeout` gives a `TimeoutError`. */
  readonly stallMs?: number
  /** Size of the body: a smaller `maxBodyBytes` gives a `BodyTooLargeError`. */
  readonly bodyBytes?: number
  /** Whether loamy's default retry policy tries again after this outcome. */
  readonly retryable: boolean
}

/**
 * The routes, healthy ones first.
 *
 * @since 0.1.0
 * @category data
 */
export const faultRoutes: ReadonlyArray<FaultRoute> = [
  { name: "hello", target: "server", method: "GET", path: "/", status: 200, retryable: false },
  { name: "foo", target: "server", method: "POST", path: "/foo", status: 200, retryable: false },
  { name: "echo", target: "server", method: "POST", path: "/echo?x=1", status: 200, retryable: false },
  { name: "not found", target: "server", method: "GET", path: "/status/404", status: 404, retryable: false },
  {
    name: "redirect chain",
    target: "server",
    method: "GET",
    path: "/redirect-chain/3",
    status: 200,
    retryable: false
  },
  {
    name: "server error (html)",
    target: "server",
    method: "GET",
    path: "/exception",
    status: 500,
    errorTag: "BodyDecodeError",
    retryable: true
  },
  { name: "service unavailable", target: "server", method: "GET", path: "/status/503", status: 503, retryable: true },
  {
    name: "not json",
    target: "server",
    method: "GET",
    path: "/text",
    status: 200,
    errorTag: "BodyDecodeError",
    retryable: false
  },
  {
    name: "truncated json",
    target: "server",
    method: "GET",
    path: "/truncated",
    status: 200,
    errorTag: "BodyDecodeError",
    retryable: false
  },
  {
    name: "destroyed mid-body",
    target: "server",
    method: "GET",
    path: "/destroy",
    status: 0,
    errorTag: "TransportError",
    retryable: true
  },
  {
    name: "reset mid-body",
    target: "server",
    method: "GET",
    path: "/reset",
    status: 0,
    errorTag: "TransportError",
    transportReason: "ConnectionReset",
    retryable: true
  },
  {
    name: "stall",
    target: "server",
    method: "GET",
    path: "/stall?ms=2500",
    status: 200,
    stallMs: 2500,
    retryable: false
  },
  {
    name: "oversized",
    target: "server",
    method: "GET",
    path: "/big?bytes=50000",
    status: 200,
    bodyBytes: 50000,
    retryable: false
  },
  {
    name: "oversized, chunked",
    target: "server",
    method: "GET",
    path: "/big-stream?bytes=50000",
    status: 200,
    bodyBytes: 50000,
    retryable: false
  },
  {
    name: "redirect loop",
    target: "server",
    method: "GET",
    path: "/redirect-loop",
    status: 0,
    errorTag: "RedirectError",
    retryable: false
  },
  {
    name: "429 with Retry-After seconds",
    target: "server",
    method: "GET",
    path: "/flaky?fails=1&status=429&retryAfter=0",
    keyed: true,
    status: 429,
    failsFirst: 1,
    retryable: true
  },
  {
    name: "503 without Retry-After",
    target: "server",
    method: "GET",
    path: "/flaky?fails=1&status=503",
    keyed: true,
    status: 503,
    failsFirst: 1,
    retryable: true
  },
  {
    name: "429 with Retry-After date",
    target: "server",
    method: "GET",
    path: "/retry-after-date?fails=1&seconds=1",
    keyed: true,
    status: 429,
    failsFirst: 1,
    retryable: true
  },
  {
    name: "connection refused",
    target: "closedPort",
    method: "GET",
    path: "/",
    status: 0,
    errorTag: "TransportError",
    transportReason: "ConnectionRefused",
    retryable: true
  },
  {
    name: "unresolvable host",
    target: "invalidHost",
    method: "GET",
    path: "/",
    status: 0,
    errorTag: "TransportError",
    transportReason: "DnsLookup",
    retryable: false
  }
]

/**
 * The outcome a client should report for a route under some options (no
 * deadline, default retry statuses, retry delays shorter than `maxRetryAfter`).
 *
 * @since 0.1.0
 * @category data
 */
export const expectedOutcome = (
  route: FaultRoute,
  options: {
    readonly timeoutMs?: number | undefined
    readonly maxBodyBytes?: number | undefined
    /** Attempts in all (1 = no retry). */
    readonly attempts?: number | undefined
  } = {}
): { readonly status: number; readonly errorTag: FaultErrorTag | undefined; readonly maxAttempts: number } => {
  const attempts = options.attempts ?? 1
  if (route.stallMs !== undefined && options.timeoutMs !== undefined && options.timeoutMs < route.stallMs) {
    return { status: 0, errorTag: "TimeoutError", maxAttempts: attempts }
  }
  if (route.bodyBytes !== undefined && options.maxBodyBytes !== undefined && options.maxBodyBytes < route.bodyBytes) {
    return { status: route.status, errorTag: "BodyTooLargeError", maxAttempts: 1 }
  }
  if (route.failsFirst !== undefined && attempts > route.failsFirst) {
    return { status: 200, errorTag: undefined, maxAttempts: route.failsFirst + 1 }
  }
  return { status: route.status, errorTag: route.errorTag, maxAttempts: route.retryable ? attempts : 1 }
}

/**
 * The origin a route's URL starts with: the test server's, a port that
 * refuses connections, or a host under `.invalid` that never resolves.
 *
 * @since 0.1.0
 * @category data
 */
export const faultOrigin = (
  route: FaultRoute,
  targets: { readonly serverUrl: string; readonly refusedPort: number; readonly invalidHost?: string }
): string => {
  switch (route.target) {
    case "server":
      return targets.serverUrl
    case "closedPort":
      return `http://127.0.0.1:${targets.refusedPort}`
    case "invalidHost":
      return `http://${targets.invalidHost ?? "loamy-faults.invalid"}`
  }
}

/**
 * Where a rate limit of `limit` per `interval` ms was broken, judged from the
 * server's arrival times of the routes' first hops (redirect hops ride on
 * their attempt's permit). Fixed windows allow `limit` per window, so any
 * span shorter than a window meets at most two of them and holds at most
 * 2 × limit starts; spans are allowed 40% slack for timer jitter. Returns
 * `[position, span in ms]` for each violation: empty when the bound held.
 *
 * @since 0.1.0
 * @category data
 */
export const rateViolations = (
  stats: { readonly arrivals: ReadonlyArray<number>; readonly arrivalPaths: ReadonlyArray<string> },
  routes: ReadonlyArray<FaultRoute>,
  rate: { readonly limit: number; readonly interval: number }
): Array<readonly [number, number]> => {
  const paths = new Set(routes.filter((r) => r.target === "server").map((r) => r.path.split("?")[0]!))
  const starts = stats.arrivals
    .filter((_, i) => {
      const path = stats.arrivalPaths[i]!.split("?")[0]!
      return paths.has(path) && !(path.startsWith("/redirect-chain/") && path !== "/redirect-chain/3")
    })
    .sort((a, b) => a - b)
  const violations: Array<readonly [number, number]> = []
  for (let i = 0; i + 2 * rate.limit < starts.length; i++) {
    const span = starts[i + 2 * rate.limit]! - starts[i]!
    if (span < rate.interval * 0.6) violations.push([i, span])
  }
  return violations
}
