/**
 * The contract between the engine and a transport (`Transport`), seen from
 * the engine's side with a fake transport: a small `HttpClient` that answers
 * from memory and notes what each request found in its fiber's context, and
 * a `Transport` service that notes its leases. The server-side proof (sockets
 * counted at a real server through loamy's undici transport) is loamy's.
 */
import { it } from "@effect/vitest"
import { Clump, LoamyError, Options, type RequestMap, Transport } from "@loamy/core"
import * as Unchecked from "@loamy/core/Unchecked"
import { Deferred, Effect, Exit, Fiber, Layer, Result, Stream } from "effect"
import { HttpClient, HttpClientError, type HttpClientRequest, HttpClientResponse } from "effect/http"
import * as TestClock from "effect/testing/TestClock"
import { describe, expect } from "vitest"
import { waitUntilLive } from "./helpers.js"

class FakeRoute implements Transport.Route {
  readonly [Transport.RouteTypeId] = Transport.RouteTypeId
  constructor(readonly connections: number, readonly proxy: string | undefined, readonly id: number) {}
}

interface Seen {
  readonly url: string
  readonly route: Transport.Route | undefined
  readonly deadline: number | undefined
  /** `performance.now()` when the request reached the transport. */
  readonly at: number
}

/**
 * A transport in memory. Paths: `/bounded` (a `BoundedResponse` whose body is
 * still to be read), `/buffered` (one that holds its body already), `/plain`
 * (a stock response), `/redirect` (302 to `/plain`), `/gate` (waits for
 * `gate`), `/late-headers` and `/late-body` (the attempt's deadline passes
 * before the headers, during the body), `/refused` (a transport failure).
 */
const makeFake = () => {
  const leases: Array<Transport.LeaseSettings> = []
  let released = 0
  const seen: Array<Seen> = []
  const reads: Array<{ readonly url: string; readonly maxBytes: number; readonly budget: Transport.BodyBudget }> = []
  const gate = Deferred.makeUnsafe<void>()

  const json = (request: HttpClientRequest.HttpClientRequest, body: unknown, status = 200) =>
    HttpClientResponse.fromWeb(
      request,
      new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", "x-from": "fake" } })
    )

  const bounded = (
    response: HttpClientResponse.HttpClientResponse,
    body: Transport.BoundedBody
  ): Transport.BoundedResponse => Object.assign(response, { [Transport.BoundedResponseTypeId]: body })

  const bytesOf = (value: unknown) => new TextEncoder().encode(JSON.stringify(value))

  const timeout = (request: HttpClientRequest.HttpClientRequest, response?: HttpClientResponse.HttpClientResponse) =>
    new HttpClientError.HttpClientError({
      reason: response === undefined
        ? new HttpClientError.TransportError({ request, cause: new Transport.AttemptTimeoutError() })
        : new HttpClientError.DecodeError({ request, response, cause: new Transport.AttemptTimeoutError() })
    })

  const respond = (
    request: HttpClientRequest.HttpClientRequest
  ): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> => {
    const path = new URL(request.url).pathname
    switch (path) {
      case "/bounded":
        return Effect.succeed(bounded(json(request, { read: "bounded" }), {
          bufferedBody: undefined,
          readUpTo: (maxBytes, budget) =>
            Effect.sync(() => {
              reads.push({ url: request.url, maxBytes, budget })
              return bytesOf({ read: "readUpTo" })
            })
        }))
      case "/buffered":
        return Effect.succeed(bounded(json(request, { read: "bounded" }), {
          bufferedBody: bytesOf({ read: "buffered" }),
          readUpTo: (maxBytes, budget) =>
            Effect.sync(() => {
              reads.push({ url: request.url, maxBytes, budget })
              return bytesOf({ read: "readUpTo" })
            })
        }))
      case "/redirect":
        return Effect.succeed(
          HttpClientResponse.fromWeb(request, new Response(null, { status: 302, headers: { location: "/plain" } }))
        )
      case "/gate":
        return Effect.as(Deferred.await(gate), json(request, { gate: "open" }))
      case "/late-headers":
        return Effect.fail(timeout(request))
      case "/late-body": {
        const response = json(request, { never: "read" })
        return Effect.succeed(bounded(response, {
          bufferedBody: undefined,
          readUpTo: () => Effect.fail(timeout(request, response))
        }))
      }
      case "/refused":
        return Effect.fail(
          new HttpClientError.HttpClientError({
            reason: new HttpClientError.TransportError({
              request,
              cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })
            })
          })
        )
      default:
        return Effect.succeed(json(request, { read: "plain" }))
    }
  }

  const client = HttpClient.makeWith<never, never, HttpClientError.HttpClientError, never>(
    (effect) =>
      Effect.flatMap(effect, (request) =>
        Effect.withFiber((fiber) => {
          seen.push({
            url: request.url,
            route: fiber.getRef(Transport.CurrentRoute),
            deadline: fiber.getRef(Transport.AttemptDeadline),
            at: performance.now()
          })
          return respond(request)
        })),
    Effect.succeed
  )

  const transport = Transport.Transport.of({
    lease: (settings) =>
      Effect.sync(() => {
        leases.push(settings)
        const route = new FakeRoute(settings.connections, settings.proxy, leases.length)
        return { route, release: Effect.sync(() => void released++) }
      })
  })

  return {
    leases,
    seen,
    reads,
    gate,
    released: () => released,
    client,
    /** The client and its transport, as loamy's layer provides them. */
    layer: (wrap: (client: HttpClient.HttpClient) => HttpClient.HttpClient = (c) => c) =>
      Layer.merge(Layer.succeed(HttpClient.HttpClient, wrap(client)), Layer.succeed(Transport.Transport, transport)),
    /** The client alone: no transport. */
    bare: Layer.succeed(HttpClient.HttpClient, client)
  }
}

