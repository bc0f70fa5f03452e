import { waitUntil } from "@loamy/test-kit"
import { start, type TestServer } from "@loamy/test-server"
import {
  BodyDecodeError,
  DeadlineError,
  InvalidInputError,
  isAbortError,
  isInvalidOptionsError,
  sendRequests,
  TimeoutError,
  TransportError
} from "loamy"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { originalBatch } from "./helpers.js"

let server: TestServer
beforeAll(async () => {
  server = await start()
})
afterAll(() => server.close())

describe("sendRequests", () => {
  it("sends the original's 100 mixed requests and gets every one back, in order", async () => {
    const batch = originalBatch(server.url)
    const responses = await sendRequests(batch)
    expect(responses).toHaveLength(100)
    responses.forEach((response, i) => {
      expect(response.error).toBeUndefined()
      expect(response.statusCode).toBe(200)
      expect(response.requestMap.url).toBe(batch[i]!.url)
      if (i % 2 === 0) {
        expect(response.body).toEqual({ message: "Hello, world!" })
      } else {
        expect(response.body).toEqual({ foo: "bar" })
        expect(response.headers["x-test"]).toBe("Test")
      }
    })
  })

  it("folds the /exception failure into exactly one response", async () => {
    const batch = [...originalBatch(server.url), { url: `${server.url}/exception`, httpOp: "GET" as const }]
    const responses = await sendRequests(batch, { returnExceptions: true })
    const failures = responses.filter((r) => r.error !== undefined)
    expect(failures).toHaveLength(1)
    expect(failures[0]!.statusCode).toBe(500)
    expect(failures[0]!.error).toBeInstanceOf(BodyDecodeError)
    expect(responses[100]).toBe(failures[0])
  })

  it("keeps input order whatever order the answers come in", async () => {
    const delays = Array.from({ length: 40 }, () => Math.floor(Math.random() * 60))
    const responses = await sendRequests(delays.map((ms) => ({ url: `${server.url}/delay/${ms}`, http_op: "get" })))
    expect(responses.map((r) => (r.body as { delayed: number }).delayed)).toEqual(delays)
  })

  it("accepts snake_case fields and query_params", async () => {
    const [response] = await sendRequests([
      { url: `${server.url}/echo`, http_op: "POST", query_params: { a: "1" }, body: { x: [1, 2] } }
    ])
    expect(response!.body).toMatchObject({ method: "POST", query: { a: "1" }, body: { x: [1, 2] } })
  })

  it("fails fast with returnExceptions: false and interrupts the rest", async () => {
    server.resetStats()
    const batch = [
      ...Array.from({ length: 5 }, () => ({ url: `${server.url}/stall?ms=20000`, httpOp: "GET" as const })),
      { url: `${server.url}/exception`, httpOp: "GET" as const }
    ]
    const started = Date.now()
    const error = await sendRequests(batch, { returnExceptions: false }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(BodyDecodeError)
    expect(Date.now() - started).toBeLessThan(10_000)
    expect(await waitUntil(() => server.stats.inFlight === 0)).toBe(true)
  })

  it("rejects bad input before sending anything", async () => {
    server.resetStats()
    const error = await sendRequests([
      { url: `${server.url}/`, httpOp: "GET" },
      { url: `${server.url}/`, httpOp: "GET", headers: { "X-Bad": "a\nb" } }
    ]).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InvalidInputError)
    expect(error).toMatchObject({ index: 1, field: "headers.X-Bad" })
    expect(server.stats.requests).toBe(0)
  })

  it("checks options with the core's decoder: durations are milliseconds or text in the duration grammar", async () => {
    for (const options of [
      { timeout: "soon" },
      { timeout: true },
      { concurrency: 0 },
      { retry: { attempts: "3" } },
      { rateLimit: { limit: 1 } },
      { signal: "no" },
      { returnException: true }
    ]) {
      const error = await sendRequests([{ url: `${server.url}/`, httpOp: "GET" }], options as never).catch((e: unknown) => e)
      expect(isInvalidOptionsError(error), JSON.stringify(options)).toBe(true)
    }
    expect(server.stats.requests).toBe(0)
    const [response] = await sendRequests([{ url: `${server.url}/`, httpOp: "GET" }], { timeout: "5 seconds" })
    expect(response!.statusCode).toBe(200)
    // The CLI's grammar too: one duration grammar at every door.
    const [short] = await sendRequests([{ url: `${server.url}/`, httpOp: "GET" }], { timeout: "5s", deadline: "1m" })
    expect(short!.statusCode).toBe(200)
  })

  it("aborts the batch through its signal", async () => {
    server.resetStats()
    const controller = new AbortController()
    const pending = sendRequests(
      Array.from({ length: 3 }, () => ({ url: `${server.url}/stall?ms=20000`, httpOp: "GET" as const })),
      { signal: controller.signal }
    )
    expect(await waitUntil(() => server.stats.inFlight === 3)).toBe(true)
    controller.abort(new Error("enough"))
    const error = await pending.catch((e: unknown) => e)
    expect(isAbortError(error)).toBe(true)
    expect((error as Error).cause).toEqual(new Error("enough"))
    // The requests were really aborted: the server sees their sockets close.
    expect(await waitUntil(() => server.stats.inFlight === 0)).toBe(true)
    const already = await sendRequests([{ url: `${server.url}/`, httpOp: "GET" }], { signal: AbortSignal.abort() })
      .catch((e: unknown) => e)
    expect(isAbortError(already)).toBe(true)
  })

  it("applies timeout, deadline, retry, maxBodyBytes, headers and maxRedirects", async () => {
    const key = `p-${Math.random()}`
    const responses = await sendRequests([
      { url: `${server.url}/stall?ms=20000`, httpOp: "GET" },
      { url: `${server.url}/flaky?key=${key}&fails=2`, httpOp: "GET" },
      { url: `${server.url}/big?bytes=100000`, httpOp: "GET" },
      { url: `${server.url}/echo`, httpOp: "GET", headers: { "x-own": "1" } },
      { url: `${server.url}/redirect-chain/2`, httpOp: "GET" }
    ], {
      timeout: 200,
      retry: { attempts: 3, baseDelay: 1 },
      maxBodyBytes: 10_000,
      headers: { "x-default": "d" },
      maxRedirects: 1
    })
    expect(responses[0]!.error).toBeInstanceOf(TimeoutError)
    expect(responses[1]!.body).toEqual({ attempts: 3 })
    expect(responses[1]!.attempts).toBe(3)
    expect(responses[2]!.error?._tag).toBe("BodyTooLargeError")
    expect(responses[3]!.body).toMatchObject({ headers: { "x-own": "1", "x-default": "d" } })
    expect(responses[4]!.error?._tag).toBe("RedirectError")

    const late = await sendRequests([
      { url: `${server.url}/stall?ms=20000`, httpOp: "GET" },
      { url: `${server.url}/`, httpOp: "GET" }
    ], { deadline: 200, concurrency: 1, rateLimit: { limit: 10, interval: 1000 } })
    expect(late[0]!.error).toBeInstanceOf(DeadlineError)
    expect(late[1]!.error).toBeInstanceOf(DeadlineError)
  })

  it("reports a refused connection as a TransportError", async () => {
    const { closedPort } = await import("@loamy/test-server")
    const port = await closedPort()
    const [response] = await sendRequests([{ url: `http://127.0.0.1:${port}/`, httpOp: "GET" }])
    expect(response!.error).toBeInstanceOf(TransportError)
    expect(response!.error).toMatchObject({ reason: "ConnectionRefused", code: "ECONNREFUSED" })
  })
})
