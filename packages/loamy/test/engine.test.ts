/**
 * The engine's fixes at loamy's doors, on loamy's own undici layer: an unsolicited `100 Continue` is skipped, the
 * rate limit holds for any interval of its length (as a server in a process of its own measures starts), and a
 * body that stalls after its headers keeps the status and headers with its `TimeoutError`. The synchronous door
 * blocks this thread, so its server runs in a child process.
 */
import { arrivalSlack, shortestSpan } from "@loamy/test-server"
import { Clump } from "@loamy/core"
import { Effect } from "effect"
import { sendRequests, sendRequestsSync } from "loamy"
import * as UndiciHttpClient from "loamy/UndiciHttpClient"
import * as net from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RemoteServer, startRemote } from "./helpers.js"

/**
 * A raw HTTP/1.1 server: every request gets `HTTP/1.1 100 Continue` (it asked for none) and then a 200, written
 * as `writes` pieces (a split 100 tests the parser across reads), on a connection kept alive.
 */
const continueServer = async (split: boolean) => {
  const sockets = new Set<net.Socket>()
  let requests = 0
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
    let pending = ""
    socket.on("data", (data) => {
      pending += data.toString("latin1")
      // One answer per request head (these requests have no body).
      while (pending.includes("\r\n\r\n")) {
        pending = pending.slice(pending.indexOf("\r\n\r\n") + 4)
        const n = requests++
        const body = JSON.stringify({ n })
        const interim = "HTTP/1.1 100 Continue\r\n\r\n"
        const final = `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-final: yes\r\ncontent-length: ${body.length}\r\n\r\n${body}`
        if (split) {
          socket.write(interim.slice(0, 12))
          setImmediate(() => {
            socket.write(interim.slice(12))
            setImmediate(() => socket.write(final))
          })
        } else {
          socket.write(interim + final)
        }
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    connections: () => sockets.size,
    close: () => {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(resolve))
    }
  }
}

describe("an unsolicited 100 Continue", () => {
  it("is skipped at the Promise door: the final response is the result, on a connection kept alive", async () => {
    for (const split of [false, true]) {
      const server = await continueServer(split)
      try {
        const responses = await sendRequests(
          Array.from({ length: 3 }, (_, i) => ({ url: `${server.url}/?i=${i}`, httpOp: "GET" as const })),
          { concurrency: 1 }
        )
        expect(responses.map((r) => [r.statusCode, r.error?._tag, r.headers["x-final"]]), `split: ${split}`).toEqual(
          [[200, undefined, "yes"], [200, undefined, "yes"], [200, undefined, "yes"]]
        )
        expect(responses.map((r) => (r.body as { n: number }).n)).toEqual([0, 1, 2])
        // One after the other on one socket: the 100s did not cost the connection.
        expect(server.connections()).toBe(1)
      } finally {
        await server.close()
      }
    }
  })

  it("is skipped by the Effect door on UndiciHttpClient.layer", async () => {
    const server = await continueServer(false)
    try {
      const [response] = await Clump.send(Clump.make([{ url: `${server.url}/`, httpOp: "GET" }])).pipe(
        Effect.provide(UndiciHttpClient.layer),
        Effect.runPromise
      )
      expect([response!.statusCode, response!.error, response!.body]).toEqual([200, undefined, { n: 0 }])
    } finally {
      await server.close()
    }
  })
})

let remote: RemoteServer
beforeAll(async () => {
  remote = await startRemote()
})
afterAll(async () => {
  await remote?.close()
})

/** Arrival times of the requests whose path holds `tag`, sorted. */
const arrivals = async (tag: string) => {
  const stats = await remote.stats()
  return stats.arrivals.filter((_, i) => stats.arrivalPaths[i]!.includes(tag)).sort((a, b) => a - b)
}

const expectSliding = (times: ReadonlyArray<number>, limit: number, intervalMs: number) =>
  expect(shortestSpan(times, limit), times.map(Math.round).join(", "))
    .toBeGreaterThanOrEqual(intervalMs - arrivalSlack(intervalMs))

/** One at a time, the first held 800 ms by the server: a fixed window lets nine start within 200 ms. */
const paced = (tag: string) => [
  { url: `${remote.url}/delay/800?${tag}-0`, httpOp: "GET" as const },
  ...Array.from({ length: 9 }, (_, i) => ({ url: `${remote.url}/?${tag}-${i + 1}`, httpOp: "GET" as const }))
]
const rate = { concurrency: 1, rateLimit: { limit: 5, interval: 1000 } }

describe("rateLimit is sliding", () => {
  it("at the Promise door: no second holds more than 5 starts", async () => {
    await sendRequests([{ url: `${remote.url}/?warm`, httpOp: "GET" }])
    const tag = `promise-${process.pid}-${Date.now()}`
    const responses = await sendRequests(paced(tag), rate)
    expect(responses.every((r) => r.statusCode === 200)).toBe(true)
    const times = await arrivals(tag)
    expect(times).toHaveLength(10)
    expectSliding(times, 5, 1000)
  }, 20_000)

  it("at the synchronous door: no second holds more than 5 starts", async () => {
    sendRequestsSync([{ url: `${remote.url}/?warm`, httpOp: "GET" }])
    const tag = `sync-${process.pid}-${Date.now()}`
    const responses = sendRequestsSync(paced(tag), rate)
    expect(responses.every((r) => r.statusCode === 200)).toBe(true)
    const times = await arrivals(tag)
    expect(times).toHaveLength(10)
    expectSliding(times, 5, 1000)
  }, 20_000)
})

describe("a body that stalls after a 200", () => {
  it("keeps its status and headers with the TimeoutError, at the Promise and synchronous doors", async () => {
    // /slow-body sends its headers and the start of a JSON body at once, the rest after 5 s.
    const request = { url: `${remote.url}/slow-body?ms=5000`, httpOp: "GET" as const }
    for (const [door, response] of [
      ["promise", (await sendRequests([request], { timeout: 400 }))[0]!],
      ["sync", sendRequestsSync([request], { timeout: 400 })[0]!]
    ] as const) {
      expect(response.error?._tag, door).toBe("TimeoutError")
      expect(response.statusCode, door).toBe(200)
      expect(response.headers["content-type"], door).toBe("application/json")
      expect(response.body, door).toBeNull()
    }
  }, 20_000)
})
