/**
 * Issue 5's options at the Effect door, against the real server: timeout,
 * deadline, retry with Retry-After, origin pause, rate limit, body cap,
 * redirects, and the faults each must fold into a typed error.
 *
 * Tests that wait on time use TestClock where the wait is the engine's own
 * (timeouts, deadlines, Retry-After); the rest assert generous wall-clock bounds.
 */
import type { HttpClient } from "effect/http"
import { NodeHttpClient } from "@effect/platform-node"
import { it } from "@effect/vitest"
import { Clump, LoamyError, type RequestMap, type RequestResponse } from "@loamy/core"
import { uniqueKey } from "@loamy/test-kit"
import { closedPort, start, type TestServer } from "@loamy/test-server"
import { Effect, Fiber, type Layer, Stream } from "effect"
import * as TestClock from "effect/testing/TestClock"
import { afterAll, beforeAll, describe, expect } from "vitest"
import { arrivalsOf, clients, sleepLive, sleepRecorder, waitUntilLive } from "./helpers.js"

let server: TestServer
let other: TestServer
beforeAll(async () => {
  ;[server, other] = await Promise.all([start(), start()])
})
afterAll(() => Promise.all([server.close(), other.close()]))

const undici = NodeHttpClient.layerUndici
const get = (path: string, headers?: Record<string, string>): RequestMap.RequestMap =>
  headers === undefined ? { url: `${server.url}${path}`, httpOp: "GET" } : { url: `${server.url}${path}`, httpOp: "GET", headers }

const sendWith = (layer: Layer.Layer<HttpClient.HttpClient>) =>
(
  requests: ReadonlyArray<RequestMap.RequestMap>,
  options: Clump.Options = {}
): Effect.Effect<ReadonlyArray<RequestResponse.RequestResponse>, unknown> =>
  Effect.provide(Clump.send(Clump.make(requests, options)), layer)

const send = sendWith(undici)

describe("timeout", () => {
  it.effect("folds a TimeoutError when an attempt outlives the timeout (TestClock)", () =>
    Effect.gen(function*() {
      server.resetStats()
      const fiber = yield* Effect.forkChild(send([get("/stall?ms=60000"), get("/")], { timeout: "5 seconds" }))
      yield* waitUntilLive(() => server.stats.completed === 1 && server.stats.inFlight === 1)
      yield* TestClock.adjust("4999 millis")
      yield* sleepLive(50)
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("1 millis")
      const [stalled, quick] = yield* Fiber.join(fiber)
      expect(quick!.statusCode).toBe(200)
      expect(stalled!.statusCode).toBe(0)
      expect(stalled!.error).toBeInstanceOf(LoamyError.TimeoutError)
      expect((stalled!.error as LoamyError.TimeoutError).timeoutMs).toBe(5000)
      // Messages name the path, never the query string (it often holds tokens).
      expect(stalled!.error!.message).toContain("/stall")
      expect(stalled!.error!.message).not.toContain("ms=60000")
      expect(stalled!.attempts).toBe(1)
      // The attempt was interrupted: its connection is gone.
      expect(yield* waitUntilLive(() => server.stats.aborted === 1, 2_000)).toBe(true)
    }))

  it.live("does not count the time spent queued for a slot", () =>
    Effect.gen(function*() {
      const requests = Array.from({ length: 5 }, () => get("/delay/300"))
      const started = Date.now()
      const responses = yield* send(requests, { concurrency: 1, timeout: 1_000 })
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_400)
      for (const response of responses) {
        expect(response.error).toBeUndefined()
        expect(response.statusCode).toBe(200)
      }
    }))

  it.live("covers the body, not just the headers", () =>
    Effect.gen(function*() {
      const started = Date.now()
      const [slow, fine] = yield* send([get("/slow-body?ms=6000"), get("/slow-body?ms=10")], { timeout: 1_000 })
      expect(slow!.error).toBeInstanceOf(LoamyError.TimeoutError)
      expect(fine!.body).toEqual({ slow: 10 })
      expect(Date.now() - started).toBeLessThan(4_000)
    }))
})

