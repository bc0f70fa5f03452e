/**
 * `Unchecked.unsafePrepare`: a call's set-up done once, batches run on it any
 * number of times, as `unsafeSend` would run them; over both platform layers
 * (the fetch one must still be kept from following redirects itself).
 */
import { FetchHttpClient, type HttpClient } from "effect/http"
import { it } from "@effect/vitest"
import { Clump, LoamyError, Options, type RequestMap } from "@loamy/core"
import * as Unchecked from "@loamy/core/Unchecked"
import { start, type TestServer } from "@loamy/test-server"
import { Effect, Result, type Layer } from "effect"
import { afterAll, beforeAll, describe, expect } from "vitest"
import { clients } from "./helpers.js"

const resolve = (options: Clump.Options) => Result.getOrThrow(Options.decode(options))

const suite = (name: string, layer: Layer.Layer<HttpClient.HttpClient>) =>
  describe(`unsafePrepare over ${name}`, () => {
    let server: TestServer
    beforeAll(async () => {
      server = await start()
    })
    afterAll(() => server.close())

    const run = <A, E>(effect: Effect.Effect<A, E, HttpClient.HttpClient>) => Effect.provide(effect, layer)
    const get = (path: string): RequestMap.RequestMap => ({ url: `${server.url}${path}`, httpOp: "GET" })

    it.live("gives nothing for options that hold per-call state", () =>
      run(Effect.gen(function*() {
        expect(yield* Unchecked.unsafePrepare(resolve({ deadline: 1_000 }))).toBeUndefined()
        expect(yield* Unchecked.unsafePrepare(resolve({ rateLimit: { limit: 5, interval: 100 } }))).toBeUndefined()
        expect(yield* Unchecked.unsafePrepare(resolve({ retry: 2 }))).toBeUndefined()
        expect(yield* Unchecked.unsafePrepare(resolve({ timeout: 1_000, headers: { "x-a": "1" } }))).toBeTypeOf("function")
      })))

    it.live("runs batches of one and of many, in order, as often as asked, with its options", () =>
      run(Effect.gen(function*() {
        const prepared = (yield* Unchecked.unsafePrepare(resolve({ headers: { "x-default": "d" }, concurrency: 3 })))!
        for (let round = 0; round < 3; round++) {
          const [one] = yield* prepared([get("/echo")])
          expect((one!.body as { headers: Record<string, string> }).headers["x-default"]).toBe("d")
          expect(one!.requestMap).toEqual(get("/echo"))
          const delays = [40, 0, 20, 10, 0]
          const many = yield* prepared(delays.map((ms) => get(`/delay/${ms}`)))
          expect(many.map((r) => (r.body as { delayed: number }).delayed)).toEqual(delays)
          expect(yield* prepared([])).toEqual([])
        }
      })))

    it.live("folds failures, or fails with the first one under returnExceptions: false", () =>
      run(Effect.gen(function*() {
        const folding = (yield* Unchecked.unsafePrepare(resolve({})))!
        const [folded] = yield* folding([get("/exception")])
        expect(folded!.error).toBeInstanceOf(LoamyError.BodyDecodeError)
        const failing = (yield* Unchecked.unsafePrepare(resolve({ returnExceptions: false })))!
        for (const batch of [[get("/exception")], [get("/"), get("/exception")]]) {
          const result = yield* Effect.result(failing(batch))
          expect(Result.isFailure(result) && result.failure).toBeInstanceOf(LoamyError.BodyDecodeError)
        }
      })))

    it.live("follows redirects itself, whether or not the context already asks fetch not to", () =>
      run(Effect.gen(function*() {
        const redirect = get(`/redirect?to=${encodeURIComponent(`${server.url}/`)}`)
        const unprovided = (yield* Unchecked.unsafePrepare(resolve({ maxRedirects: 0 })))!
        expect((yield* unprovided([redirect]))[0]!.statusCode).toBe(302)
        const manual = { redirect: "manual" } as const
        const provided = (yield* Effect.provideService(
          Unchecked.unsafePrepare(resolve({ maxRedirects: 0 })),
          FetchHttpClient.RequestInit,
          manual
        ))!
        const answered = yield* Effect.provideService(provided([redirect]), FetchHttpClient.RequestInit, manual)
        expect(answered[0]!.statusCode).toBe(302)
        const following = (yield* Unchecked.unsafePrepare(resolve({})))!
        expect((yield* following([redirect]))[0]!.statusCode).toBe(200)
      })))
  })

for (const [name, layer] of clients) suite(name, layer)