const at = (path: string): RequestMap.RequestMap => ({ url: `http://fake.invalid${path}`, httpOp: "GET" })

describe("leases", () => {
  it.effect("once per call, with the call's connections and proxy, released when it ends", () =>
    Effect.gen(function*() {
      const fake = makeFake()
      const requests = Array.from({ length: 20 }, () => at("/plain"))
      const responses = yield* Clump.send(Clump.make(requests, { concurrency: 8 })).pipe(Effect.provide(fake.layer()))
      expect(responses.every((r) => r.statusCode === 200)).toBe(true)
      expect(fake.leases).toEqual([{ connections: 8, proxy: undefined }])
      expect(fake.released()).toBe(1)
      // Every request went on the call's route.
      expect(new Set(fake.seen.map((s) => (s.route as FakeRoute).id))).toEqual(new Set([1]))

      // A per-origin bound below the concurrency caps the sockets; the proxy goes with the lease.
      yield* Clump.send(Clump.make(requests, { concurrency: 8, concurrencyPerOrigin: 3, proxy: "http://proxy.invalid:3128" }))
        .pipe(Effect.provide(fake.layer()))
      expect(fake.leases[1]).toEqual({ connections: 3, proxy: "http://proxy.invalid:3128" })
      expect(fake.released()).toBe(2)

      // The streams and the unchecked door lease the same way.
      yield* Stream.runDrain(Clump.stream(Clump.make(requests, { concurrency: 4 }))).pipe(Effect.provide(fake.layer()))
      yield* Stream.runDrain(Clump.streamFrom(Stream.fromIterable(requests), { concurrency: 5 })).pipe(
        Effect.provide(fake.layer())
      )
      const resolved = Result.getOrThrow(Options.decode({ concurrency: 6 }))
      yield* Unchecked.unsafeSend(requests, resolved).pipe(Effect.provide(fake.layer()))
      expect(fake.leases.slice(2).map((l) => l.connections)).toEqual([4, 5, 6])
      expect(fake.released()).toBe(fake.leases.length)
    }))

  it.effect("released when the call fails, and when it is interrupted", () =>
    Effect.gen(function*() {
      const fake = makeFake()
      const failed = yield* Effect.flip(
        Clump.send(Clump.make([at("/plain"), at("/refused")], { returnExceptions: false })).pipe(
          Effect.provide(fake.layer())
        )
      )
      expect(failed).toBeInstanceOf(LoamyError.TransportError)
      expect(fake.leases).toHaveLength(1)
      expect(fake.released()).toBe(1)

      const fiber = yield* Effect.forkChild(
        Clump.send(Clump.make([at("/gate"), at("/gate")])).pipe(Effect.provide(fake.layer())),
        { startImmediately: true }
      )
      yield* waitUntilLive(() => fake.seen.filter((s) => s.url.endsWith("/gate")).length === 2)
      expect(fake.released()).toBe(1)
      yield* Fiber.interrupt(fiber)
      expect(Exit.hasInterrupts(yield* Fiber.await(fiber))).toBe(true)
      expect(fake.leases).toHaveLength(2)
      expect(fake.released()).toBe(2)
    }))

  it.effect("a route already current for the same settings is used as it is; other settings lease their own", () =>
    Effect.gen(function*() {
      const fake = makeFake()
      const door = new FakeRoute(8, undefined, 99)
      const onDoorRoute = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
        Effect.provideService(effect, Transport.CurrentRoute, door)
      yield* onDoorRoute(Clump.send(Clump.make([at("/plain")], { concurrency: 8 }))).pipe(Effect.provide(fake.layer()))
      expect(fake.leases).toEqual([])
      expect((fake.seen[0]!.route as FakeRoute).id).toBe(99)
      yield* onDoorRoute(Clump.send(Clump.make([at("/plain")], { concurrency: 2 }))).pipe(Effect.provide(fake.layer()))
      expect(fake.leases).toEqual([{ connections: 2, proxy: undefined }])
      expect((fake.seen[1]!.route as FakeRoute).id).toBe(1)

      // A prepared runner: each batch on the door's route, or on a lease of its own where there is none.
      const resolved = Result.getOrThrow(Options.decode({ concurrency: 8 }))
      const prepared = (yield* Unchecked.unsafePrepare(resolved).pipe(Effect.provide(fake.layer())))!
      yield* onDoorRoute(prepared([at("/plain"), at("/plain")]))
      expect(fake.leases).toHaveLength(1)
      yield* prepared([at("/plain")])
      expect(fake.leases).toHaveLength(2)
      expect(fake.released()).toBe(2)
      expect(fake.seen.slice(2).map((s) => (s.route as FakeRoute).id)).toEqual([99, 99, 2])
    }))

  it.effect("Unchecked.unsafeLease leases a call's route once, for a door to run many prepared batches on", () =>
    Effect.gen(function*() {
      const fake = makeFake()
      const resolved = Result.getOrThrow(Options.decode({ concurrency: 4, proxy: "env" }))
      const lease = (yield* Unchecked.unsafeLease(resolved).pipe(Effect.provide(fake.layer())))!
      expect(fake.leases).toEqual([{ connections: 4, proxy: "env" }])
      const prepared = (yield* Unchecked.unsafePrepare(resolved).pipe(Effect.provide(fake.layer())))!
      for (let i = 0; i < 3; i++) {
        yield* Effect.provideService(prepared([at("/plain")]), Transport.CurrentRoute, lease.route)
      }
      // The batches leased nothing of their own and ran on the door's lease, which is the door's to give back.
      expect(fake.leases).toHaveLength(1)
      expect(fake.seen.map((s) => s.route)).toEqual([lease.route, lease.route, lease.route])
      expect(fake.released()).toBe(0)
      yield* lease.release
      expect(fake.released()).toBe(1)
      // Without a transport there is nothing to lease.
      expect(yield* Unchecked.unsafeLease(resolved)).toBeUndefined()
    }))

  it.effect("Clump.sender holds its lease for its scope", () =>
    Effect.gen(function*() {
      const fake = makeFake()
      yield* Effect.scoped(Effect.gen(function*() {
        const send = yield* Clump.sender({ concurrency: 3, proxy: "env" })
        const responses = yield* Effect.all([send(at("/plain"), 0), send(at("/redirect"), 1)])
        expect(responses.map((r) => r.statusCode)).toEqual([200, 200])
        expect(fake.leases).toEqual([{ connections: 3, proxy: "env" }])
        expect(fake.released()).toBe(0)
      })).pipe(Effect.provide(fake.layer()))
      expect(fake.released()).toBe(1)
      expect(fake.seen.every((s) => s.route?.proxy === "env")).toBe(true)
    }))
})