describe("timeout and pacing", () => {
  it.live("does not count the time spent waiting for the rate limiter", () =>
    Effect.gen(function*() {
      const requests = Array.from({ length: 3 }, () => get("/"))
      const started = Date.now()
      const responses = yield* send(requests, { timeout: 400, rateLimit: { limit: 1, interval: 600 } })
      expect(Date.now() - started).toBeGreaterThanOrEqual(1_100)
      expect(responses.map((r) => r.error?._tag)).toEqual([undefined, undefined, undefined])
    }))

  it.live("an empty clump sends nothing and answers nothing", () =>
    Effect.gen(function*() {
      server.resetStats()
      expect(yield* send([], { concurrency: 3, deadline: 100 })).toEqual([])
      expect(server.stats.requests).toBe(0)
    }))
})

describe("stream lifetime", () => {
  it.live("taking a few responses interrupts the rest and closes their connections", () =>
    Effect.gen(function*() {
      server.resetStats()
      const requests = [...Array.from({ length: 10 }, () => get("/delay/3000")), get("/"), get("/")]
      const started = Date.now()
      const taken = yield* Stream.runCollect(Stream.take(Clump.stream(Clump.make(requests, { concurrency: 12 })), 2))
      expect(taken.map((e) => e.index).sort()).toEqual([10, 11])
      expect(Date.now() - started).toBeLessThan(2_000)
      expect(yield* waitUntilLive(() => server.stats.aborted === 10, 2_000)).toBe(true)
    }).pipe(Effect.provide(undici)))

  it.live("streamFrom pulls from an endless source no faster than it sends", () =>
    Effect.gen(function*() {
      server.resetStats()
      let pulled = 0
      const endless = Stream.fromEffectRepeat(Effect.sync(() => {
        pulled++
        return get("/delay/20")
      }))
      const taken = yield* Stream.runCollect(Stream.take(Clump.streamFrom(endless, { concurrency: 4 }), 20))
      expect((taken).length).toBe(20)
      // Bounded by the concurrency (plus the stream's small buffers), not by the source.
      expect(pulled).toBeLessThan(20 + 4 * 4)
      expect(server.stats.maxInFlight).toBeLessThanOrEqual(4)
    }).pipe(Effect.provide(undici)))
})

describe("deadline", () => {
  it.effect("keeps finished responses and gives the rest a DeadlineError (TestClock)", () =>
    Effect.gen(function*() {
      server.resetStats()
      const requests = [get("/"), get("/"), get("/stall?ms=60000"), get("/stall?ms=60000"), get("/stall?ms=60000")]
      // Concurrency 2: the last stall is still queued when the deadline passes.
      const fiber = yield* Effect.forkChild(send(requests, { deadline: "10 seconds", concurrency: 2 }))
      yield* waitUntilLive(() => server.stats.completed === 2 && server.stats.inFlight === 2)
      yield* TestClock.adjust("9999 millis")
      yield* sleepLive(50)
      expect(fiber.pollUnsafe()).toBeUndefined()
      yield* TestClock.adjust("1 millis")
      const responses = yield* Fiber.join(fiber)
      expect(responses.map((r) => r.statusCode)).toEqual([200, 200, 0, 0, 0])
      expect(responses.map((r) => r.error?._tag)).toEqual([
        undefined,
        undefined,
        "DeadlineError",
        "DeadlineError",
        "DeadlineError"
      ])
      expect(responses[0]!.body).toEqual({ message: "Hello, world!" })
      expect((responses[2]!.error as LoamyError.DeadlineError).deadlineMs).toBe(10_000)
      expect(responses[2]!.attempts).toBe(1)
      expect(responses[4]!.attempts).toBe(0)
      expect(server.stats.requests).toBe(4)
    }))

  it.live("returns on time with real stalls", () =>
    Effect.gen(function*() {
      const requests = [get("/delay/20"), ...Array.from({ length: 6 }, () => get("/stall?ms=20000")), get("/delay/40")]
      const started = Date.now()
      const responses = yield* send(requests, { deadline: 700, concurrency: 4 })
      const took = Date.now() - started
      expect(took).toBeGreaterThanOrEqual(650)
      expect(took).toBeLessThan(2_000)
      expect(responses[0]!.body).toEqual({ delayed: 20 })
      expect(responses[7]!.error).toBeInstanceOf(LoamyError.DeadlineError)
      expect(responses.slice(1, 7).every((r) => r.error?._tag === "DeadlineError")).toBe(true)
    }))
})

