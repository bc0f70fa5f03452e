/**
 * Typed bodies at the Effect door: a clump's body schema decodes 2xx bodies,
 * a mismatch is folded as a BodyDecodeError with Schema's issues (status,
 * headers and the JSON as it arrived kept), other statuses stay untyped, and
 * typed responses survive the trip through their schema.
 */
import type { HttpClient } from "effect/http"
import { it } from "@effect/vitest"
import { Clump, LoamyError, Options, type RequestMap, RequestResponse } from "@loamy/core"
import { start, type TestServer } from "@loamy/test-server"
import { Context, Effect, type Layer, Result, Schema, SchemaGetter, SchemaIssue, Stream } from "effect"
import { afterAll, beforeAll, describe, expect } from "vitest"
import { clients } from "./helpers.js"

/** What /echo answers: the request as the server saw it. */
const Item = Schema.Struct({ id: Schema.Number, name: Schema.String })
const Echo = Schema.Struct({
  method: Schema.String,
  query: Schema.Record(Schema.String, Schema.String),
  body: Item
})

/** /echo with the item as its JSON body. */
const echo = (server: TestServer, body: unknown, httpOp: "POST" | "PUT" = "POST"): RequestMap.RequestMap => ({
  url: `${server.url}/echo`,
  httpOp,
  body
})

const randomItem = () => ({ id: Math.floor(Math.random() * 1e6), name: `n-${Math.random().toString(36).slice(2, 8)}` })