describe("the route and the deadline reach the transport through a user's middleware", () => {
  const middlewares: ReadonlyArray<readonly [string, (client: HttpClient.HttpClient) => HttpClient.HttpClient]> = [
    ["mapRequest((r) => r)", HttpClient.mapRequest((r) => r)],
    ["tapRequest", HttpClient.tapRequest(() => Effect.void)],
    ["retry", HttpClient.retry({ times: 1 })],
    [
      "all three",
      (client) =>
        client.pipe(
          HttpClient.mapRequest((r) => r),
          HttpClient.tapRequest(() => Effect.void),
          HttpClient.retry({ times: 1 })
        )
    ]
  ]
  for (const [name, wrap] of middlewares) {
    it.effect(name, () =>
      Effect.gen(function*() {
        const fake = makeFake()
        const responses = yield* Clump.send(
          Clump.make([at("/plain"), at("/redirect"), at("/bounded")], { concurrency: 4, proxy: "env", timeout: 60_000 })
        ).pipe(Effect.provide(fake.layer(wrap)))
        expect(responses.map((r) => r.statusCode)).toEqual([200, 200, 200])
        expect(fake.leases).toEqual([{ connections: 4, proxy: "env" }])
        // Four requests (the redirect's hop included), each on the call's route with its attempt's end.
        expect(fake.seen).toHaveLength(4)
        for (const s of fake.seen) {
          expect((s.route as FakeRoute).id).toBe(1)
          expect(s.deadline).toBeTypeOf("number")
        }
        // The response's own bounded read is kept too: the middleware returns the transport's response as it is.
        expect(fake.reads).toHaveLength(1)
      }))
  }
})