describe("retry", () => {
  const fast = { attempts: 3, baseDelay: 5, maxDelay: 20 }

  it.live("retries until it succeeds and reports the attempts", () =>
    Effect.gen(function*() {
      const key = uniqueKey()
      const [healed, stuck, notFound] = yield* send(
        [get(`/flaky?key=${key}&fails=2&status=503`), get("/status/503"), get("/status/404")],
        { retry: fast }
      )
      expect(healed!.statusCode).toBe(200)
      expect(healed!.body).toEqual({ attempts: 3 })
      expect(healed!.attempts).toBe(3)
      expect(stuck!.statusCode).toBe(503)
      expect(stuck!.attempts).toBe(3)
      expect(notFound!.attempts).toBe(1)
    }))

  it.live("never goes past its bound", () =>
    Effect.gen(function*() {
      server.resetStats()
      const key = uniqueKey()
      const [response] = yield* send([get(`/flaky?key=${key}&fails=10&status=500`)], { retry: { ...fast, attempts: 4 } })
      expect(response!.statusCode).toBe(500)
      expect(response!.attempts).toBe(4)
      expect(server.stats.byPath["/flaky"]).toBe(4)
      const [once] = yield* send([get(`/flaky?key=${uniqueKey()}&fails=1`)], { retry: 1 })
      expect(once!.statusCode).toBe(503)
      expect(once!.attempts).toBe(1)
    }))

  it.live("retries transport errors and timeouts", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(closedPort)
      const [refused, stalled] = yield* send(
        [{ url: `http://127.0.0.1:${port}/`, httpOp: "GET" }, get("/stall?ms=5000")],
        { retry: fast, timeout: 150 }
      )
      expect(refused!.error).toBeInstanceOf(LoamyError.TransportError)
      expect(refused!.attempts).toBe(3)
      expect(stalled!.error).toBeInstanceOf(LoamyError.TimeoutError)
      expect(stalled!.attempts).toBe(3)
    }))

  it.live("retries only idempotent methods, unless Idempotency-Key or nonIdempotent", () =>
    Effect.gen(function*() {
      const flaky = (httpOp: RequestMap.HttpOp, headers?: Record<string, string>): RequestMap.RequestMap => ({
        url: `${server.url}/flaky?key=${uniqueKey()}&fails=1`,
        httpOp,
        body: { x: 1 },
        ...(headers === undefined ? {} : { headers })
      })
      const responses = yield* send(
        [
          flaky("POST"),
          flaky("PATCH"),
          flaky("POST", { "idempotency-key": "abc" }),
          flaky("PUT"),
          flaky("DELETE"),
          { url: `${server.url}/flaky?key=${uniqueKey()}&fails=1`, httpOp: "OPTIONS" }
        ],
        { retry: fast }
      )
      expect(responses.map((r) => r.attempts)).toEqual([1, 1, 2, 2, 2, 2])
      expect(responses.map((r) => r.statusCode)).toEqual([503, 503, 200, 200, 200, 200])
      const opted = yield* send([flaky("POST"), flaky("PATCH")], { retry: { ...fast, nonIdempotent: true } })
      expect(opted.map((r) => r.attempts)).toEqual([2, 2])
    }))

  it.live("does not retry what cannot heal: DNS failures, redirects loops, bodies too large", () =>
    Effect.gen(function*() {
      const responses = yield* send(
        [{ url: "http://loamy-test.invalid/", httpOp: "GET" }, get("/redirect-loop"), get("/big?bytes=5000")],
        { retry: fast, maxBodyBytes: 100 }
      )
      expect(responses.map((r) => r.error?._tag)).toEqual(["TransportError", "RedirectError", "BodyTooLargeError"])
      expect(responses.map((r) => r.attempts)).toEqual([1, 1, 1])
    }))

  it.effect("honours Retry-After in seconds (TestClock)", () =>
    Effect.gen(function*() {
      const key = uniqueKey()
      const sleeps = yield* sleepRecorder
      const fiber = yield* Effect.forkChild(sleeps.provide(
        send([get(`/flaky?key=${key}&fails=1&status=429&retryAfter=30`)], { retry: { attempts: 3, baseDelay: 1 } })
      ))
      yield* waitUntilLive(() => arrivalsOf(server, `/flaky?key=${key}`).length === 1)
      // The engine waits the 30 s the server asked for (beside the attempt's own timeout, 5 minutes).
      yield* waitUntilLive(() => sleeps.pending.includes(30_000))
      yield* TestClock.adjust("29 seconds")
      yield* sleepLive(100)
      expect(arrivalsOf(server, `/flaky?key=${key}`)).toHaveLength(1)
      yield* TestClock.adjust("1 second")
      const [response] = yield* Fiber.join(fiber)
      expect(response!.statusCode).toBe(200)
      expect(response!.attempts).toBe(2)
      expect(arrivalsOf(server, `/flaky?key=${key}`)).toHaveLength(2)
    }))

  it.effect("backs off exponentially with full jitter under the cap (TestClock)", () =>
    Effect.gen(function*() {
      const tag = uniqueKey("backoff")
      const sleeps = yield* sleepRecorder
      const fiber = yield* Effect.forkChild(sleeps.provide(
        // No timeout: its TestClock sleep would stand beside the backoff's.
        send([get(`/status/503?${tag}`)], {
          retry: { attempts: 3, baseDelay: "10 seconds", maxDelay: "15 seconds" },
          timeout: Infinity
        })
      ))
      // The one sleep pending is the backoff's, and it has not started to run down (the clock stands still).
      const pendingSleep = Effect.gen(function*() {
        yield* waitUntilLive(() => sleeps.pending.length > 0)
        return sleeps.pending[0]!
      })
      yield* waitUntilLive(() => arrivalsOf(server, `/status/503?${tag}`).length === 1)
      const first = yield* pendingSleep
      expect(first).toBeGreaterThanOrEqual(0)
      expect(first).toBeLessThanOrEqual(10_000)
      yield* TestClock.adjust(first)
      yield* waitUntilLive(() => arrivalsOf(server, `/status/503?${tag}`).length === 2)
      const second = yield* pendingSleep
      expect(second).toBeGreaterThanOrEqual(0)
      // 2 × 10 s, capped at 15 s.
      expect(second).toBeLessThanOrEqual(15_000)
      yield* TestClock.adjust(second)
      const [response] = yield* Fiber.join(fiber)
      expect(response!.attempts).toBe(3)
      expect(response!.statusCode).toBe(503)
    }))

  it.live("honours Retry-After as an HTTP date", () =>
    Effect.gen(function*() {
      const key = uniqueKey()
      const [response] = yield* send([get(`/retry-after-date?key=${key}&fails=1&seconds=2`)], {
        retry: { attempts: 2, baseDelay: 1 }
      })
      expect(response!.statusCode).toBe(200)
      expect(response!.attempts).toBe(2)
      const [first, second] = arrivalsOf(server, `/retry-after-date?key=${key}`)
      // The date has whole seconds: 2 s from now is between 1 and 2 s away.
      expect(second! - first!).toBeGreaterThanOrEqual(900)
      expect(second! - first!).toBeLessThan(3_500)
    }))

  it.live("does not wait for a Retry-After beyond maxRetryAfter or the deadline", () =>
    Effect.gen(function*() {
      const started = Date.now()
      const responses = yield* send(
        [
          get(`/flaky?key=${uniqueKey()}&fails=1&status=429&retryAfter=120`),
          get(`/flaky?key=${uniqueKey()}&fails=1&status=503&retryAfter=30`)
        ],
        { retry: { attempts: 3, maxRetryAfter: "10 seconds" }, deadline: "5 seconds" }
      )
      expect(responses.map((r) => r.statusCode)).toEqual([429, 503])
      expect(responses.map((r) => r.attempts)).toEqual([1, 1])
      expect(responses.every((r) => r.error === undefined)).toBe(true)
      expect(Date.now() - started).toBeLessThan(2_000)
    }))
})

