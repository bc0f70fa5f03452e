/**
 * Per-request options (issue 21, item 3), `baseUrl` (item 4) and `failOn`
 * (item 5), at every door where they apply, against the test server on
 * 127.0.0.1.
 */
import {
  AbortedError,
  BodyTooLargeError,
  HttpStatusError,
  InvalidInputError,
  InvalidOptionsError,
  sendRequests,
  sendRequestsSync,
  TimeoutError
} from "loamy"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { testing } from "../dist/internal/sync.js"
import { doors } from "./doorList.js"
import { type RemoteServer, startRemote } from "./helpers.js"

let server: RemoteServer
beforeAll(async () => {
  server = await startRemote()
})
afterAll(async () => {
  await testing.stop()
  await server.close()
})

let keys = 0
const key = () => `k${process.pid}-${keys++}-${Date.now()}`

describe("a request's own options override the call's for that request", () => {
  for (const [door, send] of doors) {
    it(`timeout, retry, maxBodyBytes and headers (${door})`, async () => {
      const flaky = key()
      const flakyToo = key()
      const responses = await send([
        // A shorter timeout than the call's, and a longer one.
        { url: `${server.url}/delay/1500`, httpOp: "GET", options: { timeout: "100ms" } },
        { url: `${server.url}/delay/300`, httpOp: "GET", options: { timeout: "5s" } },
        // The call has no retry: this request does.
        { url: `${server.url}/flaky?key=${flaky}&fails=2`, httpOp: "GET", options: { retry: { attempts: 3, baseDelay: 5 } } },
        { url: `${server.url}/flaky?key=${flakyToo}&fails=2`, httpOp: "GET" },
        // A smaller body bound than the call's, and a larger one.
        { url: `${server.url}/big?bytes=5000`, httpOp: "GET", options: { maxBodyBytes: 1000 } },
        { url: `${server.url}/big?bytes=50000`, httpOp: "GET", options: { maxBodyBytes: 1_048_576 } },
        // A request's own header wins over the call's (any case).
        { url: `${server.url}/echo`, httpOp: "GET", headers: { "x-who": "request" } }
      ], { timeout: "1s", maxBodyBytes: 20_000, headers: { "X-Who": "call", "X-Call": "yes" } })
      expect(responses[0]!.error).toBeInstanceOf(TimeoutError)
      expect((responses[0]!.error as TimeoutError).timeoutMs).toBe(100)
      expect(responses[1]!.error).toBeUndefined()
      expect(responses[1]!.body).toEqual({ delayed: 300 })
      expect([responses[2]!.statusCode, responses[2]!.attempts]).toEqual([200, 3])
      expect([responses[3]!.statusCode, responses[3]!.attempts]).toEqual([503, 1])
      expect(responses[4]!.error).toBeInstanceOf(BodyTooLargeError)
      expect(responses[5]!.error).toBeUndefined()
      const echoed = responses[6]!.body as { headers: Record<string, string> }
      expect(echoed.headers["x-who"]).toBe("request")
      expect(echoed.headers["x-call"]).toBe("yes")
      // The request keeps its options, as the call read them.
      expect(responses[0]!.requestMap.options).toEqual({ timeout: 100 })
    })
  }

  it("a request's retry of 1 turns the call's retry off for it", async () => {
    const responses = await sendRequests([
      { url: `${server.url}/flaky?key=${key()}&fails=1`, httpOp: "GET", options: { retry: 1 } },
      { url: `${server.url}/flaky?key=${key()}&fails=1`, httpOp: "GET" }
    ], { retry: { attempts: 3, baseDelay: 5 } })
    expect(responses.map((r) => [r.statusCode, r.attempts])).toEqual([[503, 1], [200, 2]])
  })

  for (const [door, send] of doors) {
    it(`bad options are refused with the index and options.<name>, as the call's are read (${door})`, async () => {
      const cases: ReadonlyArray<readonly [unknown, string, RegExp]> = [
        [{ timeout: "soon" }, "options.timeout", /./],
        [{ retry: { attempts: 0 } }, "options.retry.attempts", /./],
        [{ maxBodyBytes: -1 }, "options.maxBodyBytes", /./],
        [{ concurrency: 2 }, "options.concurrency", /./],
        ["5s", "options", /must be an object of options/]
      ]
      for (const [options, field, detail] of cases) {
        const requests = [{ url: `${server.url}/`, httpOp: "GET" }, { url: `${server.url}/`, httpOp: "GET", options }]
        const error = await send(requests as never).then(() => undefined, (e: unknown) => e)
        expect(error, `${door} ${JSON.stringify(options)}`).toBeInstanceOf(InvalidInputError)
        expect(error, `${door} ${JSON.stringify(options)}`).toMatchObject({ index: 1, field })
        expect((error as InvalidInputError).detail).toMatch(detail)
      }
    })
  }
})

