import { start, type TestServer } from "@loamy/test-server"
import { sendRequests } from "loamy"
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
})