describe("origin pause", () => {
  it.live("a 429 with Retry-After holds back the other queued requests to that origin", () =>
    Effect.gen(function*() {
      const key = uniqueKey()
      const tag = uniqueKey("pause")
      const responses = yield* send(
        [
          get(`/flaky?key=${key}&fails=1&status=429&retryAfter=1`),
          get(`/delay/200?${tag}`),
          get(`/?${tag}-c`),
          get(`/?${tag}-d`)
        ],
        { concurrency: 2, retry: { attempts: 2, baseDelay: 1 } }
      )
      expect(responses.map((r) => r.statusCode)).toEqual([200, 200, 200, 200])
      const [limited] = arrivalsOf(server, `/flaky?key=${key}`)
      const queued = [...arrivalsOf(server, `/?${tag}-c`), ...arrivalsOf(server, `/?${tag}-d`)]
      expect(queued).toHaveLength(2)
      // Without the pause they would go as soon as /delay/200 frees its slot.
      for (const at of queued) expect(at - limited!).toBeGreaterThanOrEqual(900)
    }))
})

describe("origin pause, whoever got the 429", () => {
  it.live("a request that is not retried still pauses the queue (a POST, or one out of attempts)", () =>
    Effect.gen(function*() {
      for (const limited of [
        { url: `${server.url}/flaky?key=${uniqueKey()}&fails=1&status=429&retryAfter=1`, httpOp: "POST" as const },
        get(`/flaky?key=${uniqueKey()}&fails=5&status=503&retryAfter=1`)
      ]) {
        const tag = uniqueKey("pause")
        const responses = yield* send(
          // /delay/1500 keeps the second slot busy past the first Retry-After.
          [limited, get(`/delay/1500?${tag}`), get(`/?${tag}-c`), get(`/?${tag}-d`)],
          { concurrency: 2, retry: { attempts: 2, baseDelay: 1 } }
        )
        expect(responses.slice(1).map((r) => r.statusCode)).toEqual([200, 200, 200])
        const last = Math.max(...arrivalsOf(server, limited.url.slice(server.url.length)))
        const queued = [...arrivalsOf(server, `/?${tag}-c`), ...arrivalsOf(server, `/?${tag}-d`)]
        expect(queued).toHaveLength(2)
        for (const at of queued) expect(at - last, limited.httpOp).toBeGreaterThanOrEqual(900)
      }
    }))

  it.live("no retry option, no pause: the 429 is just a response", () =>
    Effect.gen(function*() {
      const tag = uniqueKey("nopause")
      const started = Date.now()
      const responses = yield* send(
        [get(`/flaky?key=${uniqueKey()}&fails=1&status=429&retryAfter=5`), get(`/?${tag}`)],
        { concurrency: 1 }
      )
      expect(responses.map((r) => r.statusCode)).toEqual([429, 200])
      expect(Date.now() - started).toBeLessThan(2_000)
    }))
})

