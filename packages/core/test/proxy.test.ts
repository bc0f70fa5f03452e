/**
 * The `proxy` option in the core: its values, and how it reaches the client.
 * The core opens no sockets: it asks the client in use, once per call, for
 * the client that sends through the proxy (a function under
 * `Symbol.for("@loamy/core/proxyClient")`), and fails the call when the client
 * has none. Fake clients here; a real proxy is in loamy's and the CLI's tests.
 */
import { HttpClient, HttpClientResponse } from "@effect/platform"
import { Clump, LoamyError, Options } from "@loamy/core"
import { Effect, Either, Layer } from "effect"
import { describe, expect, it } from "vitest"

const proxyClient = Symbol.for("@loamy/core/proxyClient")

/** A client answering 200 `{ via }` for every request, recording the URLs it was asked for. */
const answering = (via: string, urls: Array<string>): HttpClient.HttpClient =>
  HttpClient.make((request) =>
    Effect.sync(() => {
      urls.push(request.url)
      if (request.url.endsWith("/hop")) {
        return HttpClientResponse.fromWeb(request, new Response(null, { status: 302, headers: { location: "/landed" } }))
      }
      return HttpClientResponse.fromWeb(
        request,
        new Response(JSON.stringify({ via }), { headers: { "content-type": "application/json" } })
      )
    })
  )

const secret = "s3cr3t-pa55"

describe("the proxy option", () => {
  it("takes \"env\" and http(s) URLs, credentials included, and gives them back in toOptions", () => {
    for (const proxy of ["env", "http://proxy.invalid:3128", `https://user:${secret}@proxy.invalid`]) {
      const resolved = Either.getOrThrow(Options.decode({ proxy }))
      expect(resolved.proxy).toBe(proxy)
      expect(Options.toOptions(resolved).proxy).toBe(proxy)
    }
    const none = Either.getOrThrow(Options.decode({}))
    expect(none.proxy).toBeUndefined()
    expect("proxy" in Options.toOptions(none)).toBe(false)
  })

  it.each([
    ["another scheme", `socks5://user:${secret}@proxy.invalid:1080`, "socks5://proxy.invalid:1080"],
    ["no scheme", `user:${secret}@proxy.invalid:3128`, "proxy.invalid:3128"],
    ["a password with / and @", `http://user:${secret}/x@y@`, "http://"],
    ["ENV in capitals", "ENV", "ENV"]
  ])("refuses %s, naming proxy and showing the value without its credentials", (_, proxy, shown) => {
    const decoded = Options.decode({ proxy })
    expect(Either.isLeft(decoded)).toBe(true)
    const error = (decoded as Either.Left<LoamyError.InvalidOptionsError, unknown>).left
    expect(error.option).toBe("proxy")
    expect(error.message).toBe(
      `Invalid option proxy: must be "env" or an http(s) URL such as http://proxy:3128, got the string ${JSON.stringify(shown)}`
    )
    expect(error.message).not.toContain(secret)
  })

  it("refuses a value that is not a string", () => {
    const decoded = Options.decode({ proxy: true })
    expect(Either.isLeft(decoded) && decoded.left.message).toMatch(/Invalid option proxy: .*got the boolean true/)
  })
})

describe("how the proxy reaches the client", () => {
  it("fails the call with InvalidOptionsError when the client cannot route through a proxy, sending nothing", async () => {
    const urls: Array<string> = []
    const exit = await Effect.runPromise(Effect.either(
      Clump.send(Clump.make([{ url: "http://a.invalid/", httpOp: "GET" }], { proxy: "env" })).pipe(
        Effect.provide(Layer.succeed(HttpClient.HttpClient, answering("direct", urls)))
      )
    ))
    expect(Either.isLeft(exit)).toBe(true)
    const error = (exit as Either.Left<unknown, unknown>).left as LoamyError.InvalidOptionsError
    expect(error).toBeInstanceOf(LoamyError.InvalidOptionsError)
    expect(error.option).toBe("proxy")
    expect(error.detail).toMatch(/the HttpClient in use cannot route through a proxy/)
    expect(urls).toEqual([])
  })

  it("asks the client once per call and sends every request, redirects included, through what it gives", async () => {
    const direct: Array<string> = []
    const proxied: Array<string> = []
    const asked: Array<string> = []
    const client = answering("direct", direct)
    ;(client as unknown as Record<symbol, unknown>)[proxyClient] = (proxy: string) => {
      asked.push(proxy)
      return answering(proxy, proxied)
    }
    const requests = [
      { url: "http://a.invalid/one", httpOp: "GET" as const },
      { url: "http://a.invalid/hop", httpOp: "GET" as const }
    ]
    const responses = await Effect.runPromise(
      Clump.send(Clump.make(requests, { proxy: "http://proxy.invalid:3128" })).pipe(
        Effect.provide(Layer.succeed(HttpClient.HttpClient, client))
      )
    )
    expect(responses.map((r) => r.body)).toEqual([{ via: "http://proxy.invalid:3128" }, { via: "http://proxy.invalid:3128" }])
    expect(asked).toEqual(["http://proxy.invalid:3128"])
    expect(proxied.sort()).toEqual(["http://a.invalid/hop", "http://a.invalid/landed", "http://a.invalid/one"])
    expect(direct).toEqual([])

    // Without the option the client is used as it is and not asked.
    const plain = await Effect.runPromise(
      Clump.send(Clump.make(requests.slice(0, 1))).pipe(Effect.provide(Layer.succeed(HttpClient.HttpClient, client)))
    )
    expect(plain[0]!.body).toEqual({ via: "direct" })
    expect(asked).toHaveLength(1)
  })

  it("a client that throws for its proxy fails the call with its message", async () => {
    const client = answering("direct", [])
    ;(client as unknown as Record<symbol, unknown>)[proxyClient] = () => {
      throw new Error("\"env\": HTTPS_PROXY is not an http(s) URL")
    }
    const exit = await Effect.runPromise(Effect.either(
      Clump.send(Clump.make([{ url: "http://a.invalid/", httpOp: "GET" }], { proxy: "env" })).pipe(
        Effect.provide(Layer.succeed(HttpClient.HttpClient, client))
      )
    ))
    expect(Either.isLeft(exit) && (exit.left as Error).message).toBe(
      "Invalid option proxy: \"env\": HTTPS_PROXY is not an http(s) URL"
    )
  })
})
