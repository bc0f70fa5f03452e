import { Clump } from "@loamy/core"
import { waitUntil } from "@loamy/test-kit"
import { start, type TestServer } from "@loamy/test-server"
import { Effect, Layer, Schedule } from "effect"
import { HttpClient } from "effect/http"
import { sendRequests } from "loamy"
import * as UndiciHttpClient from "loamy/UndiciHttpClient"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

let server: TestServer
beforeAll(async () => {
  server = await start()
})
afterAll(() => server.close())

describe("sockets per call", () => {
  it("opens at most as many connections as the call's concurrency", async () => {
    server.resetStats()
    const batch = Array.from({ length: 500 }, () => ({ url: `${server.url}/`, httpOp: "GET" as const }))
    const responses = await sendRequests(batch, { concurrency: 16 })
    expect(responses.filter((r) => r.statusCode === 200)).toHaveLength(500)
    expect(server.stats.requests).toBe(500)
    expect(server.stats.connections).toBeGreaterThan(0)
    expect(server.stats.connections).toBeLessThanOrEqual(16)
    expect(server.stats.maxInFlight).toBeLessThanOrEqual(16)

    // A call of another concurrency is capped at its own.
    server.resetStats()
    const small = await sendRequests(batch.slice(0, 100), { concurrency: 4 })
    expect(small.filter((r) => r.statusCode === 200)).toHaveLength(100)
    expect(server.stats.connections).toBeLessThanOrEqual(4)

    // The same concurrency again reuses the first call's keep-alive sockets.
    server.resetStats()
    await sendRequests(batch, { concurrency: 16 })
    expect(server.stats.connections).toBe(0)
  }, 60_000)

  it("caps each call of the core at its concurrency on the Effect layer too, and closes those sockets with the layer", async () => {
    // A server of its own: the doors' keep-alive sockets to the shared one would count as open.
    const own = await start()
    try {
      const batch = Array.from({ length: 500 }, () => ({ url: `${own.url}/`, httpOp: "GET" as const }))
      const counts = await Effect.runPromise(
        Effect.gen(function*() {
          const responses = yield* Clump.send(Clump.make(batch, { concurrency: 16 }))
          const first = { ok: responses.filter((r) => r.statusCode === 200).length, ...own.stats }
          own.resetStats()
          yield* Clump.send(Clump.make(batch.slice(0, 100), { concurrency: 4 }))
          const second = { ...own.stats }
          // A per-origin bound lower than the concurrency caps the sockets at it.
          own.resetStats()
          yield* Clump.send(Clump.make(batch.slice(0, 100), { concurrency: 64, concurrencyPerOrigin: 2 }))
          const perOrigin = { ...own.stats }
          return { first, second, perOrigin, open: own.stats.openConnections }
        }).pipe(Effect.provide(UndiciHttpClient.layer))
      )
      expect(counts.first.ok).toBe(500)
      expect(counts.first.connections).toBeGreaterThan(0)
      expect(counts.first.connections).toBeLessThanOrEqual(16)
      expect(counts.second.connections).toBeLessThanOrEqual(4)
      expect(counts.perOrigin.connections).toBeLessThanOrEqual(2)
      expect(counts.open).toBeGreaterThan(0)
      // The layer is closed: its capped agents' keep-alive sockets are gone.
      expect(await waitUntil(() => own.stats.openConnections === 0)).toBe(true)
    } finally {
      await own.close()
    }
  }, 60_000)

  it("leaves a layer with its own connections cap alone", async () => {
    const batch = Array.from({ length: 300 }, () => ({ url: `${server.url}/`, httpOp: "GET" as const }))
    server.resetStats()
    await Effect.runPromise(
      Clump.send(Clump.make(batch, { concurrency: 32 })).pipe(Effect.provide(UndiciHttpClient.layerWith({ connections: 3 })))
    )
    expect(server.stats.maxInFlight).toBeLessThanOrEqual(3)
  }, 60_000)

  it("keeps the cap per call through the user's middleware around loamy's client (counted at the server)", async () => {
    // A server of its own, and a layer per run: every socket the server accepts is this call's.
    const own = await start()
    try {
      const middleware: Record<string, (client: HttpClient.HttpClient) => HttpClient.HttpClient> = {
        "mapRequest((r) => r)": HttpClient.mapRequest((r) => r),
        "tapRequest": HttpClient.tapRequest(() => Effect.void),
        "retry": HttpClient.retry({ times: 1, schedule: Schedule.spaced(1) })
      }
      for (const [name, wrap] of Object.entries(middleware)) {
        own.resetStats()
        // As a user writes it: loamy's layer, and their middleware around the client it provides.
        const wrapped = Layer.effect(HttpClient.HttpClient, Effect.map(HttpClient.HttpClient, wrap)).pipe(
          Layer.provideMerge(UndiciHttpClient.layer)
        )
        const batch = Array.from({ length: 200 }, () => ({ url: `${own.url}/delay/5`, httpOp: "GET" as const }))
        const responses = await Effect.runPromise(
          Clump.send(Clump.make(batch, { concurrency: 8 })).pipe(Effect.provide(wrapped))
        )
        expect(responses.filter((r) => r.statusCode === 200), name).toHaveLength(200)
        expect(own.stats.connections, name).toBeGreaterThan(0)
        expect(own.stats.connections, name).toBeLessThanOrEqual(8)
        expect(own.stats.maxInFlight, name).toBeLessThanOrEqual(8)
      }
    } finally {
      await own.close()
    }
  }, 60_000)
})