describe("rateLimit", () => {
  it.live("starts at most limit requests per interval, as the server measures", () =>
    Effect.gen(function*() {
      const tag = uniqueKey("rate")
      const requests = Array.from({ length: 15 }, (_, i) => get(`/?${tag}-${i}`))
      const responses = yield* send(requests, { concurrency: 15, rateLimit: { limit: 5, interval: 300 } })
      expect(responses.every((r) => r.statusCode === 200)).toBe(true)
      const arrivals = arrivalsOf(server, `/?${tag}`).sort((a, b) => a - b)
      expect(arrivals).toHaveLength(15)
      expect(arrivals[14]! - arrivals[0]!).toBeGreaterThanOrEqual(540)
      for (let i = 0; i + 5 < arrivals.length; i++) {
        expect(arrivals[i + 5]! - arrivals[i]!).toBeGreaterThanOrEqual(150)
      }
    }))

  it.live("perOrigin gives each origin its own window", () =>
    Effect.gen(function*() {
      const tag = uniqueKey("rate")
      const requests = Array.from({ length: 12 }, (_, i): RequestMap.RequestMap => ({
        url: `${i % 2 === 0 ? server.url : other.url}/?${tag}-${i}`,
        httpOp: "GET"
      }))
      const started = Date.now()
      yield* send(requests, { concurrency: 12, rateLimit: { limit: 3, interval: 500, perOrigin: true } })
      const took = Date.now() - started
      for (const s of [server, other]) {
        const arrivals = arrivalsOf(s, `/?${tag}`).sort((a, b) => a - b)
        expect(arrivals).toHaveLength(6)
        expect(arrivals[3]! - arrivals[0]!).toBeGreaterThanOrEqual(250)
      }
      // One shared window would need four of them.
      expect(took).toBeLessThan(1_400)
    }))
})

