/**
 * The `cookies` option at the Effect door, over both platform clients: one
 * jar for the call, shared by its requests and their redirects, that keeps
 * each cookie to its host and path, sends a `Secure` one over https only, an
 * expired one not at all, and never a cookie of one host to another (after
 * a redirect between them included). Two host names of one loopback server
 * are the two origins (see `cookie-server.ts`); the server reads what it gets
 * with the `cookie` package's parser.
 */
import { it } from "@effect/vitest"
import { Clump, LoamyError, Options, type RequestMap } from "@loamy/core"
import * as Unchecked from "@loamy/core/Unchecked"
import { Effect, Result, Schema, Stream } from "effect"
import { CookieJar } from "tough-cookie"
import { afterAll, beforeAll, describe, expect } from "vitest"
import { type CookieServer, setting, startCookieServer } from "./cookie-server.js"
import { clients } from "./helpers.js"

let server: CookieServer
beforeAll(async () => {
  server = await startCookieServer()
})
afterAll(() => server.close())

const get = (url: string, headers?: Record<string, string>): RequestMap.RequestMap =>
  headers === undefined ? { url, httpOp: "GET" } : { url, httpOp: "GET", headers }

/** What the server read from the `Cookie` header of the response's request (the echo's body). */
const cookiesOf = (response: { readonly body: unknown } | undefined) =>
  (response!.body as { cookies: Record<string, string> }).cookies

const past = "Thu, 01 Jan 1970 00:00:00 GMT"

