/**
 * The property test of issue 5 at the Effect door: random clumps over the
 * fault routes and healthy ones, with random options, against the real
 * server. Whatever the mix, every request gets exactly one response, equal to
 * its input, with the outcome the fault table predicts; retries, concurrency
 * and rate stay within their bounds; and no socket outlives the runtime.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { Clump, type RequestMap, type RequestResponse } from "@loamy/core"
import { uniqueKey, waitUntil } from "@loamy/test-kit"
import {
  closedPort,
  expectedOutcome,
  faultOrigin,
  type FaultRoute,
  faultRoutes,
  rateViolations,
  start,
  type TestServer
} from "@loamy/test-server"
import { Effect, Stream } from "effect"
import fc from "fast-check"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

let server: TestServer
let refusedPort: number
const unhandled: Array<unknown> = []
const onUnhandled = (reason: unknown) => unhandled.push(reason)
beforeAll(async () => {
  server = await start()
  refusedPort = await closedPort()
  process.on("unhandledRejection", onUnhandled)
})
afterAll(async () => {
  process.off("unhandledRejection", onUnhandled)
  await server.close()
})

const originOf = (route: FaultRoute): string =>
  faultOrigin(route, { serverUrl: server.url, refusedPort, invalidHost: "loamy-property.invalid" })

/** The request for a route, and the form it is given in (camelCase or the original's snake_case). */
const requestFor = (route: FaultRoute, snake: boolean, n: number) => {
  const path = route.keyed === true ? `${route.path}&key=${uniqueKey("prop")}` : route.path
  const canonical: RequestMap.RequestMap = {
    url: `${originOf(route)}${path}`,
    httpOp: route.method,
    headers: { "X-Request": String(n) },
    ...(route.method === "POST" ? { body: { n, tags: ["a", null, { deep: true }] } } : {})
  }
  const input = snake
    ? { url: canonical.url, http_op: route.method.toLowerCase(), headers: canonical.headers, body: canonical.body }
    : canonical
  return { canonical, input: input as RequestMap.RequestMap }
}

const arbitraryCase = fc.record({
  picks: fc.array(fc.tuple(fc.integer({ min: 0, max: faultRoutes.length - 1 }), fc.boolean()), {
    minLength: 1,
    maxLength: 8
  }),
  door: fc.constantFrom("send" as const, "stream" as const),
  concurrency: fc.integer({ min: 1, max: 6 }),
  timeout: fc.constantFrom(undefined, 1_500, 10_000),
  retry: fc.constantFrom(undefined, 1, 2, 3),
  maxBodyBytes: fc.constantFrom(undefined, 4_096, 1_000_000),
  rateLimit: fc.option(fc.record({ limit: fc.integer({ min: 2, max: 5 }), interval: fc.constant(250) }), {
    freq: 3
  })
})