const typed = (name: string, layer: Layer.Layer<HttpClient.HttpClient>) =>
  describe(`typed bodies over ${name}`, () => {
    let server: TestServer
    beforeAll(async () => {
      server = await start()
    })
    afterAll(() => server.close())

    const run = <A, E>(effect: Effect.Effect<A, E, HttpClient.HttpClient>) => Effect.provide(effect, layer)

    it.live("decodes matching 2xx bodies: isDecoded narrows body to the schema's type", () =>
      run(Effect.gen(function*() {
        const items = Array.from({ length: 12 }, randomItem)
        const responses = yield* Clump.send(Clump.make(items.map((item) => echo(server, item)), { body: Echo }))
        expect(responses).toHaveLength(items.length)
        responses.forEach((response, i) => {
          expect(response.error).toBeUndefined()
          expect(response.statusCode).toBe(200)
          expect(RequestResponse.isDecoded(response)).toBe(true)
          if (!RequestResponse.isDecoded(response)) return
          expect(response.body.body).toEqual(items[i])
          expect(response.body.method).toBe("POST")
          // Decoded by the Struct: the echoed headers and path are not part of the schema, so they are gone.
          expect(response.body).not.toHaveProperty("headers")
        })
      })))

    it.live("folds a mismatch as a BodyDecodeError with every issue's path; status, headers and the JSON are kept", () =>
      run(Effect.gen(function*() {
        const good = randomItem()
        const badId = `id-${Math.random().toString(36).slice(2, 8)}`
        const requests = [
          echo(server, good),
          { ...echo(server, { id: badId }), queryParams: { secret: "s3cret" } },
          echo(server, good)
        ]
        const responses = yield* Clump.send(Clump.make(requests, { body: Echo }))
        expect(responses.map((r) => r.error?._tag)).toEqual([undefined, "BodyDecodeError", undefined])
        const failed = responses[1]!
        expect(RequestResponse.isDecoded(failed)).toBe(false)
        expect(failed.statusCode).toBe(200)
        expect(failed.headers["content-type"]).toContain("application/json")
        // The body is the JSON as it arrived, the headers the server echoed included.
        expect(failed.body).toMatchObject({ method: "POST", query: { secret: "s3cret" }, body: { id: badId } })
        expect(failed.body).toHaveProperty("headers")
        const error = failed.error as LoamyError.BodyDecodeError
        expect(error).toBeInstanceOf(LoamyError.BodyDecodeError)
        expect(error.statusCode).toBe(200)
        expect(error.method).toBe("POST")
        // Origin and path: the query string (a secret here) is in the response's requestMap only.
        expect(error.url).toBe(`${server.url}/echo`)
        // Effect 4's own wording (Effect 3 said `Expected number, actual "..."` and `is missing`).
        expect(error.issues).toEqual([
          { path: ["body", "id"], message: "Expected number" },
          { path: ["body", "name"], message: "Missing key" }
        ])
        expect(error.detail).toBe(`body.id: ${error.issues![0]!.message}`)
        expect(error.message).toBe(
          `POST ${server.url}/echo answered 200 with a body that does not match the schema at body.id: ` +
            `${error.issues![0]!.message} (and 1 more)`
        )
        expect(error.message).not.toContain("s3cret")
      })))

    it.live("non-JSON bodies keep the plain BodyDecodeError (no issues) and the body { text }", () =>
      run(Effect.gen(function*() {
        const [text, truncated] = yield* Clump.send(
          Clump.make([
            { url: `${server.url}/text`, httpOp: "GET" },
            { url: `${server.url}/truncated`, httpOp: "GET" }
          ], { body: Echo })
        )
        for (const response of [text!, truncated!]) {
          expect(response.statusCode).toBe(200)
          expect(response.error).toBeInstanceOf(LoamyError.BodyDecodeError)
          expect((response.error as LoamyError.BodyDecodeError).issues).toBeUndefined()
          expect(response.error!.message).toContain("with a body that is not JSON")
          expect(response.body).toEqual({ text: expect.any(String) })
        }
        expect(text!.body).toEqual({ text: "hello, world" })
      })))

    it.live("leaves non-2xx statuses, 204 and HEAD untyped and without an error", () =>
      run(Effect.gen(function*() {
        const responses = yield* Clump.send(
          Clump.make([
            { url: `${server.url}/status/404`, httpOp: "GET" },
            { url: `${server.url}/status/503`, httpOp: "GET" },
            { url: `${server.url}/status/204`, httpOp: "GET" },
            { url: `${server.url}/`, httpOp: "HEAD" },
            { url: `${server.url}/exception`, httpOp: "GET" }
          ], { body: Echo })
        )
        expect(responses.map((r) => r.statusCode)).toEqual([404, 503, 204, 200, 500])
        expect(responses.map((r) => r.error?._tag)).toEqual([undefined, undefined, undefined, undefined, "BodyDecodeError"])
        expect(responses.map((r) => RequestResponse.isDecoded(r))).toEqual([false, false, false, false, false])
        expect(responses[0]!.body).toEqual({ status: 404 })
        expect(responses[1]!.body).toEqual({ status: 503 })
        expect(responses[2]!.body).toBeNull()
        expect(responses[3]!.body).toBeNull()
        // /exception's HTML: not JSON, whatever the schema.
        expect((responses[4]!.error as LoamyError.BodyDecodeError).issues).toBeUndefined()
      })))

    it.live("returnExceptions: false fails the call on the first mismatch, and succeeds when every body matches", () =>
      run(Effect.gen(function*() {
        const items = Array.from({ length: 5 }, randomItem)
        const ok = yield* Clump.send(
          Clump.make(items.map((item) => echo(server, item)), { body: Echo, returnExceptions: false })
        )
        expect(ok.map((r) => RequestResponse.isDecoded(r) && r.body.body)).toEqual(items)

        server.resetStats()
        const requests = [
          ...Array.from({ length: 4 }, () => ({ url: `${server.url}/delay/3000`, httpOp: "GET" as const })),
          echo(server, { id: "not a number", name: "x" }),
          ...Array.from({ length: 4 }, () => ({ url: `${server.url}/delay/3000`, httpOp: "GET" as const }))
        ]
        const started = Date.now()
        const failed = yield* Effect.result(
          Clump.send(Clump.make(requests, { body: Echo, returnExceptions: false, concurrency: 10 }))
        )
        expect(Date.now() - started).toBeLessThan(2_500)
        expect(Result.isFailure(failed)).toBe(true)
        const error = Result.isFailure(failed) ? failed.failure : undefined
        expect(error).toBeInstanceOf(LoamyError.BodyDecodeError)
        expect((error as LoamyError.BodyDecodeError).issues?.[0]?.path).toEqual(["body", "id"])
      })))

    it.live("Clump.stream and Clump.streamFrom emit typed responses", () =>
      run(Effect.gen(function*() {
        const items = Array.from({ length: 8 }, randomItem)
        const clump = Clump.make(items.map((item) => echo(server, item))).pipe(Clump.withBody(Echo))
        const emitted = yield* Stream.runCollect(Clump.stream(clump, { ordered: true }))
        expect(emitted.map(({ index }) => index)).toEqual(items.map((_, i) => i))
        emitted.forEach(({ index, response }) => {
          expect(RequestResponse.isDecoded(response) && response.body.body).toEqual(items[index])
        })

        const lines = Stream.fromIterable([
          JSON.stringify(echo(server, items[0])),
          JSON.stringify(echo(server, { id: "x", name: "y" })),
          "not json"
        ])
        const fromLines = 
          yield* Stream.runCollect(Clump.streamFrom(lines, { ordered: true, body: Echo }))
        
        expect(fromLines.map(({ response }) => response.error?._tag)).toEqual([
          undefined,
          "BodyDecodeError",
          "InvalidInputError"
        ])
        const [first] = fromLines
        expect(RequestResponse.isDecoded(first!.response) && first!.response.body.body).toEqual(items[0])
      })))
  })