for (const [name, layer] of clients) {
  describe(`cookies: true over ${name}`, () => {
    it.live("a cookie set by a redirect goes with the request it leads to, and with the call's later ones", () =>
      Effect.gen(function*() {
        const [login, later] = yield* Clump.send(Clump.make([
          get(setting(server.a, "/login", ["sid=a1; Path=/; HttpOnly; SameSite=Lax"], `${server.a}/home`)),
          get(`${server.a}/later`)
        ], { cookies: true, concurrency: 1 }))
        expect(login!.statusCode).toBe(200)
        expect(cookiesOf(login)).toEqual({ sid: "a1" })
        expect(cookiesOf(later)).toEqual({ sid: "a1" })
      }).pipe(Effect.provide(layer)))

    it.live("a cookie of origin A is never sent to origin B: not after a redirect from A to B, not later", () =>
      Effect.gen(function*() {
        const [landing, atB, atA] = yield* Clump.send(Clump.make([
          get(setting(server.a, "/login", ["sid=a1"], setting(server.b, "/landing", ["bsid=b1"]))),
          get(`${server.b}/next`),
          get(`${server.a}/next`)
        ], { cookies: true, concurrency: 1 }))
        // The redirect left A for B: A's cookie stayed behind, B's own came back to B only.
        expect(landing!.statusCode).toBe(200)
        expect(cookiesOf(landing)).toEqual({})
        expect(cookiesOf(atB)).toEqual({ bsid: "b1" })
        expect(cookiesOf(atA)).toEqual({ sid: "a1" })
      }).pipe(Effect.provide(layer)))

    it.live("Secure goes over https only, an expired or deleted cookie is not sent, Path and Domain are kept", () =>
      Effect.gen(function*() {
        const [, , plain, deeper, atB] = yield* Clump.send(Clump.make([
          get(setting(server.a, "/set", [
            "sec=1; Secure",
            `old=1; Expires=${past}`,
            "zero=1; Max-Age=0",
            "p=1; Path=/only",
            "keep=1",
            "tmp=1",
            // A host may not set a cookie for another one.
            "d=1; Domain=127.0.0.2"
          ])),
          get(setting(server.a, "/delete", [`tmp=; Expires=${past}`])),
          get(`${server.a}/plain`),
          get(`${server.a}/only/deeper`),
          get(`${server.b}/plain`)
        ], { cookies: true, concurrency: 1 }))
        expect(cookiesOf(plain)).toEqual({ keep: "1" })
        expect(cookiesOf(deeper)).toEqual({ p: "1", keep: "1" })
        expect(cookiesOf(atB)).toEqual({})
      }).pipe(Effect.provide(layer)))

    it.live("a request's own Cookie header comes first and wins its names; it does not follow a redirect to B", () =>
      Effect.gen(function*() {
        const [, mine, moved] = yield* Clump.send(Clump.make([
          get(setting(server.a, "/set", ["sid=jar", "other=2"])),
          get(`${server.a}/mine`, { Cookie: "sid=mine; extra=1" }),
          get(setting(server.a, "/moving", [], `${server.b}/moved`), { Cookie: "hand=1" })
        ], { cookies: true, concurrency: 1 }))
        expect((mine!.body as { cookie: string }).cookie).toBe("sid=mine; extra=1; other=2")
        expect(cookiesOf(moved)).toEqual({})
      }).pipe(Effect.provide(layer)))

    it.live("each call has a jar of its own; a stream's requests share one", () =>
      Effect.gen(function*() {
        const clump = Clump.make([get(setting(server.a, "/set", ["sid=once"])), get(`${server.a}/echo`)], {
          cookies: true,
          concurrency: 1
        })
        const [, first] = yield* Clump.send(clump)
        expect(cookiesOf(first)).toEqual({ sid: "once" })
        const [again] = yield* Clump.send(Clump.make([get(`${server.a}/echo`)], { cookies: true }))
        expect(cookiesOf(again)).toEqual({})
        const streamed = yield* Stream.runCollect(Clump.stream(clump, { ordered: true }))
        expect(cookiesOf(streamed.find((item) => item.index === 1)?.response)).toEqual({ sid: "once" })
      }).pipe(Effect.provide(layer)))

    it.live("64 requests at once share the jar: it holds every cookie they set", () =>
      Effect.gen(function*() {
        const jar = new CookieJar()
        const requests = Array.from({ length: 64 }, (_, i) => get(setting(server.a, `/many/${i}`, [`c${i}=${i}`])))
        const responses = yield* Clump.send(Clump.make(requests, { cookies: jar, concurrency: 64 }))
        for (const response of responses) expect(response.statusCode).toBe(200)
        const held = yield* Effect.promise(() => jar.getCookies(`${server.a}/many/`))
        expect(held.map((cookie) => cookie.key).sort()).toEqual(Array.from({ length: 64 }, (_, i) => `c${i}`).sort())
      }).pipe(Effect.provide(layer)))

    it.live("without the option no cookie is kept, across a redirect or after it (as before)", () =>
      Effect.gen(function*() {
        const [home, later] = yield* Clump.send(Clump.make([
          get(setting(server.a, "/login", ["sid=a1"], `${server.a}/home`)),
          get(`${server.a}/later`)
        ], { concurrency: 1 }))
        expect(cookiesOf(home)).toEqual({})
        expect(cookiesOf(later)).toEqual({})
        // The response still shows the cookie it set.
        const [set] = yield* Clump.send(Clump.make([get(setting(server.a, "/set", ["a=1", "b=2"]))]))
        expect(set!.headers["set-cookie"]).toEqual(["a=1", "b=2"])
      }).pipe(Effect.provide(layer)))
  })

  describe(`cookies: a CookieJar of the caller's over ${name}`, () => {
    it.live("is read before the call and holds what the call's responses set after it", () =>
      Effect.gen(function*() {
        const jar = new CookieJar(undefined, { allowSecureOnLocal: false })
        yield* Effect.promise(() => jar.setCookie("pre=1", `${server.a}/`))
        yield* Effect.promise(() => jar.setCookie("secure=1; Secure", "https://127.0.0.1/"))
        yield* Effect.promise(() => jar.setCookie("elsewhere=1", `${server.b}/`))
        const [first] = yield* Clump.send(Clump.make([
          get(setting(server.a, "/login", ["sid=a1"], `${server.a}/home`))
        ], { cookies: jar }))
        expect(cookiesOf(first)).toEqual({ pre: "1", sid: "a1" })
        expect(yield* Effect.promise(() => jar.getCookieString(`${server.a}/`))).toBe("pre=1; sid=a1")
        expect(yield* Effect.promise(() => jar.getCookieString("https://127.0.0.1/"))).toContain("secure=1")
      }).pipe(Effect.provide(layer)))

    it.live("a jar that fails makes the request's TransportError, saying so; the other requests go on", () =>
      Effect.gen(function*() {
        const broken: Options.CookieJar = {
          getCookieString: (url) =>
            url.includes("/broken") ? Promise.reject(new Error("store offline")) : Promise.resolve(""),
          setCookie: () => Promise.reject(new Error("store is read-only"))
        }
        const [broke, setting_, fine] = yield* Clump.send(Clump.make([
          get(`${server.a}/broken`),
          get(setting(server.a, "/set", ["a=1"])),
          get(`${server.a}/fine`)
        ], { cookies: broken, concurrency: 1 }))
        expect(broke!.error?._tag).toBe("TransportError")
        expect(broke!.error?.message).toContain("the cookie jar could not give the cookies for the request: store offline")
        expect(setting_!.error?.message).toContain("the cookie jar could not keep the response's cookies")
        expect(fine!.statusCode).toBe(200)
      }).pipe(Effect.provide(layer)))
  })
}