describe("the attempt's deadline", () => {
  it.effect("is given per attempt, as the time by which it must end, the same for a redirect's hops", () =>
    Effect.gen(function*() {
      const fake = makeFake()
      const before = performance.now()
      yield* Clump.send(Clump.make([at("/redirect")], { timeout: 60_000 })).pipe(Effect.provide(fake.layer()))
      const [first, hop] = fake.seen
      // In whole milliseconds, rounded down: never later than the attempt's start plus the timeout.
      expect(Number.isInteger(first!.deadline)).toBe(true)
      expect(first!.deadline).toBeGreaterThanOrEqual(Math.floor(before + 60_000))
      expect(first!.deadline).toBeLessThanOrEqual(first!.at + 60_000)
      expect(hop!.deadline).toBe(first!.deadline)

      // Each retry is a new attempt with a new end: from its own start, which comes after the last attempt's.
      const retried = makeFake()
      const [response] = yield* Clump.send(
        Clump.make([at("/refused")], { timeout: 60_000, retry: { attempts: 3, baseDelay: 0 } })
      )
        .pipe(Effect.provide(retried.layer()))
      expect(response!.attempts).toBe(3)
      const deadlines = retried.seen.map((s) => s.deadline!)
      expect(deadlines).toHaveLength(3)
      retried.seen.forEach((s, i) => {
        expect(s.deadline! - s.at).toBeLessThanOrEqual(60_000)
        if (i > 0) expect(s.deadline!).toBeGreaterThanOrEqual(Math.floor(retried.seen[i - 1]!.at + 60_000))
      })

      // No timeout, no deadline.
      const unbounded = makeFake()
      yield* Clump.send(Clump.make([at("/plain")], { timeout: Infinity })).pipe(Effect.provide(unbounded.layer()))
      expect(unbounded.seen[0]!.deadline).toBeUndefined()
    }))

  it.effect("passing before the headers or during the body is a TimeoutError; a body's status and headers are kept", () =>
    Effect.gen(function*() {
      const fake = makeFake()
      const [headers, body] = yield* Clump.send(Clump.make([at("/late-headers"), at("/late-body")], { timeout: 5_000 }))
        .pipe(Effect.provide(fake.layer()))
      expect(headers!.error).toBeInstanceOf(LoamyError.TimeoutError)
      expect(headers!.statusCode).toBe(0)
      expect((headers!.error as LoamyError.TimeoutError).timeoutMs).toBe(5_000)
      expect(body!.error).toBeInstanceOf(LoamyError.TimeoutError)
      expect(body!.statusCode).toBe(200)
      expect(body!.headers["x-from"]).toBe("fake")
      expect(body!.body).toBeNull()
    }))

  it.effect("with a transport, the engine runs no timer of its own: the transport bounds the attempt (TestClock)", () =>
    Effect.gen(function*() {
      const fake = makeFake()
      const fiber = yield* Effect.forkChild(
        Clump.send(Clump.make([at("/gate")], { timeout: 1_000 })).pipe(Effect.provide(fake.layer())),
        { startImmediately: true }
      )
      yield* waitUntilLive(() => fake.seen.length === 1)
      yield* TestClock.adjust("1 hour")
      yield* Effect.yieldNow
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* Deferred.succeed(fake.gate, undefined)
      const [response] = yield* Fiber.join(fiber)
      expect(response!.statusCode).toBe(200)
      expect(response!.error).toBeUndefined()
    }))

  it.effect("without a transport, the engine keeps its own timer and gives no deadline (TestClock)", () =>
    Effect.gen(function*() {
      const fake = makeFake()
      const fiber = yield* Effect.forkChild(
        Clump.send(Clump.make([at("/gate")], { timeout: 1_000 })).pipe(Effect.provide(fake.bare)),
        { startImmediately: true }
      )
      yield* waitUntilLive(() => fake.seen.length === 1)
      expect(fake.seen[0]!.deadline).toBeUndefined()
      expect(fake.seen[0]!.route).toBeUndefined()
      yield* TestClock.adjust("1 second")
      const [response] = yield* Fiber.join(fiber)
      expect(response!.error).toBeInstanceOf(LoamyError.TimeoutError)
      expect(fake.leases).toEqual([])
    }))
})