for (const [name, layer] of clients) typed(name, layer)

describe("typed bodies: schemas, options and the wire form", () => {
  let server: TestServer
  beforeAll(async () => {
    server = await start()
  })
  afterAll(() => server.close())

  const layer = clients[1]![1]
  const run = <A, E>(effect: Effect.Effect<A, E, HttpClient.HttpClient>) => Effect.provide(effect, layer)

  it.live("transformations apply: the query's numbers as strings decode to numbers", () =>
    run(Effect.gen(function*() {
      const n = Math.floor(Math.random() * 1e6)
      const Query = Schema.Struct({ query: Schema.Struct({ n: Schema.NumberFromString }) })
      const [response] = yield* Clump.send(
        Clump.make([{ url: `${server.url}/echo`, httpOp: "GET", queryParams: { n: String(n) } }], { body: Query })
      )
      expect(RequestResponse.isDecoded(response!) && response.body.query.n).toBe(n)
    })))

  it.live("a Schema.Class body decodes to instances, and encodes back through RequestResponse.schema", () =>
    run(Effect.gen(function*() {
      class Echoed extends Schema.Class<Echoed>("Echoed")({ body: Item }) {
        get label() {
          return `${this.body.id}:${this.body.name}`
        }
      }
      const item = randomItem()
      const responses = yield* Clump.send(Clump.make([echo(server, item)]).pipe(Clump.withBody(Echoed)))
      const [response] = responses
      expect(RequestResponse.isDecoded(response!) && response.body).toBeInstanceOf(Echoed)
      expect(RequestResponse.isDecoded(response!) && response.body.label).toBe(`${item.id}:${item.name}`)
      const Responses = Schema.Array(RequestResponse.schema(Echoed))
      const json = JSON.parse(JSON.stringify(Schema.encodeSync(Responses)(responses)))
      expect(json[0].body).toEqual({ body: item })
      const [back] = Schema.decodeUnknownSync(Responses)(json)
      expect(RequestResponse.isDecoded(back!) && back.body.label).toBe(`${item.id}:${item.name}`)
    })))

  it.live("asynchronous transformations and a schema's requirements are honoured", () => {
    class Scale extends Context.Service<Scale, number>()("Scale") {}
    const Scaled = Schema.Number.pipe(Schema.decodeTo(Schema.Number, {
      decode: SchemaGetter.transformEffect((n: number) =>
        Effect.map(Effect.andThen(Effect.sleep("5 millis"), Scale), (scale) => n * scale)
      ),
      encode: SchemaGetter.transformEffect((n: number) => Effect.map(Scale, (scale) => n / scale))
    }))
    const Body = Schema.Struct({ body: Schema.Struct({ id: Scaled }) })
    const ids = [3, 11, 42]
    return run(Effect.gen(function*() {
      const responses = yield* Clump.send(
        Clump.make(ids.map((id) => echo(server, { id })), { body: Body, concurrency: 2 })
      ).pipe(Effect.provideService(Scale, 10))
      expect(responses.map((r) => RequestResponse.isDecoded(r) && r.body.body.id)).toEqual(ids.map((id) => id * 10))
      // A failure inside an asynchronous transformation is a mismatch like any other.
      const Refusing = Schema.Struct({
        body: Schema.Unknown.pipe(Schema.decodeTo(Schema.Unknown, {
          decode: SchemaGetter.transformEffect((_: unknown) =>
            Effect.andThen(Effect.sleep("1 millis"), Effect.fail(new SchemaIssue.InvalidValue({ message: "no thanks" })))
          ),
          encode: SchemaGetter.passthrough()
        }))
      })
      const [refused] = yield* Clump.send(Clump.make([echo(server, { id: 1 })], { body: Refusing }))
      expect((refused!.error as LoamyError.BodyDecodeError).issues).toEqual([{ path: ["body"], message: "no thanks" }])
    }))
  })

  it.live("a typed response and its BodyDecodeError survive RequestResponse.schema and the untyped schema", () =>
    run(Effect.gen(function*() {
      const n = Math.floor(Math.random() * 1e6)
      // Effect 4's NumberFromString reads "not a number" as NaN; FiniteFromString refuses it, as Effect 3's did.
      const Body = Schema.Struct({ query: Schema.Struct({ n: Schema.FiniteFromString }) })
      const responses = yield* Clump.send(
        Clump.make([
          { url: `${server.url}/echo`, httpOp: "GET", queryParams: { n: String(n) } },
          { url: `${server.url}/echo`, httpOp: "GET", queryParams: { n: "not a number" } },
          { url: `${server.url}/status/404`, httpOp: "GET" }
        ], { body: Body })
      )
      expect(responses.map((r) => r.error?._tag)).toEqual([undefined, "BodyDecodeError", undefined])
      const Responses = Schema.Array(RequestResponse.schema(Body))
      const json = JSON.parse(JSON.stringify(Schema.encodeSync(Responses)(responses)))
      // On the wire the decoded number is a string again, as the server sent it.
      expect(json[0].body.query.n).toBe(String(n))
      expect(json[1].error._tag).toBe("BodyDecodeError")
      expect(json[1].error.issues[0].path).toEqual(["query", "n"])

      const back = Schema.decodeUnknownSync(Responses)(json)
      expect(back).toHaveLength(3)
      expect(RequestResponse.isDecoded(back[0]!) && back[0].body.query.n).toBe(n)
      const error = back[1]!.error
      expect(error).toBeInstanceOf(LoamyError.BodyDecodeError)
      expect(error).toEqual(responses[1]!.error)
      expect(error!.message).toBe(responses[1]!.error!.message)
      expect(error!.message).toContain("at query.n")
      expect(back[2]!.body).toEqual({ status: 404 })

      // The untyped schema reads the same JSON; its bodies stay as they are on the wire.
      const untyped = RequestResponse.decodeArray(json)
      expect(untyped[0]!.body).toMatchObject({ query: { n: String(n) } })
      expect(untyped[1]!.error).toBeInstanceOf(LoamyError.BodyDecodeError)
      expect((untyped[1]!.error as LoamyError.BodyDecodeError).issues).toEqual(
        (responses[1]!.error as LoamyError.BodyDecodeError).issues
      )

      // A decodable body on the wire that does not match is refused, not passed on untyped.
      const forged = [{ ...json[0], body: { query: { n: "x" } } }]
      expect(() => Schema.decodeUnknownSync(Responses)(forged)).toThrow(/query/)
    })))

  it.live("withOptions keeps the body schema; withBody replaces it", () =>
    run(Effect.gen(function*() {
      const item = randomItem()
      const clump = Clump.make([echo(server, item)], { body: Echo }).pipe(Clump.withOptions({ concurrency: 1 }))
      const [kept] = yield* Clump.send(clump)
      expect(RequestResponse.isDecoded(kept!) && kept.body.body).toEqual(item)
      const Method = Schema.Struct({ method: Schema.Literal("PUT") })
      const [replaced] = yield* Clump.send(clump.pipe(Clump.withBody(Method)))
      expect(replaced!.error).toBeInstanceOf(LoamyError.BodyDecodeError)
      expect((replaced!.error as LoamyError.BodyDecodeError).issues?.[0]?.path).toEqual(["method"])
    })))

  it.live("a body that is not a Schema is refused before anything is sent", () =>
    run(Effect.gen(function*() {
      server.resetStats()
      const notASchema = { id: "number" } as unknown as Schema.Decoder<unknown>
      const error = yield* Effect.flip(Clump.send(Clump.make([echo(server, randomItem())], { body: notASchema })))
      expect(error).toBeInstanceOf(LoamyError.InvalidOptionsError)
      expect(error.message).toMatch(/^Invalid option body: must be an Effect Schema/)
      const streamed = yield* Effect.flip(Stream.runDrain(Clump.streamFrom(Stream.make(echo(server, 1)), { body: notASchema })))
      expect(streamed).toBeInstanceOf(LoamyError.InvalidOptionsError)
      expect(server.stats.requests).toBe(0)
    })))

  it("the body schema is not an option of the plain doors: Options.decode refuses it", () => {
    const refused = Options.decode({ concurrency: 2, body: Echo })
    expect(Result.isFailure(refused)).toBe(true)
    const error = Result.isFailure(refused) ? refused.failure : undefined
    expect(error?.option).toBe("body")
    expect(error?.detail).toMatch(/^unknown option/)
    // Clump.make keeps it out of the options it passes on.
    expect(Clump.make([], { concurrency: 2, body: Echo }).options).toEqual({ concurrency: 2 })
  })
})
