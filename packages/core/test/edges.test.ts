/**
 * Smaller edges: response header names that are `Object.prototype` members
 * are kept as the headers they are; a hand-set `Host` does not follow a
 * redirect to another origin; a body whose `toJSON` cannot be written is bad
 * input naming its index and field.
 */
import { it } from "@effect/vitest"
import { Clump, LoamyError, RequestResponse } from "@loamy/core"
import { type HostileServer, startHostile } from "@loamy/test-kit"
import { start, type TestServer } from "@loamy/test-server"
import { Effect, Schema } from "effect"
import { afterAll, beforeAll, describe, expect } from "vitest"
import { clients } from "./helpers.js"

let server: TestServer
let hostile: HostileServer
beforeAll(async () => {
  server = await start()
  hostile = await startHostile()
})
afterAll(async () => {
  await server.close()
  await hostile.close()
})

const [, undici] = clients[1]!

for (const [name, layer] of clients) {
  describe(`response headers over ${name}`, () => {
    it.live("named __proto__, constructor and toString: own properties, kept by the Schema encoding", () =>
      Effect.gen(function*() {
        const [response] = yield* Clump.send(Clump.make([{ url: `${hostile.url}/odd-headers`, httpOp: "GET" }]))
        const headers = response!.headers
        for (const [header, value] of [["__proto__", "p"], ["constructor", "c"], ["tostring", "t"]]) {
          expect(Object.hasOwn(headers, header)).toBe(true)
          expect(headers[header]).toBe(value)
        }
        // No inherited member reads as a header.
        expect(headers["hasOwnProperty"]).toBeUndefined()
        const json = JSON.stringify(RequestResponse.encodeArray([response!]))
        expect(json).toContain("\"__proto__\":\"p\"")
        const [back] = RequestResponse.decodeArray(JSON.parse(json))
        expect(Object.hasOwn(back!.headers, "__proto__")).toBe(true)
        expect(back!.headers["__proto__"]).toBe("p")
        expect(back!.headers["constructor"]).toBe("c")
        expect(Schema.is(RequestResponse.RequestResponse)(back)).toBe(true)
      }).pipe(Effect.provide(layer)))
  })
}

describe("redirects", () => {
  it.live("a hand-set Host is dropped when a redirect leaves the origin, and kept when it does not", () =>
    Effect.gen(function*() {
      const other = new URL(server.otherUrl)
      const [across, same] = yield* Clump.send(Clump.make([
        { url: `${server.url}/redirect-to-other-origin?path=/echo`, httpOp: "GET", headers: { Host: "hand-set.test" } },
        { url: `${server.url}/redirect?to=/echo`, httpOp: "GET", headers: { Host: "hand-set.test" } }
      ]))
      expect(across!.statusCode).toBe(200)
      expect((across!.body as { headers: Record<string, string> }).headers["host"]).toBe(other.host)
      expect((same!.body as { headers: Record<string, string> }).headers["host"]).toBe("hand-set.test")
    }).pipe(Effect.provide(undici)))
})

describe("bodies whose toJSON cannot be written", () => {
  const cycle: Record<string, unknown> = {}
  cycle["self"] = cycle
  const cases = [
    ["returns a BigInt", { toJSON: () => 10n }, /BigInt/],
    ["builds a cycle", { toJSON: () => cycle }, /circular/],
    ["throws", { toJSON: () => { throw new Error("no JSON for you") } }, /no JSON for you/]
  ] as const
  for (const [what, body, detail] of cases) {
    it.live(`a toJSON that ${what} is an InvalidInputError naming the index and body, nothing sent`, () =>
      Effect.gen(function*() {
        const before = hostile.arrivals.length
        const error = yield* Effect.flip(Clump.send(Clump.make([
          { url: `${hostile.url}/fine`, httpOp: "GET" },
          { url: `${hostile.url}/bad`, httpOp: "POST", body: { nested: [body] } }
        ])))
        expect(error).toBeInstanceOf(LoamyError.InvalidInputError)
        const invalid = error as LoamyError.InvalidInputError
        expect([invalid.index, invalid.field]).toEqual([1, "body"])
        expect(invalid.detail).toMatch(detail)
        expect(hostile.arrivals.length).toBe(before)
      }).pipe(Effect.provide(undici)))
  }
})