describe("maxBodyBytes", () => {
  it.live("folds BodyTooLargeError without buffering, and hangs up on the body", () =>
    Effect.gen(function*() {
      // One at a time, with the client's pool alive throughout: a connection that
      // closes was closed by the client abandoning the body, not by the pool shutting.
      for (const path of ["/big?bytes=8000000", "/big-stream?bytes=8000000"]) {
        server.resetStats()
        const [response] = yield* Clump.send(Clump.make([get(path)], { maxBodyBytes: 1000 }))
        const tooLarge = response!.error as LoamyError.BodyTooLargeError
        expect(tooLarge).toBeInstanceOf(LoamyError.BodyTooLargeError)
        expect(tooLarge.maxBodyBytes).toBe(1000)
        expect(tooLarge.statusCode).toBe(200)
        expect(tooLarge.message).toContain(path.split("?")[0])
        expect(tooLarge.message).not.toContain("bytes=")
        expect(response!.statusCode).toBe(200)
        expect(response!.body).toBeNull()
        const closed = yield* waitUntilLive(() => server.stats.openConnections === 0, 3_000)
        expect(closed, `${path} left its connection open`).toBe(true)
      }
      // The chunked one had no content-length to go by: the server saw it cut off.
      expect(server.stats.aborted).toBe(1)
      server.resetStats()
      const small = yield* Clump.send(Clump.make([get("/"), get("/big?bytes=900")], { maxBodyBytes: 1000 }))
      expect(small[0]!.body).toEqual({ message: "Hello, world!" })
      expect(typeof small[1]!.body).toBe("string")
      expect(small.every((r) => r.error === undefined)).toBe(true)
      // A body read in full leaves its connection open for the next request.
      yield* sleepLive(100)
      expect(server.stats.openConnections).toBeGreaterThanOrEqual(1)
    }).pipe(Effect.provide(undici)))
})

