/**
 * Type-level tests: the error type of `send` says whether failures are
 * folded (returnExceptions, the default) or fail the call.
 */
import type { HttpClient } from "effect/http"
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
    expectTypeOf<Effect.Error<typeof effect>>().not.toMatchTypeOf<LoamyError.TimeoutError>()
    const explicit = Clump.send(Clump.make(requests, { returnExceptions: true, timeout: 5 }))
    expectTypeOf<Effect.Error<typeof explicit>>().toEqualTypeOf<Refused>()
  })

  it("send with returnExceptions: false can fail with any RequestError", () => {
    const effect = Clump.send(Clump.make(requests, { returnExceptions: false }))
    expectTypeOf<Effect.Error<typeof effect>>().toEqualTypeOf<Refused | LoamyError.RequestError>()
    const unknownFlag = Clump.send(Clump.make(requests, { returnExceptions: Math.random() > 0.5 }))
    expectTypeOf<Effect.Error<typeof unknownFlag>>().toEqualTypeOf<Refused | LoamyError.RequestError>()
    const widened = Clump.send(Clump.withOptions(Clump.make(requests), { concurrency: 1 }))
    expectTypeOf<Effect.Error<typeof widened>>().toEqualTypeOf<Refused | LoamyError.RequestError>()
  })

  it("stream carries the same error type and emits indexed responses", () => {
    const folded = Clump.stream(Clump.make(requests))
    expectTypeOf(folded).toEqualTypeOf<Stream.Stream<Clump.Indexed, Refused, HttpClient.HttpClient>>()
    const failing = Clump.stream(Clump.make(requests, { returnExceptions: false }))
    expectTypeOf<Stream.Error<typeof failing>>().toEqualTypeOf<Refused | LoamyError.RequestError>()
  })

  it("make takes requests as callers write them: any case, snake_case, null for absent", () => {
    const clump = Clump.make([
      { url: "http://127.0.0.1/", httpOp: "get" },
      { url: "http://127.0.0.1/", http_op: "Post", body: null, query_params: null, headers: null }
    ])
    expectTypeOf(Clump.send(clump)).toEqualTypeOf<
      Effect.Effect<ReadonlyArray<RequestResponse.RequestResponse>, Refused, HttpClient.HttpClient>
    >()
    // @ts-expect-error: not a method
    Clump.make([{ url: "http://127.0.0.1/", httpOp: "TRACE" }])
  })

  it("streamFrom takes a stream of anything (lines of a file included): each item is checked", () => {
    const lines: Stream.Stream<string> = null as never
    const sent = Clump.streamFrom(lines, { ordered: true })
    // An item that fails its check is answered, not sent: its response is a RequestResponse.Refused.
    expectTypeOf<Stream.Success<typeof sent>>().toEqualTypeOf<Clump.Indexed<unknown, RequestResponse.Refused>>()
  })

  it("RequestResponse fields", () => {
    // A refused item is a type of its own (its requestMap is whatever arrived), so a response's error is a RequestError.
    expectTypeOf<RequestResponse.RequestResponse["error"]>().toEqualTypeOf<LoamyError.RequestError | undefined>()
    expectTypeOf<RequestResponse.Refused["error"]>().toEqualTypeOf<LoamyError.InvalidInputError>()
    expectTypeOf<RequestResponse.Refused["requestMap"]>().toEqualTypeOf<unknown>()
    expectTypeOf<RequestResponse.RequestResponse["statusCode"]>().toEqualTypeOf<number>()
    expectTypeOf<LoamyError.RequestErrorTag>().toEqualTypeOf<
      | "TransportError"
      | "InvalidRequestError"
      | "TimeoutError"
      | "DeadlineError"
      | "BodyDecodeError"
      | "BodyTooLargeError"
      | "RedirectError"
      | "HttpStatusError"
      | "RequestBodyError"
      | "AbortedError"
      | "DownloadError"
    >()
  })
})
