/**
 * Big integers are not changed silently: a request read from JSON text (a
 * JSONL line, a stream item) keeps its numbers digit for digit when sent,
 * and with `exactNumbers` a response body keeps them too, as `JSON.rawJSON`
 * values that `JSON.stringify` writes back exactly.
 */
import { it } from "@effect/vitest"
import { Clump, LoamyError, Options, RequestMap, RequestResponse } from "@loamy/core"
import { bigNumbersText, type HostileServer, startHostile } from "@loamy/test-kit"
import { Effect, Result, Schema, Stream } from "effect"
import { afterAll, beforeAll, describe, expect } from "vitest"
import { clients } from "./helpers.js"

let server: HostileServer
beforeAll(async () => {
  server = await startHostile()
})
afterAll(() => server.close())

const isRawJSON = (JSON as unknown as { isRawJSON(u: unknown): boolean }).isRawJSON
const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON

const [, undici] = clients[1]!

describe("request bodies read from JSON text", () => {
  it.live("a JSONL line's 12345678901234567890 and 9007199254740993 reach the server digit for digit", () =>
    Effect.gen(function*() {
      server.arrivals.length = 0
      const line = `{"url":"${server.url}/in","httpOp":"POST","body":{"id":12345678901234567890,"n":9007199254740993}}`
      const out = yield* Stream.runCollect(Clump.streamFrom(Stream.make(line)))
      expect((out)[0]!.response.error).toBeUndefined()
      expect(server.arrivals[0]!.raw).toBe("{\"id\":12345678901234567890,\"n\":9007199254740993}")
    }).pipe(Effect.provide(undici)))

  it("parseJson keeps the numbers a JS number would change, and only those", () => {
    const parsed = RequestMap.parseJson(
      "[12345678901234567890,9007199254740993,9007199254740992,1.5,1.0,1E5,100000000000000000000,1e400,1e-400," +
        "0.1000000000000000055511151231257827,123456789.0123456789,5e-324,-0,\"12345678901234567890\"]"
    ) as Array<unknown>
    const exact = parsed.map((value) => isRawJSON(value))
    expect(exact).toEqual([true, true, false, false, false, false, false, true, true, true, true, false, false, false])
    expect(parsed.slice(2, 7)).toEqual([9007199254740992, 1.5, 1, 100000, 1e20])
    expect(JSON.stringify(parsed)).toBe(
      "[12345678901234567890,9007199254740993,9007199254740992,1.5,1,100000,100000000000000000000,1e400,1e-400," +
        "0.1000000000000000055511151231257827,123456789.0123456789,5e-324,0,\"12345678901234567890\"]"
    )
    // Asked not to, it is JSON.parse.
    expect(RequestMap.parseJson("[9007199254740993]", { exactNumbers: false })).toEqual([9007199254740992])
  })

  it.live("a caller's body may hold JSON.rawJSON values: accepted and sent as their text", () =>
    Effect.gen(function*() {
      server.arrivals.length = 0
      const body = { id: rawJSON("12345678901234567890") }
      expect(Result.isSuccess(RequestMap.validateAt({ url: `${server.url}/raw`, httpOp: "POST", body }, 0))).toBe(true)
      expect(Schema.is(RequestMap.RequestMap)({ url: `${server.url}/raw`, httpOp: "POST", body })).toBe(true)
      const [response] = yield* Clump.send(Clump.make([{ url: `${server.url}/raw`, httpOp: "POST", body }]))
      expect(response!.error).toBeUndefined()
      expect(server.arrivals[0]!.raw).toBe("{\"id\":12345678901234567890}")
    }).pipe(Effect.provide(undici)))
})

for (const [name, layer] of clients) {
  describe(`response bodies over ${name}`, () => {
    it.live("with exactNumbers, kept digit for digit; without, plain JS numbers", () =>
      Effect.gen(function*() {
        const [exact] = yield* Clump.send(Clump.make([{ url: `${server.url}/numbers`, httpOp: "GET" }], {
          exactNumbers: true
        }))
        expect(exact!.error).toBeUndefined()
        const body = exact!.body as { id: unknown; n: unknown; f: unknown }
        expect(isRawJSON(body.id)).toBe(true)
        expect(isRawJSON(body.n)).toBe(true)
        expect(body.f).toBe(1.5)
        expect(JSON.stringify(body)).toBe(bigNumbersText)
        const [plain] = yield* Clump.send(Clump.make([{ url: `${server.url}/numbers`, httpOp: "GET" }]))
        expect(plain!.body).toEqual({ id: 12345678901234567000, n: 9007199254740992, f: 1.5 })
      }).pipe(Effect.provide(layer)))
  })
}

describe("the option and the wire form", () => {
  it("exactNumbers is an option like the others: false by default, checked, kept by toOptions", () => {
    const resolved = Result.getOrThrow(Options.decode({ exactNumbers: true }))
    expect(resolved.exactNumbers).toBe(true)
    expect(Result.getOrThrow(Options.decode({})).exactNumbers).toBe(false)
    expect(Result.getOrThrow(Options.decode(Options.toOptions(resolved))).exactNumbers).toBe(true)
    const refused = Options.decode({ exactNumbers: "yes" })
    expect(Result.isFailure(refused) && refused.failure).toBeInstanceOf(LoamyError.InvalidOptionsError)
    expect(Result.isFailure(refused) && refused.failure.option).toBe("exactNumbers")
  })

  it("the encoded forms are plain data any transport carries: exact numbers become JS numbers there", () => {
    const body = { id: rawJSON("12345678901234567890"), list: [rawJSON("9007199254740993"), 1] }
    const requestMap = { url: "http://127.0.0.1:1/", httpOp: "POST" as const, body }
    const response: RequestResponse.RequestResponse = {
      requestMap,
      statusCode: 200,
      body,
      headers: {},
      elapsedMs: 1,
      attempts: 1
    }
    const encoded = RequestResponse.encodeArray([response])
    // structuredClone refuses JSON.rawJSON values: the encoded form has none.
    const cloned = structuredClone(encoded)
    expect(cloned[0]!.body).toEqual({ id: 12345678901234567000, list: [9007199254740992, 1] })
    expect((cloned[0]!.requestMap as { readonly body?: unknown }).body).toEqual({ id: 12345678901234567000, list: [9007199254740992, 1] })
    // The values themselves are untouched.
    expect(JSON.stringify(response.body)).toBe("{\"id\":12345678901234567890,\"list\":[9007199254740993,1]}")
  })
})
