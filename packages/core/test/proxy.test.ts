/**
 * The `proxy` option in the core: its values, and how it reaches the client.
 * The core opens no sockets: it leases the call's route from the `Transport`
 * in the environment, once per call, with the proxy in its settings, and the
 * transport sends the call's requests on that route (`Transport.CurrentRoute`);
 * without a transport a call with a proxy fails. Fake clients and transports
 * here; a real proxy is in loamy's and the CLI's tests.
 */
import { HttpClient, HttpClientResponse } from "effect/http"
import { Clump, LoamyError, Options, Transport } from "@loamy/core"
import { Effect, Layer, Result } from "effect"
import { describe, expect, it } from "vitest"

/** A client answering 200 `{ via }` for every request (`via`: the proxy of the route it is sent on, or `direct`), recording the URLs it was asked for. */
const answering = (direct: string, urls: Array<string>, proxied = urls): HttpClient.HttpClient =>
  HttpClient.make((request, _url, _signal, fiber) =>
    Effect.sync(() => {
      const via = fiber.getRef(Transport.CurrentRoute)?.proxy ?? direct
      ;(via === direct ? urls : proxied).push(request.url)
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
      const resolved = Result.getOrThrow(Options.decode({ proxy }))
      expect(resolved.proxy).toBe(proxy)
      expect(Options.toOptions(resolved).proxy).toBe(proxy)
    }
    const none = Result.getOrThrow(Options.decode({}))
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
    expect(Result.isFailure(decoded)).toBe(true)
    const error = (decoded as Result.Failure<unknown, LoamyError.InvalidOptionsError>).failure
    expect(error.option).toBe("proxy")
    expect(error.message).toBe(
      `Invalid option proxy: must be "env" or an http(s) URL such as http://proxy:3128, got the string ${JSON.stringify(shown)}`
    )
    expect(error.message).not.toContain(secret)
  })

  it("refuses a value that is not a string", () => {
    const decoded = Options.decode({ proxy: true })
    expect(Result.isFailure(decoded) && decoded.failure.message).toMatch(/Invalid option proxy: .*got the boolean true/)
  })
})

describe("how the proxy reaches the client", () => {
  it("fails the call with InvalidOptionsError when the client cannot route through a proxy, sending nothing", async () => {
    const urls: Array<string> = []
    const exit = await Effect.runPromise(Effect.result(
      Clump.send(Clump.make([{ url: "http://a.invalid/", httpOp: "GET" }], { proxy: "env" })).pipe(
        Effect.provide(Layer.succeed(HttpClient.HttpClient, answering("direct", urls)))
      )
    ))
    expect(Result.isFailure(exit)).toBe(true)
    const error = (exit as Result.Failure<unknown, unknown>).failure as LoamyError.InvalidOptionsError
    expect(error).toBeInstanceOf(LoamyError.InvalidOptionsError)
    expect(error.option).toBe("proxy")
    expect(error.detail).toMatch(/the HttpClient in use cannot route through a proxy/)
    expect(urls).toEqual([])
  })

  /** A transport whose routes carry their settings, recording the proxies it was asked for. */
  const transport = (asked: Array<string>) =>
    Layer.succeed(Transport.Transport, {
      lease: (settings) =>
        Effect.sync(() => {
          if (settings.proxy !== undefined) asked.push(settings.proxy)
          return { route: { [Transport.RouteTypeId]: Transport.RouteTypeId, ...settings }, release: Effect.void }
        })
    })

  it("asks the transport once per call and sends every request, redirects included, through what it gives", async () => {
    const direct: Array<string> = []
    const proxied: Array<string> = []
    const asked: Array<string> = []
    const client = answering("direct", direct, proxied)
    const requests = [
      { url: "http://a.invalid/one", httpOp: "GET" as const },
      { url: "http://a.invalid/hop", httpOp: "GET" as const }
    ]
    const layer = Layer.merge(Layer.succeed(HttpClient.HttpClient, client), transport(asked))
    const responses = await Effect.runPromise(
      Clump.send(Clump.make(requests, { proxy: "http://proxy.invalid:3128" })).pipe(Effect.provide(layer))
    )
    expect(responses.map((r) => r.body)).toEqual([{ via: "http://proxy.invalid:3128" }, { via: "http://proxy.invalid:3128" }])
    expect(asked).toEqual(["http://proxy.invalid:3128"])
    expect(proxied.sort()).toEqual(["http://a.invalid/hop", "http://a.invalid/landed", "http://a.invalid/one"])
    expect(direct).toEqual([])

    // Without the option the requests go straight to the origin, and no proxy is asked for.
    const plain = await Effect.runPromise(Clump.send(Clump.make(requests.slice(0, 1))).pipe(Effect.provide(layer)))
    expect(plain[0]!.body).toEqual({ via: "direct" })
    expect(asked).toHaveLength(1)
  })

  it("a transport that refuses the proxy fails the call with its message", async () => {
    const client = answering("direct", [])
    const refusing = Layer.succeed(Transport.Transport, {
      lease: () =>
        Effect.fail(
          new LoamyError.InvalidOptionsError({ option: "proxy", detail: "\"env\": HTTPS_PROXY is not an http(s) URL" })
        )
    })
    const exit = await Effect.runPromise(Effect.result(
      Clump.send(Clump.make([{ url: "http://a.invalid/", httpOp: "GET" }], { proxy: "env" })).pipe(
        Effect.provide(Layer.merge(Layer.succeed(HttpClient.HttpClient, client), refusing))
      )
    ))
    expect(Result.isFailure(exit) && (exit.failure as Error).message).toBe(
      "Invalid option proxy: \"env\": HTTPS_PROXY is not an http(s) URL"
    )
  })
})