describe("the Promise door takes an AbortSignal per request", () => {
  it("aborts that request only, in flight or before it starts", async () => {
    await server.reset()
    const inFlight = new AbortController()
    const before = new AbortController()
    before.abort(new Error("not wanted"))
    setTimeout(() => inFlight.abort("changed my mind"), 150)
    const started = Date.now()
    const responses = await sendRequests([
      { url: `${server.url}/delay/5000`, httpOp: "GET", signal: inFlight.signal },
      { url: `${server.url}/delay/300`, httpOp: "GET" },
      { url: `${server.url}/`, httpOp: "GET", signal: before.signal },
      { url: `${server.url}/`, httpOp: "GET", signal: new AbortController().signal }
    ])
    expect(Date.now() - started).toBeLessThan(3000)
    expect(responses[0]!.error).toBeInstanceOf(AbortedError)
    expect((responses[0]!.error as AbortedError).detail).toBe("changed my mind")
    expect(responses[1]!.body).toEqual({ delayed: 300 })
    expect(responses[2]!.error).toMatchObject({ _tag: "AbortedError", detail: "not wanted" })
    expect(responses[3]!.error).toBeUndefined()
    // The request aborted before it started never reached the server; the signal is no field of the request.
    expect((await server.stats()).requests).toBe(3)
    expect(responses[0]!.requestMap).not.toHaveProperty("signal")
  })

  it("a signal that is not an AbortSignal is refused with its index; the other doors refuse the field", async () => {
    const requests = [{ url: `${server.url}/`, httpOp: "GET" as const }, { url: `${server.url}/`, httpOp: "GET" as const, signal: "x" }]
    const error = await sendRequests(requests as never).catch((e: unknown) => e)
    expect(error).toMatchObject({ _tag: "InvalidInputError", index: 1, field: "signal" })
    const syncError = (() => {
      try {
        sendRequestsSync([requests[0]!, { ...requests[0]!, signal: new AbortController().signal }] as never)
      } catch (e) {
        return e
      }
    })()
    expect(syncError).toMatchObject({ _tag: "InvalidInputError", index: 1, field: "signal" })
    expect((syncError as InvalidInputError).detail).toContain("sendRequests only")
  })
})

describe("baseUrl", () => {
  for (const [door, send] of doors) {
    it(`joins a relative url to it as a directory, uses an absolute one as it is (${door})`, async () => {
      const responses = await send([
        { url: "/echo?x=1", httpOp: "GET" },
        { url: "echo", httpOp: "GET" },
        { url: `${server.url}/text`, httpOp: "GET" }
      ], { baseUrl: server.url })
      expect(responses.map((r) => r.requestMap.url)).toEqual([`${server.url}/echo?x=1`, `${server.url}/echo`, `${server.url}/text`])
      expect((responses[0]!.body as { query: unknown }).query).toEqual({ x: "1" })
      expect(responses[2]!.body).toEqual({ text: "hello, world" })
      // The base's path is a directory.
      const [chain] = await send([{ url: "/2", httpOp: "GET" }], { baseUrl: `${server.url}/redirect-chain` })
      expect(chain!.requestMap.url).toBe(`${server.url}/redirect-chain/2`)
      // Two redirects followed to the chain's end.
      expect(chain!.body).toEqual({ hops: 0 })
    })

    it(`a relative url without it is refused with the index and field; a bad baseUrl is an options error (${door})`, async () => {
      const error = await send([{ url: `${server.url}/`, httpOp: "GET" }, { url: "/users/1?token=s3cret", httpOp: "GET" }])
        .then(() => undefined, (e: unknown) => e)
      expect(error).toBeInstanceOf(InvalidInputError)
      expect(error).toMatchObject({ index: 1, field: "url" })
      expect((error as InvalidInputError).detail).toContain("needs the baseUrl option")
      expect((error as InvalidInputError).message).not.toContain("s3cret")
      for (const baseUrl of ["ftp://h/", "/relative", "http://h/?token=s3cret"]) {
        const bad = await send([{ url: "/", httpOp: "GET" }], { baseUrl }).then(() => undefined, (e: unknown) => e)
        expect(bad, baseUrl).toBeInstanceOf(InvalidOptionsError)
        expect(bad).toMatchObject({ option: "baseUrl" })
        expect((bad as InvalidOptionsError).message).not.toContain("s3cret")
      }
    })
  }
})