describe("body reads", () => {
  it.effect("the response's bounded read or buffered body when it offers them, the engine's own read when not", () =>
    Effect.gen(function*() {
      const fake = makeFake()
      const responses = yield* Clump.send(
        Clump.make([at("/bounded"), at("/buffered"), at("/plain")], { maxBodyBytes: 12_345 })
      ).pipe(Effect.provide(fake.layer()))
      expect(responses.map((r) => r.body)).toEqual([{ read: "readUpTo" }, { read: "buffered" }, { read: "plain" }])
      // Only /bounded was read through readUpTo, bounded by maxBodyBytes, counting against the call's budget.
      expect(fake.reads.map((r) => new URL(r.url).pathname)).toEqual(["/bounded"])
      expect(fake.reads[0]!.maxBytes).toBe(12_345)
      expect(typeof fake.reads[0]!.budget.take).toBe("function")

      // Without a transport the capability on a response is still used: it belongs to the response.
      const bare = makeFake()
      const [read] = yield* Clump.send(Clump.make([at("/bounded")])).pipe(Effect.provide(bare.bare))
      expect(read!.body).toEqual({ read: "readUpTo" })
    }))

  it.effect("a buffered body larger than maxBodyBytes is a BodyTooLargeError, read no further", () =>
    Effect.gen(function*() {
      const fake = makeFake()
      const [response] = yield* Clump.send(Clump.make([at("/buffered")], { maxBodyBytes: 4 })).pipe(
        Effect.provide(fake.layer())
      )
      expect(response!.error).toBeInstanceOf(LoamyError.BodyTooLargeError)
      expect(fake.reads).toEqual([])
    }))
})

describe("without a transport", () => {
  it.effect("a proxy fails the call before anything is sent", () =>
    Effect.gen(function*() {
      const fake = makeFake()
      const error = yield* Effect.flip(
        Clump.send(Clump.make([at("/plain")], { proxy: "env" })).pipe(Effect.provide(fake.bare))
      )
      expect(error).toBeInstanceOf(LoamyError.InvalidOptionsError)
      expect((error as LoamyError.InvalidOptionsError).option).toBe("proxy")
      expect(fake.seen).toEqual([])
    }))
})
