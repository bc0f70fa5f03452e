/**
 * Soak: 10,000 requests, mostly healthy, with every fault mixed in, through
 * one call. Nothing lost, nothing duplicated (by the responses and by what
 * the server saw), every fault typed, and the process still up.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { Clump, type RequestMap } from "@loamy/core"
import { uniqueKey, waitUntil } from "@loamy/test-kit"
import { closedPort, start, type TestServer } from "@loamy/test-server"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

let server: TestServer
let refusedPort: number
beforeAll(async () => {
  server = await start()
  refusedPort = await closedPort()
})
afterAll(() => server.close())

interface Kind {
  readonly path: (id: number) => string
  readonly httpOp: RequestMap.HttpOp
  readonly status: number
  readonly tag: string | undefined
  /** One arrival per request at the server: no retry, no redirect hop. */
  readonly once: boolean
}

const healthy: ReadonlyArray<Kind> = [
  { path: () => "/", httpOp: "GET", status: 200, tag: undefined, once: true },
  { path: () => "/foo", httpOp: "POST", status: 200, tag: undefined, once: true },
  { path: () => "/echo", httpOp: "PUT", status: 200, tag: undefined, once: true },
  { path: () => "/status/404", httpOp: "GET", status: 404, tag: undefined, once: true }
]

const faults: ReadonlyArray<Kind> = [
  { path: () => "/exception", httpOp: "GET", status: 500, tag: "BodyDecodeError", once: false },
  { path: () => "/status/503", httpOp: "GET", status: 503, tag: undefined, once: false },
  { path: () => "/text", httpOp: "GET", status: 200, tag: "BodyDecodeError", once: true },
  { path: () => "/truncated", httpOp: "GET", status: 200, tag: "BodyDecodeError", once: true },
  { path: () => "/destroy", httpOp: "GET", status: 0, tag: "TransportError", once: false },
  { path: () => "/reset", httpOp: "GET", status: 0, tag: "TransportError", once: false },
  { path: () => "/big-stream?bytes=50000", httpOp: "GET", status: 200, tag: "BodyTooLargeError", once: true },
  { path: () => "/big?bytes=50000", httpOp: "GET", status: 200, tag: "BodyTooLargeError", once: true },
  { path: () => "/redirect-loop", httpOp: "GET", status: 0, tag: "RedirectError", once: false },
  { path: () => "/redirect-chain/2", httpOp: "GET", status: 200, tag: undefined, once: false },
  {
    path: () => `/flaky?key=${uniqueKey("soak")}&fails=1&status=429&retryAfter=0`,
    httpOp: "GET",
    status: 200,
    tag: undefined,
    once: false
  },
  { path: () => "/", httpOp: "POST", status: 404, tag: undefined, once: true }
]

describe("soak", () => {
  it("10,000 requests mixing every fault: 0 lost, 0 duplicated, process alive", async () => {
    const n = 10_000
    const kinds: Array<Kind> = []
    const requests: Array<RequestMap.RequestMap> = []
    for (let i = 0; i < n; i++) {
      // About one in eight is a fault; a few go nowhere at all.
      let kind: Kind
      let origin = server.url
      if (i % 500 === 150 && i < 2_000) {
        // Four stalls, early, so their timed-out attempts overlap the rest of the run.
        kind = { path: () => "/stall?ms=20000", httpOp: "GET", status: 0, tag: "TimeoutError", once: false }
      } else if (i % 2_000 === 999) {
        kind = { path: () => "/", httpOp: "GET", status: 0, tag: "TransportError", once: false }
        origin = i % 4_000 === 999 ? `http://127.0.0.1:${refusedPort}` : "http://loamy-soak.invalid"
      } else if (i % 8 === 3) {
        kind = faults[Math.floor(i / 8) % faults.length]!
      } else {
        kind = healthy[i % healthy.length]!
      }
      kinds.push(kind)
      const path = kind.path(i)
      requests.push({
        url: `${origin}${path}`,
        httpOp: kind.httpOp,
        queryParams: { id: String(i) },
        ...(kind.httpOp === "GET" ? {} : { body: { id: i } })
      })
    }
    server.resetStats()
    const started = performance.now()
    const cpu = process.cpuUsage()
    const responses = await Effect.runPromise(
      Clump.send(
        Clump.make(requests, {
          concurrency: 32,
          // Generous: the machine is shared, and a healthy request must never time out here.
          timeout: 5_000,
          retry: { attempts: 2, baseDelay: 5, maxDelay: 20 },
          maxBodyBytes: 8_192
        })
      ).pipe(Effect.provide(NodeHttpClient.layerUndici))
    )
    const took = performance.now() - started
    const cpuMs = (process.cpuUsage(cpu).user + process.cpuUsage(cpu).system) / 1000

    // 0 lost: one response per request, each answering its own request.
    expect(responses).toHaveLength(n)
    let lost = 0
    let wrong = 0
    const tags = new Map<string, number>()
    for (let i = 0; i < n; i++) {
      const response = responses[i]
      if (response === undefined) {
        lost++
        continue
      }
      if (response.requestMap.queryParams?.["id"] !== String(i)) wrong++
      const kind = kinds[i]!
      const tag = response.error?._tag
      tags.set(tag ?? "none", (tags.get(tag ?? "none") ?? 0) + 1)
      if (tag !== kind.tag || response.statusCode !== kind.status) {
        expect.soft({ i, url: requests[i]!.url, tag, status: response.statusCode }).toEqual({
          i,
          url: requests[i]!.url,
          tag: kind.tag,
          status: kind.status
        })
      }
      expect(response.attempts).toBeLessThanOrEqual(2)
    }
    expect(lost).toBe(0)
    expect(wrong).toBe(0)

    // 0 duplicated: the server saw each single-shot request exactly once.
    const seen = new Map<string, number>()
    for (const path of server.stats.arrivalPaths) {
      const id = /[?&]id=(\d+)/.exec(path)?.[1]
      if (id !== undefined) seen.set(id, (seen.get(id) ?? 0) + 1)
    }
    let duplicated = 0
    let missing = 0
    for (let i = 0; i < n; i++) {
      if (!kinds[i]!.once) continue
      const count = seen.get(String(i)) ?? 0
      if (count > 1) duplicated++
      if (count === 0) missing++
    }
    expect(duplicated).toBe(0)
    expect(missing).toBe(0)
    expect(server.stats.maxInFlight).toBeLessThanOrEqual(32)

    // Process alive, runtime gone, nothing left open.
    expect(process.exitCode ?? 0).toBe(0)
    expect(await waitUntil(() => server.stats.openConnections === 0, 5_000)).toBe(true)
    console.info(
      `soak: ${n} requests in ${took.toFixed(0)} ms (${cpuMs.toFixed(0)} ms CPU, client and server)`,
      Object.fromEntries(tags)
    )
    // About 25 s on an idle 2-core machine; the bound leaves room for a machine shared with other work.
  }, 120_000)
})
