/**
 * The engine's bounds at the Effect door, on the platform clients: the rate limit holds for any interval of its
 * length (a sliding log, as the server measures starts), ordered output goes on with other origins while one is
 * slow (its reorder buffer), the whole call's body budget lets reads wait for each other without failing or
 * hanging, and a body that stalls after its headers keeps the status and headers that arrived.
 *
 * Servers on 127.0.0.1: `node:http` ones in this process, and the test server in a process of its own where
 * arrival times are measured (this busy process would bunch them).
 */
import type { HttpClient } from "effect/http"
import { NodeHttpClient } from "@effect/platform-node"
import { Clump, LoamyError, type RequestMap } from "@loamy/core"
import { type Listening, listen, type SlowAndFast, startSlowAndFast, uniqueKey } from "@loamy/test-kit"
import { arrivalSlack, type ServerProcess, shortestSpan, startProcess } from "@loamy/test-server"
import { it } from "@effect/vitest"
import { Effect, Fiber, type Layer, Stream } from "effect"
import type * as http from "node:http"
import * as net from "node:net"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect } from "vitest"
import { clients, waitUntilLive } from "./helpers.js"

/** Origin A (`slow`) holds every response open until `release`; origin B (`fast`) answers at once and counts. */
let origins: SlowAndFast

/** `/stall-body`: a 200 with its headers and the start of a body, then nothing. */
let stalling: Listening
const stalled = new Set<http.ServerResponse>()

let timing: ServerProcess

beforeAll(async () => {
  ;[origins, stalling, timing] = await Promise.all([
    startSlowAndFast(),
    listen((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", "x-stalled": "yes" })
      res.write("{\"partial\":")
      stalled.add(res)
      res.on("close", () => stalled.delete(res))
    }),
    startProcess()
  ])
})

afterAll(async () => {
  for (const res of stalled) res.destroy()
  await Promise.all([origins.close(), stalling.close(), timing?.close()])
})

const get = (url: string): RequestMap.RequestMap => ({ url, httpOp: "GET" })

/** Fails the test when some span of `intervalMs` holds more than `limit` of `times`, as a server sees them. */
const expectSliding = (times: ReadonlyArray<number>, limit: number, intervalMs: number) =>
  expect(shortestSpan(times, limit), times.map(Math.round).join(", "))
    .toBeGreaterThanOrEqual(intervalMs - arrivalSlack(intervalMs))