for (const [name, layer] of clients) {
  describe(`redirects and faults over ${name}`, () => {
    const modes = {
      send: sendWith(layer),
      stream: (requests: ReadonlyArray<RequestMap.RequestMap>, options: Clump.Options = {}) =>
        Stream.runCollect(Clump.stream(Clump.make(requests, options))).pipe(
          Effect.map((chunk) => {
            const out: Array<RequestResponse.RequestResponse> = []
            for (const { index, response } of chunk) out[index] = response
            return out
          }),
          Effect.provide(layer)
        )
    }
    const viaSender = (requests: ReadonlyArray<RequestMap.RequestMap>, options: Clump.Options = {}) =>
      Effect.scoped(
        Effect.flatMap(
          Clump.sender(options),
          (sendOne) => Effect.forEach(requests, (request, index) => sendOne(request, index), { concurrency: 4 })
        )
      ).pipe(Effect.provide(layer))
    for (const [mode, run] of Object.entries({ ...modes, sender: viaSender })) {
      it.live(`${mode}: follows redirects up to the limit and types loops and excess`, () =>
        Effect.gen(function*() {
          const responses = yield* run([
            get("/redirect-chain/3"),
            get("/redirect-chain/12"),
            get("/redirect-loop"),
            get(`/redirect?to=${encodeURIComponent("ftp://example.com/")}`)
          ])
          expect(responses[0]!.statusCode).toBe(200)
          expect(responses[0]!.body).toEqual({ hops: 0 })
          const [, tooMany, loop, invalid] = responses.map((r) => r.error as LoamyError.RedirectError)
          expect(tooMany).toBeInstanceOf(LoamyError.RedirectError)
          expect(tooMany!.reason).toBe("TooMany")
          expect(loop!.reason).toBe("Loop")
          expect(invalid!.reason).toBe("InvalidLocation")
          const [limited, none] = yield* run([get("/redirect-chain/12"), get("/redirect-chain/1")], { maxRedirects: 12 })
          expect(limited!.body).toEqual({ hops: 0 })
          expect(none!.statusCode).toBe(200)
          const [raw] = yield* run([get("/redirect-chain/1")], { maxRedirects: 0 })
          expect(raw!.statusCode).toBe(302)
          expect(raw!.headers["location"]).toBe("/redirect-chain/0")
        }))

      it.live(`${mode}: drops Authorization and Cookie on another origin, keeps them on the same one`, () =>
        Effect.gen(function*() {
          const headers = { Authorization: "Bearer secret", Cookie: "session=1", "X-Other": "kept" }
          const [away, home] = yield* run([
            get(`/redirect?to=${encodeURIComponent(`${other.url}/echo`)}`, headers),
            get(`/redirect?to=${encodeURIComponent("/echo")}`, headers)
          ])
          const awayEcho = away!.body as { path: string; headers: Record<string, string> }
          expect(awayEcho.path).toBe("/echo")
          expect(awayEcho.headers["authorization"]).toBeUndefined()
          expect(awayEcho.headers["cookie"]).toBeUndefined()
          expect(awayEcho.headers["x-other"]).toBe("kept")
          const homeEcho = home!.body as { headers: Record<string, string> }
          expect(homeEcho.headers["authorization"]).toBe("Bearer secret")
          expect(homeEcho.headers["cookie"]).toBe("session=1")
        }))

      it.live(`${mode}: a 302 after POST becomes a GET, a 307 keeps the method and body`, () =>
        Effect.gen(function*() {
          const post = (status: number): RequestMap.RequestMap => ({
            url: `${server.url}/redirect?status=${status}&to=${encodeURIComponent("/echo")}`,
            httpOp: "POST",
            body: { x: status }
          })
          const [found, temporary] = yield* run([post(302), post(307)])
          expect(found!.body).toMatchObject({ method: "GET", body: null })
          expect(temporary!.body).toMatchObject({ method: "POST", body: { x: 307 } })
        }))
    }

    it.live("maxBodyBytes counts the bytes of the body, not of its compressed form", () =>
      Effect.gen(function*() {
        const [capped, small, whole] = yield* sendWith(layer)([get("/gzip?bytes=1000000"), get("/gzip?bytes=500")], {
          maxBodyBytes: 10_000
        }).pipe(
          Effect.zipWith(sendWith(layer)([get("/gzip?bytes=20000")]), (a, b) => [...a, ...b])
        )
        expect(capped!.error).toBeInstanceOf(LoamyError.BodyTooLargeError)
        expect(small!.error).toBeUndefined()
        expect(small!.body).toBe("x".repeat(498))
        expect(whole!.body).toBe("x".repeat(19_998))
      }))

    it.live("folds truncated JSON, resets, destroyed sockets and unknown hosts", () =>
      Effect.gen(function*() {
        const responses = yield* sendWith(layer)([
          get("/truncated"),
          get("/reset"),
          get("/destroy"),
          { url: "http://loamy-test.invalid/", httpOp: "GET" },
          get("/text")
        ])
        const [truncated, reset, destroyed, dns, text] = responses
        expect(truncated!.statusCode).toBe(200)
        expect(truncated!.error).toBeInstanceOf(LoamyError.BodyDecodeError)
        expect(truncated!.body).toEqual({ text: "{\"items\":[1,2,3" })
        expect(reset!.statusCode).toBe(0)
        expect(reset!.error).toBeInstanceOf(LoamyError.TransportError)
        expect((reset!.error as LoamyError.TransportError).reason).toBe("ConnectionReset")
        expect(destroyed!.error).toBeInstanceOf(LoamyError.TransportError)
        expect(destroyed!.statusCode).toBe(0)
        expect(dns!.error).toBeInstanceOf(LoamyError.TransportError)
        expect((dns!.error as LoamyError.TransportError).reason).toBe("DnsLookup")
        expect(dns!.error!.message).toContain("loamy-test.invalid")
        expect(text!.body).toEqual({ text: "hello, world" })
        expect(text!.error).toBeInstanceOf(LoamyError.BodyDecodeError)
      }))
  })
}