describe("the cookies option", () => {
  const refusal = (options: unknown) => {
    const decoded = Options.decode(options)
    return Result.isFailure(decoded) ? decoded.failure : undefined
  }

  it("takes true, false or a jar, and refuses anything else naming the option", () => {
    expect(Result.getOrThrow(Options.decode({ cookies: true })).cookies).toBe(true)
    expect(Result.getOrThrow(Options.decode({ cookies: false })).cookies).toBe(false)
    expect(Result.getOrThrow(Options.decode({})).cookies).toBe(false)
    const jar = new CookieJar()
    expect(Result.getOrThrow(Options.decode({ cookies: jar })).cookies).toBe(jar)
    const error = refusal({ cookies: "yes" })
    expect(error).toBeInstanceOf(LoamyError.InvalidOptionsError)
    expect(error?.message).toBe(
      "Invalid option cookies: must be true, false or a cookie jar (a tough-cookie CookieJar), got the string \"yes\""
    )
    expect(refusal({ cookies: { getCookieString: () => "" } })?.option).toBe("cookies")
  })

  it("has its descriptor: the CLI's --cookies switch", () => {
    expect(Options.descriptors.cookies.flags).toEqual([{ name: "cookies", form: "boolean" }])
    expect(Options.descriptors.cookies.default).toBe("false")
  })

  it("goes back to options, and crosses a wire as true (a jar stays on its side)", () => {
    const jar = new CookieJar()
    expect(Options.toOptions(Result.getOrThrow(Options.decode({ cookies: jar }))).cookies).toBe(jar)
    expect(Options.toOptions(Result.getOrThrow(Options.decode({}))).cookies).toBeUndefined()
    const Json = Schema.toCodecJson(Options.ResolvedSchema)
    const wire = Schema.encodeSync(Json)(Result.getOrThrow(Options.decode({ cookies: jar })))
    expect(JSON.parse(JSON.stringify(wire)).cookies).toBe(true)
    expect(Schema.decodeUnknownSync(Json)(JSON.parse(JSON.stringify(wire))).cookies).toBe(true)
  })

  it.effect("is per-call state: options with a jar are not prepared once for many batches", () =>
    Effect.gen(function*() {
      expect(yield* Unchecked.unsafePrepare(Result.getOrThrow(Options.decode({ cookies: true })))).toBeUndefined()
    }).pipe(Effect.provide(clients[0]![1])))
})