describe.each(clients)("on %s", (_name, layer: Layer.Layer<HttpClient.HttpClient>) => {
  it.live("rateLimit: no span of the interval holds more than limit starts, as the server measures", () =>
    Effect.gen(function*() {
      // One at a time: the first waits 800 ms at the server, so four more start late in the first second, the
      // rest right after. A fixed window (the first from 0 ms) lets five more start at 1000 ms: nine in 200 ms.
      const tag = uniqueKey("sliding")
      const requests = [
        get(`${timing.url}/delay/800?${tag}-0`),
        ...Array.from({ length: 9 }, (_, i) => get(`${timing.url}/?${tag}-${i + 1}`))
      ]
      const responses = yield* Effect.gen(function*() {
        // The client's first request (a module's first connection) is not part of it.
        yield* Clump.send(Clump.make([get(`${timing.url}/?warm`)]))
        return yield* Clump.send(Clump.make(requests, { concurrency: 1, rateLimit: { limit: 5, interval: 1000 } }))
      }).pipe(Effect.provide(layer))
      expect(responses.map((r) => r.statusCode)).toEqual(requests.map(() => 200))
      const stats = yield* Effect.promise(() => timing.stats())
      const times = stats.arrivals.filter((_, i) => stats.arrivalPaths[i]!.includes(tag)).sort((a, b) => a - b)
      expect(times).toHaveLength(10)
      expectSliding(times, 5, 1000)
    }), 20_000)

  it.live("rateLimit perOrigin: each origin's own starts hold the bound", () =>
    Effect.gen(function*() {
      const tag = uniqueKey("sliding-origin")
      const requests = Array.from({ length: 12 }, (_, i) =>
        get(`${i % 2 === 0 ? timing.url : timing.otherUrl}/?${tag}-${i}`))
      yield* Clump.send(
        Clump.make(requests, { concurrency: 12, rateLimit: { limit: 3, interval: 500, perOrigin: true } })
      ).pipe(Effect.provide(layer))
      const stats = yield* Effect.promise(() => timing.stats())
      for (const even of [0, 1]) {
        const times = stats.arrivals
          .filter((_, i) => {
            const match = new RegExp(`${tag}-(\\d+)$`).exec(stats.arrivalPaths[i]!)
            return match !== null && Number(match[1]) % 2 === even
          })
          .sort((a, b) => a - b)
        expect(times).toHaveLength(6)
        expectSliding(times, 3, 500)
      }
    }), 20_000)

  it.live("ordered stream: a slow origin does not hold back the requests to another", () =>
    Effect.gen(function*() {
      // 12 requests to A (held open by the server) and then 40 to B, 16 at a time. Without a reorder buffer the
      // 4 workers left over park with B's first responses until A's come back, and B sees only 4 requests.
      origins.reset()
      const requests = origins.batch(12, 40)
      const fiber = yield* Stream.runCollect(
        Clump.stream(Clump.make(requests, { concurrency: 16 }), { ordered: true })
      ).pipe(Effect.provide(layer), Effect.forkChild)
      const reached = yield* waitUntilLive(() => origins.arrived === 40 && origins.held === 12, 10_000)
      expect({ arrivedB: origins.arrived, heldA: origins.held }).toEqual({ arrivedB: 40, heldA: 12 })
      expect(reached).toBe(true)
      origins.release()
      const emitted = yield* Fiber.join(fiber)
      expect(emitted.map((e) => e.index)).toEqual(requests.map((_, i) => i))
      expect(emitted.map((e) => (e.response.body as { origin: string }).origin)).toEqual(
        requests.map((_, i) => (i < 12 ? "A" : "B"))
      )
    }), 20_000)

  it.live("ordered streamFrom: the same, with a reorder buffer as the option says", () =>
    Effect.gen(function*() {
      origins.reset()
      const requests = origins.batch(12, 40)
      const fiber = yield* Stream.runCollect(
        Clump.streamFrom(Stream.fromIterable(requests), { concurrency: 16, ordered: true, reorderBuffer: 40 })
      ).pipe(Effect.provide(layer), Effect.forkChild)
      const reached = yield* waitUntilLive(() => origins.arrived === 40 && origins.held === 12, 10_000)
      expect({ arrivedB: origins.arrived, heldA: origins.held }).toEqual({ arrivedB: 40, heldA: 12 })
      expect(reached).toBe(true)
      origins.release()
      const emitted = yield* Fiber.join(fiber)
      expect(emitted.map((e) => e.index)).toEqual(requests.map((_, i) => i))
    }), 20_000)

  it.live("ordered stream: a full reorder buffer holds the workers, and memory stays bounded", () =>
    Effect.gen(function*() {
      // A buffer of 10: 12 workers on A, 4 on B; B's responses fill the buffer, then the 4 workers park with
      // theirs. B sees 10 + 4 requests, no more, until A answers.
      origins.reset()
      const requests = origins.batch(12, 40)
      const fiber = yield* Stream.runCollect(
        Clump.stream(Clump.make(requests, { concurrency: 16, reorderBuffer: 10 }), { ordered: true })
      ).pipe(Effect.provide(layer), Effect.forkChild)
      expect(yield* waitUntilLive(() => origins.arrived === 14 && origins.held === 12, 10_000)).toBe(true)
      origins.release()
      const emitted = yield* Fiber.join(fiber)
      expect(emitted.map((e) => e.index)).toEqual(requests.map((_, i) => i))
      expect(origins.arrived).toBe(40)
    }), 20_000)

  it.live("bodyBudget: reads past it wait for each other, and every body comes back whole", () =>
    Effect.gen(function*() {
      const requests = Array.from({ length: 12 }, (_, i) => get(`${origins.slow.url}/bytes?n=300000&i=${i}`))
      const responses = yield* Clump.send(Clump.make(requests, { concurrency: 12, bodyBudget: 700_000 })).pipe(
        Effect.provide(layer)
      )
      for (const response of responses) {
        expect(response.error).toBeUndefined()
        expect((response.body as string).length).toBe(299_998)
      }
    }), 20_000)

  it.live("a body that stalls after a 200 keeps its status and headers, with a TimeoutError", () =>
    Effect.gen(function*() {
      const [response] = yield* Clump.send(Clump.make([get(`${stalling.url}/stall-body`)], { timeout: 500 })).pipe(
        Effect.provide(layer)
      )
      expect(response!.error).toBeInstanceOf(LoamyError.TimeoutError)
      expect(response!.statusCode).toBe(200)
      expect(response!.headers["x-stalled"]).toBe("yes")
      expect(response!.body).toBeNull()
    }), 20_000)
})

describe("on NodeHttpClient.layerNodeHttp (node:http)", () => {
  it.live("an unsolicited 100 Continue before the final response is skipped", () =>
    Effect.gen(function*() {
      const sockets = new Set<net.Socket>()
      const raw = net.createServer((socket) => {
        sockets.add(socket)
        socket.once("data", () => {
          socket.write("HTTP/1.1 100 Continue\r\n\r\n")
          socket.write("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}")
        })
      })
      yield* Effect.promise(() => new Promise<void>((resolve) => raw.listen(0, "127.0.0.1", resolve)))
      const port = (raw.address() as AddressInfo).port
      const [response] = yield* Clump.send(Clump.make([get(`http://127.0.0.1:${port}/`)])).pipe(
        Effect.provide(NodeHttpClient.layerNodeHttp),
        Effect.ensuring(Effect.promise(() => {
          for (const socket of sockets) socket.destroy()
          return new Promise((resolve) => raw.close(resolve))
        }))
      )
      expect(response!.error).toBeUndefined()
      expect([response!.statusCode, response!.body]).toEqual([200, { ok: true }])
    }), 20_000)
})