describe("failOn", () => {
  for (const [door, send] of doors) {
    it(`makes the chosen statuses an HttpStatusError folded into the response, status and body kept (${door})`, async () => {
      const requests = [
        { url: `${server.url}/status/500`, httpOp: "GET" as const },
        { url: `${server.url}/status/404`, httpOp: "GET" as const },
        { url: `${server.url}/status/429`, httpOp: "GET" as const },
        { url: `${server.url}/`, httpOp: "GET" as const }
      ]
      const responses = await send(requests, { failOn: ["5xx", 404] })
      expect(responses[0]!.error).toBeInstanceOf(HttpStatusError)
      expect(responses[0]!.error).toMatchObject({ statusCode: 500, method: "GET" })
      expect([responses[0]!.statusCode, responses[0]!.body]).toEqual([500, { status: 500 }])
      expect(responses[1]!.error).toMatchObject({ _tag: "HttpStatusError", statusCode: 404 })
      expect(responses[2]!.error).toBeUndefined()
      expect(responses[3]!.error).toBeUndefined()
      // The default is unchanged: a status is a response.
      const plain = await send(requests)
      expect(plain.map((r) => r.error)).toEqual([undefined, undefined, undefined, undefined])
    })

    it(`with returnExceptions: false it is thrown, and fail-fast stops on a 500 (${door})`, async () => {
      await server.reset()
      const requests = [
        { url: `${server.url}/status/503`, httpOp: "GET" as const },
        ...Array.from({ length: 20 }, () => ({ url: `${server.url}/delay/200`, httpOp: "GET" as const }))
      ]
      const started = Date.now()
      const error = await send(requests, { failOn: "500-599", returnExceptions: false, concurrency: 1 })
        .then(() => undefined, (e: unknown) => e)
      expect(error).toBeInstanceOf(HttpStatusError)
      expect(error).toMatchObject({ statusCode: 503 })
      expect(Date.now() - started).toBeLessThan(2000)
      expect((await server.stats()).requests).toBeLessThan(5)
    })
  }

  it("applies after retries: a status retried and still back is the failure", async () => {
    const [response] = await sendRequests(
      [{ url: `${server.url}/flaky?key=${key()}&fails=5`, httpOp: "GET" }],
      { failOn: "503", retry: { attempts: 2, baseDelay: 5 } }
    )
    expect(response!.attempts).toBe(2)
    expect(response!.error).toMatchObject({ _tag: "HttpStatusError", statusCode: 503 })
  })

  it("refuses what is not a status, naming the option", async () => {
    for (const failOn of ["6xx", "abc", 99, "500-400", [], {}]) {
      const error = await sendRequests([{ url: `${server.url}/`, httpOp: "GET" }], { failOn: failOn as never }).catch((e: unknown) => e)
      expect(error, JSON.stringify(failOn)).toBeInstanceOf(InvalidOptionsError)
      expect(error).toMatchObject({ option: "failOn" })
      expect((error as InvalidOptionsError).detail).toMatch(/is not (a|an HTTP) status|must name at least one status|must be statuses/)
    }
  })
})
