/**
 * Request fields are read as own properties only: an inherited `headers` or
 * `body` (a request made with `Object.create`, or a polluted
 * `Object.prototype`) is never sent, and neither is an inherited name of a
 * headers or query record.
 */
import { it } from "@effect/vitest"
import { Clump, type RequestMap } from "@loamy/core"
import { type HostileServer, startHostile } from "@loamy/test-kit"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect } from "vitest"
import { clients } from "./helpers.js"

let server: HostileServer
beforeAll(async () => {
  server = await startHostile()
})
afterAll(() => server.close())

type Polluted = { headers?: unknown; body?: unknown; queryParams?: unknown }

/** Runs `self` with `Object.prototype.headers`, `.body` and `.queryParams` set (as a pollution would), restored after. */
const polluted = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const proto = Object.prototype as Polluted
      proto.headers = { "x-injected": "yes" }
      proto.body = { injected: true }
      proto.queryParams = { injected: "yes" }
    }),
    () => self,
    () =>
      Effect.sync(() => {
        const proto = Object.prototype as Polluted
        delete proto.headers
        delete proto.body
        delete proto.queryParams
      })
  )

for (const [name, layer] of clients) {
  describe(`over ${name}`, () => {
    it.live("a request made with Object.create({ headers, body }) sends neither", () =>
      Effect.gen(function*() {
        server.arrivals.length = 0
        const request = Object.create({ headers: { "x-inherited": "yes" }, body: { inherited: true } })
        request.url = `${server.url}/inherited`
        request.httpOp = "POST"
        const [response] = yield* Clump.send(Clump.make([request as RequestMap.RequestMapInput]))
        expect(response!.error).toBeUndefined()
        const arrival = server.arrivals[0]!
        expect(arrival.headers["x-inherited"]).toBeUndefined()
        expect(arrival.raw).toBe("")
        // Inherited names of a headers record are not sent either, with or without default headers.
        const headers = Object.create({ "x-inherited": "yes" })
        headers["x-own"] = "yes"
        for (const options of [{}, { headers: { "x-default": "yes" } }]) {
          server.arrivals.length = 0
          yield* Clump.send(Clump.make([{ url: `${server.url}/record`, httpOp: "GET", headers }], options))
          expect(server.arrivals[0]!.headers["x-own"]).toBe("yes")
          expect(server.arrivals[0]!.headers["x-inherited"]).toBeUndefined()
        }
      }).pipe(Effect.provide(layer)))

    it.live("with Object.prototype.headers, .body and .queryParams polluted, nothing injected is sent", () =>
      Effect.gen(function*() {
        server.arrivals.length = 0
        const responses = yield* polluted(Clump.send(Clump.make([
          { url: `${server.url}/bare`, httpOp: "GET" },
          { url: `${server.url}/own`, httpOp: "POST", body: { own: 1 }, headers: { "x-own": "1" }, queryParams: { q: "1" } }
        ], { headers: { "x-default": "1" } })))
        // Without options, none is read from the prototype either (default headers, say); and a method not sent
        // before in this process, whose blank request the engine makes (and keeps) now.
        const noOptions = yield* polluted(Clump.send(Clump.make([
          { url: `${server.url}/no-options`, httpOp: "PATCH", body: { own: 2 } }
        ])))
        if (name !== "FetchHttpClient.layer") expect(noOptions[0]!.error).toBeUndefined()
        const plain = server.arrivals.find((a) => a.url.startsWith("/no-options"))!
        expect([plain.url, plain.raw, plain.headers["x-injected"]]).toEqual(["/no-options", "{\"own\":2}", undefined])
        if (name === "FetchHttpClient.layer") {
          // Node's own fetch reads a polluted `Object.prototype.body` (its RequestInit conversion) and refuses a
          // GET "with a body": it fails typed, and nothing is sent. loamy itself adds nothing.
          expect(responses[0]!.error?._tag).toBe("InvalidRequestError")
        } else {
          expect(responses.map((r) => r.error)).toEqual([undefined, undefined])
          expect(server.arrivals.map((a) => a.url).sort()).toEqual(["/bare", "/no-options", "/own?q=1"])
        }
        const bare = server.arrivals.find((a) => a.url.startsWith("/bare"))
        const own = server.arrivals.find((a) => a.url.startsWith("/own"))!
        if (bare !== undefined) expect([bare.url, bare.raw]).toEqual(["/bare", ""])
        expect(own.url).toBe("/own?q=1")
        expect(own.raw).toBe("{\"own\":1}")
        for (const arrival of server.arrivals) {
          if (arrival !== plain) expect(arrival.headers["x-default"]).toBe("1")
          expect(arrival.headers["x-injected"]).toBeUndefined()
          expect(Object.keys(arrival.headers).filter((h) => ["headers", "body", "queryparams"].includes(h))).toEqual([])
        }
      }).pipe(Effect.provide(layer)))
  })
}
