/**
 * Type-level tests of typed bodies: run by `tsc -p tsconfig.test.json`; the
 * calls are never made.
 */
import type { HttpClient } from "effect/http"
import { Clump, type LoamyError, type Options, type RequestMap, RequestResponse } from "@loamy/core"
import { Context, Effect, Schema, SchemaGetter, Stream } from "effect"
import { describe, expectTypeOf, it } from "vitest"

const requests: Array<RequestMap.RequestMap> = [{ url: "http://127.0.0.1/", httpOp: "GET" }]
type Refused = LoamyError.InvalidInputError | Clump.InvalidOptionsError

const User = Schema.Struct({ id: Schema.Number, joined: Schema.DateFromString })
type User = typeof User.Type

class Clock extends Context.Service<Clock, number>()("Clock") {}
const Stamped = Schema.Number.pipe(Schema.decodeTo(Schema.Number, {
  decode: SchemaGetter.transformEffect((n: number) => Effect.map(Clock, (now) => now - n)),
  encode: SchemaGetter.transformEffect((n: number) => Effect.map(Clock, (now) => now - n))
}))

const never = false as boolean

describe("typed bodies: types", () => {
  it("make's body option and withBody type the responses of send", () => {
    const made = Clump.send(Clump.make(requests, { body: User }))
    expectTypeOf(made).toEqualTypeOf<
      Effect.Effect<ReadonlyArray<RequestResponse.Typed<User>>, Refused, HttpClient.HttpClient>
    >()
    const piped = Clump.make(requests, { concurrency: 2 }).pipe(Clump.withBody(User), Clump.send)
    expectTypeOf(piped).toEqualTypeOf<typeof made>()
    const dataFirst = Clump.send(Clump.withBody(Clump.make(requests), User))
    expectTypeOf(dataFirst).toEqualTypeOf<typeof made>()
    // withOptions keeps the body type.
    const widened = Clump.send(Clump.withOptions(Clump.make(requests, { body: User }), { concurrency: 1 }))
    expectTypeOf<Effect.Success<typeof widened>>().toEqualTypeOf<ReadonlyArray<RequestResponse.Typed<User>>>()
  })

  it("without a schema nothing changes: Typed<unknown> is RequestResponse", () => {
    expectTypeOf<RequestResponse.Typed<unknown>>().toEqualTypeOf<RequestResponse.RequestResponse>()
    expectTypeOf<Clump.Indexed>().toEqualTypeOf<Clump.Indexed<unknown>>()
    expectTypeOf(Clump.send(Clump.make(requests))).toEqualTypeOf<
      Effect.Effect<ReadonlyArray<RequestResponse.RequestResponse>, Refused, HttpClient.HttpClient>
    >()
  })

  it("the body is A only once isDecoded says so", () => {
    const response: RequestResponse.Typed<User> = {
      requestMap: requests[0]!,
      statusCode: 200,
      body: { id: 1, joined: new Date(0) },
      headers: {},
      elapsedMs: 0,
      attempts: 1
    }
    expectTypeOf(response.body).toEqualTypeOf<unknown>()
    if (RequestResponse.isDecoded(response)) {
      expectTypeOf(response.body).toEqualTypeOf<User>()
      expectTypeOf(response.error).toEqualTypeOf<undefined>()
    } else {
      expectTypeOf(response.body).toEqualTypeOf<unknown>()
      // A refused item is a RequestResponse.Refused, not a response: a response's error is a RequestError.
      expectTypeOf(response.error).toEqualTypeOf<LoamyError.RequestError | undefined>()
    }
    const responses: ReadonlyArray<RequestResponse.Typed<User>> = [response]
    expectTypeOf(responses.filter(RequestResponse.isDecoded)).toEqualTypeOf<Array<RequestResponse.Decoded<User>>>()
    expectTypeOf(responses.filter(RequestResponse.isFailure).map((r) => r.error)).toEqualTypeOf<
      Array<LoamyError.RequestError>
    >()
    // A typed response is a RequestResponse: the untyped helpers take it.
    expectTypeOf(response).toMatchTypeOf<RequestResponse.RequestResponse>()
    expectTypeOf<RequestResponse.Decoded<User>>().toMatchTypeOf<RequestResponse.RequestResponse>()
  })

  it("returnExceptions: false still adds RequestError (a mismatch is one)", () => {
    const effect = Clump.send(Clump.make(requests, { body: User, returnExceptions: false }))
    expectTypeOf<Effect.Error<typeof effect>>().toEqualTypeOf<Refused | LoamyError.RequestError>()
    expectTypeOf<Effect.Success<typeof effect>>().toEqualTypeOf<ReadonlyArray<RequestResponse.Typed<User>>>()
  })

  it("a schema's requirements become the call's", () => {
    const Body = Schema.Struct({ at: Stamped })
    const effect = Clump.send(Clump.make(requests, { body: Body }))
    expectTypeOf<Effect.Services<typeof effect>>().toEqualTypeOf<HttpClient.HttpClient | Clock>()
    const streamed = Clump.stream(Clump.make(requests).pipe(Clump.withBody(Body)))
    expectTypeOf<Stream.Services<typeof streamed>>().toEqualTypeOf<HttpClient.HttpClient | Clock>()
  })

  it("stream and streamFrom emit Indexed<A>", () => {
    const streamed = Clump.stream(Clump.make(requests, { body: User }), { ordered: true })
    expectTypeOf(streamed).toEqualTypeOf<Stream.Stream<Clump.Indexed<User>, Refused, HttpClient.HttpClient>>()
    const lines = Stream.empty as Stream.Stream<string, "read error", "Files">
    const fromLines = Clump.streamFrom(lines, { ordered: true, body: User })
    // An item that fails its check is answered as a RequestResponse.Refused.
    expectTypeOf(fromLines).toEqualTypeOf<
      Stream.Stream<
        Clump.Indexed<User, RequestResponse.Refused>,
        "read error" | Clump.InvalidOptionsError,
        "Files" | HttpClient.HttpClient
      >
    >()
    const piped = lines.pipe(Clump.streamFrom({ body: User, returnExceptions: false }))
    expectTypeOf<Stream.Success<typeof piped>>().toEqualTypeOf<Clump.Indexed<User, RequestResponse.Refused>>()
    expectTypeOf<Stream.Error<typeof piped>>().toEqualTypeOf<
      "read error" | Clump.InvalidOptionsError | LoamyError.RequestError | LoamyError.InvalidInputError
    >()
    const untyped = Clump.streamFrom(lines)
    expectTypeOf<Stream.Success<typeof untyped>>().toEqualTypeOf<Clump.Indexed<unknown, RequestResponse.Refused>>()
  })

  it("RequestResponse.schema(body) is the typed wire form", () => {
    const Responses = RequestResponse.schema(User)
    expectTypeOf<typeof Responses.Type>().toEqualTypeOf<RequestResponse.Typed<User>>()
    expectTypeOf<typeof Responses.Encoded>().toEqualTypeOf<typeof RequestResponse.RequestResponse.Encoded>()
    expectTypeOf<typeof Responses.DecodingServices>().toEqualTypeOf<never>()
    expectTypeOf<LoamyError.BodyDecodeError["issues"]>().toEqualTypeOf<
      ReadonlyArray<{ readonly path: ReadonlyArray<string | number>; readonly message: string }> | undefined
    >()
  })

  it("body is a Schema, and an option of the Effect door only", () => {
    if (never) {
      // @ts-expect-error: a body schema, not a body
      Clump.make(requests, { body: { id: 1 } })
      // @ts-expect-error: not one of the options every door shares
      const options: Options.Options = { body: User }
      void options
    }
    expectTypeOf<Options.Options>().not.toHaveProperty("body")
  })
})