describe("property: random clumps over the fault routes", () => {
  it("every request gets one response with the predicted outcome, within every bound", async () => {
    let runs = 0
    await fc.assert(
      fc.asyncProperty(arbitraryCase, async (c) => {
        runs++
        server.resetStats()
        const routes = c.picks.map(([i]) => faultRoutes[i]!)
        const built = c.picks.map(([i, snake], n) => requestFor(faultRoutes[i]!, snake, n))
        const options: Clump.Options = {
          concurrency: c.concurrency,
          timeout: c.timeout,
          retry: c.retry === undefined ? undefined : { attempts: c.retry, baseDelay: 5, maxDelay: 20 },
          maxBodyBytes: c.maxBodyBytes,
          rateLimit: c.rateLimit ?? undefined
        }
        const clump = Clump.make(built.map((b) => b.input), options)
        const program = c.door === "send"
          ? Clump.send(clump)
          : Effect.map(Stream.runCollect(Clump.stream(clump)), (chunk) => {
            const out: Array<RequestResponse.RequestResponse> = []
            for (const { index, response } of chunk) {
              expect(out[index], `index ${index} emitted twice`).toBeUndefined()
              out[index] = response
            }
            return out
          })
        const responses = await Effect.runPromise(Effect.provide(program, NodeHttpClient.layerUndici))

        expect(responses).toHaveLength(built.length)
        responses.forEach((response, n) => {
          const route = routes[n]!
          const expected = expectedOutcome(route, {
            timeoutMs: c.timeout,
            maxBodyBytes: c.maxBodyBytes,
            attempts: c.retry
          })
          const where = `#${n} ${route.name} (${JSON.stringify(options)})`
          expect(response, where).toBeDefined()
          expect(response.requestMap, where).toEqual(built[n]!.canonical)
          expect(response.error?._tag, where).toBe(expected.errorTag)
          expect(response.statusCode, where).toBe(expected.status)
          if (expected.errorTag === undefined) expect(response.body, where).not.toBeUndefined()
          if (route.transportReason !== undefined) {
            expect((response.error as { reason?: string }).reason, where).toBe(route.transportReason)
          }
          expect(response.attempts, where).toBeGreaterThanOrEqual(1)
          expect(response.attempts, where).toBe(expected.maxAttempts)
          expect(response.elapsedMs, where).toBeGreaterThanOrEqual(0)
        })

        expect(server.stats.maxInFlight).toBeLessThanOrEqual(c.concurrency)
        if (c.rateLimit !== null) {
          expect(rateViolations(server.stats, routes, c.rateLimit), `rate ${c.rateLimit.limit}/${c.rateLimit.interval}ms`)
            .toEqual([])
        }
        // The runtime (and its connection pool) is gone: so is every socket.
        const closed = await waitUntil(() => server.stats.openConnections === 0, 3_000)
        expect(closed, `${server.stats.openConnections} sockets left open`).toBe(true)
      }),
      { numRuns: 20, endOnFailure: true }
    )
    expect(runs).toBe(20)
    expect(unhandled).toEqual([])
  }, 120_000)
})

describe("property: input validation never lets a bad request through", () => {
  it("send refuses a clump holding a bad request, naming its index, and sends nothing", async () => {
    const bad = fc.constantFrom<Record<string, unknown>>(
      { url: "ftp://x/", httpOp: "GET" },
      { url: "http://127.0.0.1/", httpOp: "TRACE" },
      { url: "http://127.0.0.1/", httpOp: "GET", headers: { "X-A": "a\r\nb" } },
      { url: "http://127.0.0.1/", httpOp: "POST", body: { n: 1n } },
      { url: "http://127.0.0.1/", httpOp: "GET", extra: true }
    )
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: 10 }), bad, async (before, after, b) => {
        server.resetStats()
        const good = { url: `${server.url}/`, httpOp: "GET" }
        const requests = [...Array(before).fill(good), b, ...Array(after).fill(good)] as Array<RequestMap.RequestMap>
        const result = await Effect.runPromise(
          Effect.result(Clump.send(Clump.make(requests))).pipe(Effect.provide(NodeHttpClient.layerUndici))
        )
        expect(result._tag).toBe("Failure")
        expect(result._tag === "Failure" && (result.failure as { index?: number }).index).toBe(before)
        expect(server.stats.requests).toBe(0)
        const streamed = await Effect.runPromise(
          Stream.runCollect(Clump.streamFrom(Stream.fromIterable(requests))).pipe(
            Effect.map((all) => all),
            Effect.provide(NodeHttpClient.layerUndici)
          )
        )
        // streamFrom answers the bad one in place and still sends the rest.
        expect(streamed).toHaveLength(requests.length)
        const refused = streamed.find((e) => e.index === before)!.response
        expect(refused.error?._tag).toBe("InvalidInputError")
        expect(refused.error).toMatchObject({ index: before })
        expect(refused.requestMap).toBe(b)
      }),
      { numRuns: 15 }
    )
  }, 60_000)
})
