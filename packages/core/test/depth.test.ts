/**
 * JSON nested deeper than `RequestMap.maxJsonDepth` (1,000 levels): a
 * response body becomes that response's own `BodyDecodeError` (no door
 * could carry the value: structured clone and `JSON.stringify` overflow the
 * stack a few thousand levels down), and a request body is refused as bad
 * input naming its index and the field `body`, while the rest of the batch
 * goes on.
 */
import { it } from "@effect/vitest"
import { Clump, LoamyError, RequestMap } from "@loamy/core"
import { deepArray, deepValue, type HostileServer, startHostile } from "@loamy/test-kit"
import { Effect, Stream } from "effect"
import { afterAll, beforeAll, describe, expect } from "vitest"
import { clients } from "./helpers.js"

let server: HostileServer
beforeAll(async () => {
  server = await startHostile()
})
afterAll(() => server.close())

it("the limit is 1,000 levels", () => {
  expect(RequestMap.maxJsonDepth).toBe(1000)
})

for (const [name, layer] of clients) {
  describe(`response bodies over ${name}`, () => {
    it.live("a body nested 5,000 or 100,000 levels deep is that response's BodyDecodeError; the others are kept", () =>
      Effect.gen(function*() {
        const responses = yield* Clump.send(Clump.make([
          { url: `${server.url}/deep?n=5000`, httpOp: "GET" },
          { url: `${server.url}/ok`, httpOp: "GET" },
          { url: `${server.url}/deep?n=100000`, httpOp: "GET" }
        ]))
        for (const [i, n] of [[0, 5000], [2, 100_000]] as const) {
          const response = responses[i]!
          expect(response.error).toBeInstanceOf(LoamyError.BodyDecodeError)
          expect((response.error as LoamyError.BodyDecodeError).detail).toContain("nested deeper than 1000 levels")
          expect(response.error!.message).toContain("nested deeper than 1000 levels")
          // Status, headers and the text are kept, as for any body that is not JSON.
          expect(response.statusCode).toBe(200)
          expect(response.headers["x-kept"]).toBe("yes")
          expect(response.body).toEqual({ text: deepArray(n) })
        }
        expect(responses[1]!.error).toBeUndefined()
        expect(responses[1]!.body).toEqual({ ok: true })
        // What every door does with the results works.
        expect(() => JSON.stringify(responses)).not.toThrow()
        expect(() => structuredClone(responses.map((r) => r.body))).not.toThrow()
      }).pipe(Effect.provide(layer)), 60_000)

    it.live("a body exactly 1,000 levels deep is parsed; 1,001 is not", () =>
      Effect.gen(function*() {
        const [atLimit, past] = yield* Clump.send(Clump.make([
          { url: `${server.url}/deep?n=1000`, httpOp: "GET" },
          { url: `${server.url}/deep?n=1001`, httpOp: "GET" }
        ]))
        expect(atLimit!.error).toBeUndefined()
        expect(atLimit!.body).toEqual(deepValue(1000))
        expect(past!.error).toBeInstanceOf(LoamyError.BodyDecodeError)
      }).pipe(Effect.provide(layer)))
  })
}

describe("request bodies", () => {
  const [, undici] = clients[1]!

  it.live("a body nested deeper than 1,000 levels is refused as bad input naming its index and `body`", () =>
    Effect.gen(function*() {
      const arrived = server.arrivals.length
      for (const depth of [1001, 10_000]) {
        const error = yield* Effect.flip(Clump.send(Clump.make([
          { url: `${server.url}/a`, httpOp: "GET" },
          { url: `${server.url}/b`, httpOp: "POST", body: deepValue(depth) }
        ])))
        expect(error).toBeInstanceOf(LoamyError.InvalidInputError)
        const invalid = error as LoamyError.InvalidInputError
        expect(invalid.index).toBe(1)
        expect(invalid.field).toBe("body")
        expect(invalid.detail).toBe("is nested deeper than 1000 levels")
      }
      expect(server.arrivals.length).toBe(arrived)
      // At the limit it is sent.
      const [response] = yield* Clump.send(Clump.make([
        { url: `${server.url}/at-limit`, httpOp: "POST", body: deepValue(1000) }
      ]))
      expect(response!.error).toBeUndefined()
      expect(server.arrivals.at(-1)!.raw).toBe(deepArray(1000))
    }).pipe(Effect.provide(undici)))

  it.live("a JSONL line nested 10,000 levels deep is refused at its own index; the other lines are sent", () =>
    Effect.gen(function*() {
      server.arrivals.length = 0
      const deepLine = `{"url":"${server.url}/deep-line","httpOp":"POST","body":${deepArray(10_000)}}`
      const lines = [
        `{"url":"${server.url}/first","httpOp":"GET"}`,
        deepLine,
        `{"url":"${server.url}/last","httpOp":"GET"}`
      ]
      const out = yield* Stream.runCollect(Clump.streamFrom(Stream.fromIterable(lines), { ordered: true }))
      const responses = out
      expect(responses.map((r) => r.index)).toEqual([0, 1, 2])
      const refused = responses[1]!.response
      expect(refused.error).toBeInstanceOf(LoamyError.InvalidInputError)
      expect((refused.error as LoamyError.InvalidInputError).index).toBe(1)
      expect((refused.error as LoamyError.InvalidInputError).field).toBe("body")
      // The refused item is its text, which any door can carry.
      expect(refused.requestMap).toBe(deepLine)
      expect(() => JSON.stringify(responses)).not.toThrow()
      expect(responses[0]!.response.statusCode).toBe(200)
      expect(responses[2]!.response.statusCode).toBe(200)
      expect(server.arrivals.map((a) => a.url).sort()).toEqual(["/first", "/last"])
    }).pipe(Effect.provide(undici)))

  it("validateItem and parseJson refuse deep text without building it", () => {
    const line = `{"url":"http://x/","httpOp":"POST","body":${deepArray(100_000)}}`
    const checked = RequestMap.validateItem(line, 4)
    expect(checked._tag).toBe("Failure")
    if (checked._tag === "Failure") expect([checked.failure.index, checked.failure.field]).toEqual([4, "body"])
    expect(() => RequestMap.parseJson(line)).toThrow(RangeError)
    // Brackets inside strings do not count.
    const inString = `{"url":"http://x/","httpOp":"POST","body":${JSON.stringify("[".repeat(5000))}}`
    expect(RequestMap.validateItem(inString, 0)._tag).toBe("Success")
  })
})
