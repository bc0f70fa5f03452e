import { it } from "@effect/vitest"
import { Clump, LoamyError, Transport } from "@loamy/core"
import { waitUntil } from "@loamy/test-kit"
import { closedPort, start, type TestServer } from "@loamy/test-server"
import { Context, Effect, Fiber, Layer, Stream, Tracer } from "effect"
import { Headers, HttpClient, HttpClientRequest } from "effect/http"
import * as UndiciHttpClient from "loamy/UndiciHttpClient"
import { Agent } from "undici"
import { afterAll, beforeAll, describe, expect } from "vitest"

let server: TestServer
beforeAll(async () => {
  server = await start()
})
afterAll(() => server.close())

const untilLive = (check: () => boolean) => Effect.promise(() => waitUntil(check))

// Tests that depend on time run with `it.live`: the core's timeouts use the Effect clock.
describe("UndiciHttpClient", () => {
  it.layer(UndiciHttpClient.layer)("layer", (it) => {
    it.effect("runs the core: the original's mixed batch", () =>
      Effect.gen(function*() {
        const requests = Array.from({ length: 100 }, (_, i) =>
          i % 2 === 0
            ? { url: `${server.url}/`, httpOp: "GET" as const }
            : { url: `${server.url}/foo`, httpOp: "POST" as const, body: { i } })
        const responses = yield* Clump.send(Clump.make(requests, { concurrency: 16 }))
        expect(responses.map((r) => r.statusCode)).toEqual(requests.map(() => 200))
        expect(responses[1]!.body).toEqual({ foo: "bar" })
        expect(responses[1]!.headers["x-test"]).toBe("Test")
      }))

    it.effect("gives headers as a plain lower-case record and reads bodies", () =>
      Effect.gen(function*() {
        const client = yield* HttpClient.HttpClient
        const response = yield* client.execute(
          HttpClientRequest.post(`${server.url}/echo`).pipe(HttpClientRequest.bodyJsonUnsafe({ a: 1 }))
        )
        // undici's own record, made `Headers` in place (Effect 4's headers are a branded record).
        expect(Headers.isHeaders(response.headers)).toBe(true)
        expect(Object.keys(response.headers).every((name) => name === name.toLowerCase())).toBe(true)
        expect(response.headers["content-type"]).toBe("application/json")
        expect(yield* response.json).toMatchObject({ method: "POST", body: { a: 1 } })
        const text = yield* Effect.flatMap(client.get(`${server.url}/text`), (r) => r.text)
        expect(text).toBe("hello, world")
        const bytes = yield* Effect.flatMap(client.get(`${server.url}/text`), (r) => r.arrayBuffer)
        expect(bytes.byteLength).toBe(12)
      }))

    it.effect("hands a small body over as bytes of its own, and the headers in the core's shape", () =>
      Effect.gen(function*() {
        const client = yield* HttpClient.HttpClient
        const response = yield* client.execute(HttpClientRequest.get(`${server.url}/cookies`))
        if (!Transport.isBoundedResponse(response)) throw new Error("not a bounded response")
        const bounded = response[Transport.BoundedResponseTypeId]
        const bytes = bounded.bufferedBody!
        expect(new TextDecoder().decode(bytes)).toBe("{\"cookies\":2}")
        // An ArrayBuffer of its own: a body the caller keeps must not keep the socket's read buffer alive.
        expect(bytes.byteOffset).toBe(0)
        expect(bytes.buffer.byteLength).toBe(bytes.byteLength)
        // The record a RequestResponse carries: no prototype, set-cookie one value per cookie, others joined.
        const headers = bounded.responseHeaders!
        expect(Object.getPrototypeOf(headers)).toBe(null)
        expect(headers["set-cookie"]).toEqual([
          "a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Path=/",
          "b=2; Expires=Thu, 22 Oct 2037 07:28:00 GMT; HttpOnly"
        ])
        expect(headers["x-multi"]).toBe("one, two")
        // Effect's Headers, made from it when asked for: every repeated header joined.
        expect(response.headers["x-multi"]).toBe("one, two")
        expect(response.headers["set-cookie"]).toContain("b=2")
      }))

    it.effect("maps a refused connection to TransportError ConnectionRefused", () =>
      Effect.gen(function*() {
        const port = yield* Effect.promise(() => closedPort())
        const [response] = yield* Clump.send(Clump.make([{ url: `http://127.0.0.1:${port}/`, httpOp: "GET" }]))
        expect(response!.error).toBeInstanceOf(LoamyError.TransportError)
        expect(response!.error).toMatchObject({ reason: "ConnectionRefused", code: "ECONNREFUSED" })
      }))

    it.effect("maps a socket destroyed mid-body to TransportError ConnectionReset", () =>
      Effect.gen(function*() {
        const [response] = yield* Clump.send(Clump.make([{ url: `${server.url}/destroy`, httpOp: "GET" }]))
        expect(response!.error).toBeInstanceOf(LoamyError.TransportError)
        expect(response!.error).toMatchObject({ reason: "ConnectionReset" })
      }))

    it.effect("refuses a header undici will not send as an invalid request", () =>
      Effect.gen(function*() {
        const client = yield* HttpClient.HttpClient
        const error = yield* Effect.flip(
          client.execute(HttpClientRequest.get(`${server.url}/`).pipe(HttpClientRequest.setHeader("x-bad", "a\r\nb")))
        )
        expect(error._tag).toBe("HttpClientError")
        expect(error.reason._tag).not.toBe("TransportError")
        expect(error.reason._tag).toBe("EncodeError")
      }))

    it.effect("aborts on interruption while waiting for headers", () =>
      Effect.gen(function*() {
        server.resetStats()
        const client = yield* HttpClient.HttpClient
        const fiber = yield* Effect.forkChild(client.get(`${server.url}/stall?ms=20000`))
        expect(yield* untilLive(() => server.stats.inFlight === 1)).toBe(true)
        yield* Fiber.interrupt(fiber)
        expect(yield* untilLive(() => server.stats.inFlight === 0)).toBe(true)
      }))

    it.effect("aborts on interruption while reading a body", () =>
      Effect.gen(function*() {
        server.resetStats()
        const client = yield* HttpClient.HttpClient
        // No content-length: the body is read after the response is handed over, by `text`.
        const response = yield* client.get(`${server.url}/slow-body?ms=20000`)
        const fiber = yield* Effect.forkChild(response.text, { startImmediately: true })
        expect(yield* untilLive(() => server.stats.inFlight === 1)).toBe(true)
        yield* Fiber.interrupt(fiber)
        expect(yield* untilLive(() => server.stats.inFlight === 0)).toBe(true)
      }))

    it.effect("aborts on interruption while the engine reads a body", () =>
      Effect.gen(function*() {
        server.resetStats()
        const fiber = yield* Effect.forkChild(
          Clump.send(Clump.make([{ url: `${server.url}/slow-body?ms=20000`, httpOp: "GET" }], { timeout: Infinity }))
        )
        expect(yield* untilLive(() => server.stats.inFlight === 1)).toBe(true)
        yield* Fiber.interrupt(fiber)
        expect(yield* untilLive(() => server.stats.inFlight === 0)).toBe(true)
      }))

    it.effect("leaves nothing on a fiber that sends request after request", () =>
      Effect.gen(function*() {
        const client = yield* HttpClient.HttpClient
        // Effect 4 internals (there is no public view of them): the fiber's observers and its stack of frames,
        // where an interruption canceler waits while a request or a read is in flight.
        const held = Effect.withFiber((fiber) =>
          Effect.succeed({
            observers: (Reflect.get(fiber, "_observers") as ReadonlyArray<unknown> | undefined)?.length ?? 0,
            frames: (Reflect.get(fiber, "_stack") as ReadonlyArray<unknown>).length
          })
        )
        // Measured once the fiber has yielded: its runner observes it from then on.
        yield* Effect.flatMap(client.get(`${server.url}/`), (response) => response.text)
        const before = yield* held
        for (let i = 0; i < 50; i++) {
          const response = yield* client.get(i % 2 === 0 ? `${server.url}/` : `${server.url}/slow-body?ms=1`)
          yield* response.text
        }
        expect(yield* held).toEqual(before)
      }))

    it.effect("reuses keep-alive connections", () =>
      Effect.gen(function*() {
        server.resetStats()
        const requests = Array.from({ length: 50 }, () => ({ url: `${server.url}/`, httpOp: "GET" as const }))
        yield* Clump.send(Clump.make(requests, { concurrency: 1 }))
        expect(server.stats.connections).toBeLessThanOrEqual(1)
      }))
  })

  it.live("aborts the request on timeout: the server sees the socket close", () =>
    Effect.gen(function*() {
      server.resetStats()
      const [response] = yield* Clump.send(
        Clump.make([{ url: `${server.url}/stall?ms=20000`, httpOp: "GET" }], { timeout: 100 })
      )
      expect(response!.error).toBeInstanceOf(LoamyError.TimeoutError)
      expect(yield* untilLive(() => server.stats.inFlight === 0)).toBe(true)
    }).pipe(Effect.provide(UndiciHttpClient.layer)))

  // A bound over a second starts on the transport's shared list of far-off deadlines, not on a timer of its own.
  it.live("aborts the request on a bound of more than a second too", () =>
    Effect.gen(function*() {
      server.resetStats()
      const [response] = yield* Clump.send(
        Clump.make([{ url: `${server.url}/stall?ms=20000`, httpOp: "GET" }], { timeout: 1_500 })
      )
      expect(response!.error).toBeInstanceOf(LoamyError.TimeoutError)
      expect(yield* untilLive(() => server.stats.inFlight === 0)).toBe(true)
    }).pipe(Effect.provide(UndiciHttpClient.layer)), 15_000)

  it.live("bounds each attempt by its own deadline, whatever order the deadlines were made in", () =>
    Effect.gen(function*() {
      server.resetStats()
      const stalled = [{ url: `${server.url}/stall?ms=20000`, httpOp: "GET" as const }]
      const long = yield* Effect.forkChild(Clump.send(Clump.make(stalled, { timeout: 15_000 })))
      expect(yield* untilLive(() => server.stats.inFlight === 1)).toBe(true)
      // A later request with an earlier end: it times out on its own, while the first still waits.
      const [short] = yield* Clump.send(Clump.make(stalled, { timeout: 200 }))
      expect(short!.error).toBeInstanceOf(LoamyError.TimeoutError)
      expect(long.pollUnsafe()).toBeUndefined()
      yield* Fiber.interrupt(long)
      expect(yield* untilLive(() => server.stats.inFlight === 0)).toBe(true)
    }).pipe(Effect.provide(UndiciHttpClient.layer)), 30_000)

  it.live("aborts when a body stream is closed early (maxBodyBytes)", () =>
    Effect.gen(function*() {
      server.resetStats()
      const before = server.stats.openConnections
      const [response] = yield* Clump.send(
        Clump.make([{ url: `${server.url}/big-stream?bytes=20000000`, httpOp: "GET" }], { maxBodyBytes: 1000 })
      )
      expect(response!.error).toBeInstanceOf(LoamyError.BodyTooLargeError)
      // The 20 MB body was not read to the end: its connection was closed.
      expect(yield* untilLive(() => server.stats.inFlight === 0 && server.stats.openConnections <= before)).toBe(true)
      const client = yield* HttpClient.HttpClient
      const chunks = yield* Effect.flatMap(client.get(`${server.url}/big-stream?bytes=20000000`), (r) =>
        Stream.runCollect(Stream.take(r.stream, 1)))
      expect(chunks.length).toBe(1)
      expect(yield* untilLive(() => server.stats.inFlight === 0)).toBe(true)
    }).pipe(Effect.provide(UndiciHttpClient.layer)))

  it.live("makes a client span and propagates it only when a recording tracer is installed", () =>
    Effect.gen(function*() {
      const names: Array<string> = []
      const recording = Tracer.make({
        span: (options) => {
          names.push(options.name)
          return Tracer.nativeTracer.span(options)
        }
      })
      const client = yield* HttpClient.HttpClient
      const echo = Effect.flatMap(client.get(`${server.url}/echo`), (r) => r.json) as Effect.Effect<
        { headers: Record<string, string> }
      >
      const untraced = yield* echo
      expect(untraced.headers["traceparent"]).toBeUndefined()
      expect(names).toEqual([])
      const traced = yield* Effect.withTracer(echo, recording)
      // loamy's name for the span, as before Effect 4 (whose own default is the bare method).
      expect(names).toEqual(["http.client GET"])
      expect(traced.headers["traceparent"]).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/)
      // A name generator of the user's wins; propagation off leaves the headers alone.
      const quiet = yield* echo.pipe(
        Effect.withTracer(recording),
        Effect.provideService(HttpClient.SpanNameGenerator, (request) => `out ${request.method}`),
        Effect.provideService(HttpClient.TracerPropagationEnabled, false)
      )
      expect(names).toEqual(["http.client GET", "out GET"])
      expect(quiet.headers["traceparent"]).toBeUndefined()
    }).pipe(Effect.provide(UndiciHttpClient.layer)))

  for (const [name, layer] of [
    ["layer", UndiciHttpClient.layer],
    ["layerWith({ connections: 4 })", UndiciHttpClient.layerWith({ connections: 4 })]
  ] as const) {
    it.live(`Dispatchers.destroy fails the requests in flight at once, and every later one (${name})`, () =>
      Effect.gen(function*() {
        server.resetStats()
        const dispatchers = yield* UndiciHttpClient.Dispatchers
        const stalled = Array.from({ length: 4 }, () => ({ url: `${server.url}/stall?ms=20000`, httpOp: "GET" as const }))
        const call = yield* Effect.forkChild(Clump.send(Clump.make(stalled, { concurrency: 4 })), { startImmediately: true })
        expect(yield* untilLive(() => server.stats.inFlight === 4)).toBe(true)
        dispatchers.destroy(Object.assign(new Error("stopped"), { code: "LOAMY_INTERRUPTED" }))
        const responses = yield* Fiber.join(call)
        for (const response of responses) {
          expect(response.error).toBeInstanceOf(LoamyError.TransportError)
          expect(response.error).toMatchObject({ code: "LOAMY_INTERRUPTED" })
        }
        expect(yield* untilLive(() => server.stats.inFlight === 0)).toBe(true)
        // Nothing more is sent: a later call's requests fail as well, each in its own response.
        const [later] = yield* Clump.send(Clump.make([{ url: `${server.url}/`, httpOp: "GET" }]))
        expect(later!.error).toBeInstanceOf(LoamyError.TransportError)
        expect(server.stats.requests).toBe(4)
      }).pipe(Effect.provide(layer, { local: true })), 30_000)
  }

  it.effect("closes its agent with the layer's scope", () =>
    Effect.gen(function*() {
      const agent = yield* Effect.scoped(
        Effect.gen(function*() {
          const context = yield* Layer.build(UndiciHttpClient.layerWith({ connections: 2, keepAliveTimeout: 10_000 }))
          const client = HttpClient.HttpClient
          yield* Effect.flatMap(Effect.provide(client, context), (c) => c.get(`${server.url}/`))
          return Context.get(context, UndiciHttpClient.UndiciDispatcher)
        })
      )
      expect(agent).toBeInstanceOf(Agent)
      expect(agent instanceof Agent && agent.destroyed).toBe(true)
    }))
})
