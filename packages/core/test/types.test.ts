/**
 * Type-level tests: the error type of `send` says whether failures are
 * folded (returnExceptions, the default) or fail the call.
 */
import type { HttpClient } from "@effect/platform"
import { Clump, type LoamyError, type RequestMap, type RequestResponse } from "@loamy/core"
import type { Effect, Stream } from "effect"
import { describe, expectTypeOf, it } from "vitest"

const requests: Array<RequestMap.RequestMap> = [{ url: "http://127.0.0.1/", httpOp: "GET" }]
type Refused = LoamyError.InvalidInputError | Clump.InvalidOptionsError

describe("types", () => {
  it("send folds failures by default: the error type excludes RequestError", () => {
    const effect = Clump.send(Clump.make(requests))
    expectTypeOf(effect).toEqualTypeOf<
      Effect.Effect<ReadonlyArray<RequestResponse.RequestResponse>, Refused, HttpClient.HttpClient>
    >()
    expectTypeOf<Effect.Effect.Error<typeof effect>>().not.toMatchTypeOf<LoamyError.TimeoutError>()
    const explicit = Clump.send(Clump.make(requests, { returnExceptions: true, timeout: 5 }))
    expectTypeOf<Effect.Effect.Error<typeof explicit>>().toEqualTypeOf<Refused>()
  })

  it("send with returnExceptions: false can fail with any RequestError", () => {
    const effect = Clump.send(Clump.make(requests, { returnExceptions: false }))
    expectTypeOf<Effect.Effect.Error<typeof effect>>().toEqualTypeOf<Refused | LoamyError.RequestError>()
    const unknownFlag = Clump.send(Clump.make(requests, { returnExceptions: Math.random() > 0.5 }))
    expectTypeOf<Effect.Effect.Error<typeof unknownFlag>>().toEqualTypeOf<Refused | LoamyError.RequestError>()
    const widened = Clump.send(Clump.withOptions(Clump.make(requests), { concurrency: 1 }))
    expectTypeOf<Effect.Effect.Error<typeof widened>>().toEqualTypeOf<Refused | LoamyError.RequestError>()
  })

  it("stream carries the same error type and emits indexed responses", () => {
    const folded = Clump.stream(Clump.make(requests))
    expectTypeOf(folded).toEqualTypeOf<Stream.Stream<Clump.Indexed, Refused, HttpClient.HttpClient>>()
    const failing = Clump.stream(Clump.make(requests, { returnExceptions: false }))
    expectTypeOf<Stream.Stream.Error<typeof failing>>().toEqualTypeOf<Refused | LoamyError.RequestError>()
  })

  it("RequestResponse fields", () => {
    expectTypeOf<RequestResponse.RequestResponse["error"]>().toEqualTypeOf<LoamyError.RequestError | undefined>()
    expectTypeOf<RequestResponse.RequestResponse["statusCode"]>().toEqualTypeOf<number>()
    expectTypeOf<LoamyError.RequestErrorTag>().toEqualTypeOf<
      | "TransportError"
      | "InvalidRequestError"
      | "TimeoutError"
      | "DeadlineError"
      | "BodyDecodeError"
      | "BodyTooLargeError"
      | "RedirectError"
    >()
  })
})
