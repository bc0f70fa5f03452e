/**
 * The conformance suite: the original loamy's tests, ported, and the
 * contract of the design's Semantics section, run unchanged over both
 * platform layers.
 */
import type { HttpClient } from "effect/http"
import { it } from "@effect/vitest"
import { Clump, LoamyError, type RequestMap, type RequestResponse } from "@loamy/core"
import { waitUntil } from "@loamy/test-kit"
import { closedPort, start, type TestServer } from "@loamy/test-server"
import { Effect, Result, type Layer, Stream } from "effect"
import { afterAll, beforeAll, describe, expect } from "vitest"
import { clients } from "./helpers.js"

const conformance = (name: string, layer: Layer.Layer<HttpClient.HttpClient>) =>
  describe(`conformance over ${name}`, () => {
    let server: TestServer
    beforeAll(async () => {
      server = await start()
    })
    afterAll(() => server.close())

    const run = <A, E>(effect: Effect.Effect<A, E, HttpClient.HttpClient>) => Effect.provide(effect, layer)

    const mixed = (n: number): Array<RequestMap.RequestMap> =>
      Array.from({ length: n }, (_, i) =>
        i % 2 === 0
          ? { url: `${server.url}/`, httpOp: "GET" as const }
          : { url: `${server.url}/foo`, httpOp: "POST" as const, body: { i } })

    it.live("sends 100 mixed GET / and POST /foo, all 200 with the right bodies and headers", () =>
      run(Effect.gen(function*() {
        const requests = mixed(100)
        const responses = yield* Clump.send(Clump.make(requests))
        expect(responses).toHaveLength(100)
        responses.forEach((response, i) => {
          expect(response.error).toBeUndefined()
          expect(response.statusCode).toBe(200)
          expect(response.attempts).toBe(1)
          expect(response.elapsedMs).toBeGreaterThanOrEqual(0)
          expect(response.requestMap).toEqual(requests[i])
          if (i % 2 === 0) {
            expect(response.body).toEqual({ message: "Hello, world!" })
            expect(response.headers["x-test"]).toBeUndefined()
          } else {
            expect(response.body).toEqual({ foo: "bar" })
            expect(response.headers["x-test"]).toBe("Test")
          }
        })
      })))

    it.live("folds the one /exception among 100 into its response: status 500, BodyDecodeError, body { text }", () =>
      run(Effect.gen(function*() {
        const requests = mixed(100)
        requests.splice(37, 0, { url: `${server.url}/exception`, httpOp: "GET" })
        const responses = yield* Clump.send(Clump.make(requests, { returnExceptions: true }))
        expect(responses).toHaveLength(101)
        const failures = responses.filter((r) => r.error !== undefined)
        expect(failures).toHaveLength(1)
        const failure = responses[37]!
        expect(failure.statusCode).toBe(500)
        expect(failure.error).toBeInstanceOf(LoamyError.BodyDecodeError)
        expect(failure.error?.message).toContain(`GET ${server.url}/exception`)
        expect(failure.body).toEqual({ text: expect.stringContaining("500 Internal Server Error") })
        expect(responses.filter((r) => r.statusCode === 200)).toHaveLength(100)
      })))

    it.live("keeps input order under random delays", () =>
      run(Effect.gen(function*() {
        const delays = Array.from({ length: 40 }, () => Math.floor(Math.random() * 120))
        const responses = yield* Clump.send(
          Clump.make(delays.map((ms) => ({ url: `${server.url}/delay/${ms}`, httpOp: "GET" as const })))
        )
        expect(responses.map((r) => r.body)).toEqual(delays.map((ms) => ({ delayed: ms })))
      })))

    it.live("gives one response per request when the input holds duplicates", () =>
      run(Effect.gen(function*() {
        const same = { url: `${server.url}/echo`, httpOp: "GET" as const, queryParams: { q: "1" } }
        const other = { url: `${server.url}/`, httpOp: "GET" as const }
        const requests = [same, same, other, same, other, same]
        server.resetStats()
        const responses = yield* Clump.send(Clump.make(requests))
        expect(responses).toHaveLength(6)
        responses.forEach((r, i) => expect(r.requestMap).toEqual(requests[i]))
        expect(server.stats.byPath["/echo"]).toBe(4)
        expect(server.stats.byPath["/"]).toBe(2)
      })))

    it.live("fails fast with returnExceptions: false and interrupts the requests in flight", () =>
      run(Effect.gen(function*() {
        server.resetStats()
        const requests: Array<RequestMap.RequestMap> = [
          ...Array.from({ length: 6 }, () => ({ url: `${server.url}/delay/3000`, httpOp: "GET" as const })),
          { url: `${server.url}/exception`, httpOp: "GET" },
          ...Array.from({ length: 6 }, () => ({ url: `${server.url}/delay/3000`, httpOp: "GET" as const }))
        ]
        const started = Date.now()
        const error = yield* Effect.flip(Clump.send(Clump.make(requests, { returnExceptions: false, concurrency: 10 })))
        const took = Date.now() - started
        expect(error).toBeInstanceOf(LoamyError.BodyDecodeError)
        expect(error.message).toContain("/exception")
        expect(took).toBeLessThan(2_500)
        // The interrupted requests close their connections: the server sees them go without a response.
        const aborted = yield* Effect.promise(() => waitUntil(() => server.stats.aborted >= 9, 2_000))
        expect(aborted).toBe(true)
        expect(server.stats.byPath["/delay/3000"]).toBe(9)
        expect(server.stats.completed).toBe(1)
      })))

    it.live("folds connection refused as TransportError ConnectionRefused with status 0", () =>
      run(Effect.gen(function*() {
        const port = yield* Effect.promise(closedPort)
        const [response] = yield* Clump.send(Clump.make([{ url: `http://127.0.0.1:${port}/`, httpOp: "GET" }]))
        expect(response!.statusCode).toBe(0)
        expect(response!.body).toBeNull()
        expect(response!.error).toBeInstanceOf(LoamyError.TransportError)
        const error = response!.error as LoamyError.TransportError
        expect(error.reason).toBe("ConnectionRefused")
        expect(error.message).toContain(`GET http://127.0.0.1:${port}/`)
      })))

    it.live("sends method, query params, headers and a JSON body with its content-type", () =>
      run(Effect.gen(function*() {
        const requests: Array<RequestMap.RequestMap> = (["POST", "PUT", "PATCH", "DELETE"] as const).map((httpOp) => ({
          url: `${server.url}/echo?fixed=yes`,
          httpOp,
          queryParams: { a: "1", "b c": "d&e" },
          headers: { "X-Custom": "value", Authorization: "Bearer t" },
          body: { nested: [1, "two", null, { three: true }] }
        }))
        const responses = yield* Clump.send(Clump.make(requests, { headers: { "x-default": "d", "x-custom": "lost" } }))
        responses.forEach((response, i) => {
          expect(response.error).toBeUndefined()
          const echo = response.body as {
            method: string
            query: Record<string, string>
            headers: Record<string, string>
            body: unknown
          }
          expect(echo.method).toBe(requests[i]!.httpOp)
          expect(echo.query).toEqual({ fixed: "yes", a: "1", "b c": "d&e" })
          expect(echo.headers["x-custom"]).toBe("value")
          expect(echo.headers["x-default"]).toBe("d")
          expect(echo.headers["authorization"]).toBe("Bearer t")
          expect(echo.headers["content-type"]).toMatch(/^application\/json/)
          expect(echo.body).toEqual({ nested: [1, "two", null, { three: true }] })
        })
        const [get, options, head] = yield* Clump.send(Clump.make([
          { url: `${server.url}/echo`, httpOp: "GET" },
          { url: `${server.url}/echo`, httpOp: "OPTIONS" },
          { url: `${server.url}/`, httpOp: "HEAD" }
        ]))
        expect((get!.body as { method: string; body: unknown }).method).toBe("GET")
        expect((get!.body as { body: unknown }).body).toBeNull()
        expect((options!.body as { method: string }).method).toBe("OPTIONS")
        expect(head!.statusCode).toBe(200)
        expect(head!.body).toBeNull()
        expect(head!.error).toBeUndefined()
      })))

    it.live("treats a non-2xx status as a response, not an error", () =>
      run(Effect.gen(function*() {
        const codes = [201, 204, 301, 400, 404, 418, 500, 503]
        const responses = yield* Clump.send(
          Clump.make(codes.map((code) => ({ url: `${server.url}/status/${code}`, httpOp: "GET" as const })), {
            returnExceptions: false,
            maxRedirects: 0
          })
        )
        expect(responses.map((r) => r.statusCode)).toEqual(codes)
        responses.forEach((r, i) => {
          expect(r.error).toBeUndefined()
          expect(r.body).toEqual(codes[i] === 204 ? null : { status: codes[i] })
        })
      })))

    it.live("returns response headers as a record of strings with lower-case names and no prototype", () =>
      run(Effect.gen(function*() {
        const [response] = yield* Clump.send(Clump.make([{ url: `${server.url}/foo`, httpOp: "POST" }]))
        const headers = response!.headers
        // As Node's `message.headers`: a name that was not sent reads undefined, whatever Object.prototype has.
        expect(Object.getPrototypeOf(headers)).toBe(null)
        expect(headers["constructor"]).toBeUndefined()
        expect(headers["x-test"]).toBe("Test")
        expect(headers["content-type"]).toBe("application/json")
        for (const [name, value] of Object.entries(headers)) {
          expect(name).toBe(name.toLowerCase())
          expect(typeof value).toBe("string")
        }
        // A plain record survives JSON as it is.
        expect(JSON.parse(JSON.stringify(headers))).toEqual(headers)
      })))

    it.live("respects the concurrency bound at the server", () =>
      run(Effect.gen(function*() {
        server.resetStats()
        const requests = Array.from({ length: 24 }, () => ({ url: `${server.url}/delay/60`, httpOp: "GET" as const }))
        const responses = yield* Clump.send(Clump.make(requests, { concurrency: 4 }))
        expect(responses.every((r) => r.statusCode === 200)).toBe(true)
        expect(server.stats.maxInFlight).toBeLessThanOrEqual(4)
        expect(server.stats.maxInFlight).toBeGreaterThan(1)
      })))

    it.live("stream emits every index exactly once, in completion order", () =>
      run(Effect.gen(function*() {
        // The first is far slower than the rest, so completion order differs from input order even on a busy machine.
        const delays = [1500, 0, 100, 0, 50, 150, 0, 20]
        const requests = delays.map((ms) => ({ url: `${server.url}/delay/${ms}`, httpOp: "GET" as const }))
        const emitted = yield* Stream.runCollect(Clump.stream(Clump.make(requests)))
        expect(emitted.map((e) => e.index).sort((a, b) => a - b)).toEqual(delays.map((_, i) => i))
        for (const { index, response } of emitted) {
          expect(response.requestMap).toEqual(requests[index])
          expect(response.body).toEqual({ delayed: delays[index] })
        }
        // All run at once, so the slowest comes last, not first as in the input.
        expect(emitted[emitted.length - 1]!.index).toBe(0)
        expect(delays[emitted[0]!.index]).toBeLessThan(1500)
      })))

    it.live("stream respects the concurrency bound and fails fast when asked", () =>
      run(Effect.gen(function*() {
        server.resetStats()
        const requests = Array.from({ length: 12 }, () => ({ url: `${server.url}/delay/40`, httpOp: "GET" as const }))
        const emitted = yield* Stream.runCollect(Clump.stream(Clump.make(requests, { concurrency: 3 })))
        expect((emitted).length).toBe(12)
        expect(server.stats.maxInFlight).toBeLessThanOrEqual(3)
        const failing = Clump.make([...requests, { url: `${server.url}/text`, httpOp: "GET" }], {
          returnExceptions: false,
          concurrency: 13
        })
        const result = yield* Effect.result(Stream.runCollect(Clump.stream(failing)))
        expect(Result.isFailure(result) && result.failure).toBeInstanceOf(LoamyError.BodyDecodeError)
      })))

    it.live("streamFrom sends any stream and answers an invalid element instead of dropping it", () =>
      run(Effect.gen(function*() {
        const inputs = [
          { url: `${server.url}/`, httpOp: "GET" },
          { url: "ftp://example.com/", httpOp: "GET" },
          { url: `${server.url}/foo`, http_op: "post" }
        ] as unknown as Array<RequestMap.RequestMap>
        const emitted = 
          yield* Stream.runCollect(Clump.streamFrom(Stream.fromIterable(inputs), { concurrency: 2 }))
        
        const byIndex = new Map<number, RequestResponse.Any>(emitted.map((e) => [e.index, e.response]))
        expect([...byIndex.keys()].sort()).toEqual([0, 1, 2])
        expect(byIndex.get(0)!.statusCode).toBe(200)
        expect(byIndex.get(1)!.error).toBeInstanceOf(LoamyError.InvalidInputError)
        expect(byIndex.get(1)!.error).toMatchObject({ index: 1, field: "url" })
        expect(byIndex.get(1)!.attempts).toBe(0)
        expect(byIndex.get(2)!.body).toEqual({ foo: "bar" })
        expect(byIndex.get(2)!.requestMap).toEqual({ url: `${server.url}/foo`, httpOp: "POST" })
      })))
  })

for (const [name, layer] of clients) conformance(name, layer)
