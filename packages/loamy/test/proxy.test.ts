/**
 * Proxies at every door of this package, against a real forwarding proxy on
 * 127.0.0.1 (`@loamy/test-kit/proxy`, the `proxy` package): http targets go to
 * it in absolute form, https targets through a CONNECT tunnel. The proxy
 * counts what it is asked, and the servers behind it what reaches them.
 */
import { Clump, LoamyError, type RequestResponse } from "@loamy/core"
import {
  cert,
  type RemoteProxy,
  startProxy,
  startRemoteProxy,
  startTls,
  type TestProxy,
  type TlsServer,
  withEnv
} from "@loamy/test-kit/proxy"
import { closedPort, start, type TestServer } from "@loamy/test-server"
import { Effect, Layer, Result } from "effect"
import { FetchHttpClient, HttpClient } from "effect/http"
import { close, InvalidOptionsError, sendRequests, sendRequestsSync } from "loamy"
import * as UndiciHttpClient from "loamy/UndiciHttpClient"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { type RemoteServer, startRemote } from "./helpers.js"

const secret = "s3cr3t-pa55"
const credentials = `tester:${secret}`
const withCredentials = (url: string, userinfo = credentials) => url.replace("http://", `http://${userinfo}@`)

let server: TestServer
let tls: TlsServer
let proxy: TestProxy
let guarded: TestProxy

beforeAll(async () => {
  ;[server, tls, proxy, guarded] = await Promise.all([start(), startTls(), startProxy(), startProxy({ auth: credentials })])
})
afterAll(async () => {
  await close()
  await Promise.all([server.close(), tls.close(), proxy.close(), guarded.close()])
})
afterEach(() => {
  proxy.reset()
  guarded.reset()
  server.resetStats()
})

const get = (url: string) => ({ url, httpOp: "GET" as const })

const run = <E>(
  effect: Effect.Effect<ReadonlyArray<RequestResponse.RequestResponse>, E, HttpClient.HttpClient>,
  layer: Layer.Layer<HttpClient.HttpClient> = UndiciHttpClient.layer
) => Effect.runPromise(Effect.result(Effect.provide(effect, layer)))

/** The `Via` header the proxy adds to what it forwards: the target saw the request come through it. */
const via = (response: RequestResponse.RequestResponse): unknown =>
  (response.body as { headers?: Record<string, unknown> } | null)?.headers?.["via"]

describe("proxy option at the Effect door (UndiciHttpClient.layer)", () => {
  it("sends http requests to the proxy in absolute form; the server gets them from the proxy", async () => {
    const requests = Array.from({ length: 10 }, (_, i) => get(`${server.url}/echo?i=${i}`))
    const result = await run(Clump.send(Clump.make(requests, { proxy: proxy.url, concurrency: 4 })))
    const responses = Result.getOrThrow(result)
    expect(responses.map((r) => r.statusCode)).toEqual(requests.map(() => 200))
    for (const response of responses) expect(via(response)).toMatch(/proxy\/4\.1\.0/)
    expect(proxy.seen.requests).toBe(10)
    expect(proxy.seen.connects).toBe(0)
    expect([...proxy.seen.targets].sort()).toEqual(requests.map((r) => `GET ${r.url}`).sort())
    expect(server.stats.byPath["/echo"]).toBe(10)
  })

  it("tunnels https requests through CONNECT, trusting the layer's connect.ca", async () => {
    const layer = UndiciHttpClient.layerWith({ connect: { ca: cert } })
    const before = tls.requests()
    const result = await run(Clump.send(Clump.make([get(`${tls.url}/secure`)], { proxy: proxy.url })), layer)
    const [response] = Result.getOrThrow(result)
    expect(response!.error).toBeUndefined()
    expect(response!.body).toEqual({ tls: true, path: "/secure" })
    expect(proxy.seen.targets).toEqual([`CONNECT 127.0.0.1:${tls.port}`])
    expect(tls.requests() - before).toBe(1)
  })

  it("follows a redirect to another origin through the same proxy", async () => {
    const result = await run(
      Clump.send(Clump.make([get(`${server.url}/redirect-to-other-origin?path=/echo`)], { proxy: proxy.url }))
    )
    const [response] = Result.getOrThrow(result)
    expect(response!.statusCode).toBe(200)
    expect(via(response!)).toMatch(/proxy\//)
    expect(proxy.seen.targets).toEqual([
      `GET ${server.url}/redirect-to-other-origin?path=/echo`,
      `GET ${server.otherUrl}/echo`
    ])
  })

  it("layerWith({ proxy }) sends every request of the layer through it, without the option", async () => {
    const layer = UndiciHttpClient.layerWith({ proxy: proxy.url })
    const result = await run(Clump.send(Clump.make([get(`${server.url}/echo`), get(`${server.url}/`)])), layer)
    expect(Result.getOrThrow(result).map((r) => r.statusCode)).toEqual([200, 200])
    expect(proxy.seen.requests).toBe(2)
  })

  it("opens no more sockets to the proxy than the layer's connections", async () => {
    const layer = UndiciHttpClient.layerWith({ connections: 2, proxy: proxy.url })
    const requests = Array.from({ length: 12 }, () => get(`${server.url}/delay/30`))
    const result = await run(Clump.send(Clump.make(requests, { concurrency: 12 })), layer)
    expect(Result.getOrThrow(result).map((r) => r.statusCode)).toEqual(requests.map(() => 200))
    expect(proxy.seen.requests).toBe(12)
    expect(proxy.seen.connections).toBeGreaterThan(0)
    expect(proxy.seen.connections).toBeLessThanOrEqual(2)
  })

  it("goes through the proxy with the user's middleware around loamy's client, capped at the call's concurrency", async () => {
    // As a user writes it: loamy's layer, and their middleware around the client it provides.
    const wrapped = Layer.effect(
      HttpClient.HttpClient,
      Effect.map(HttpClient.HttpClient, (client) => client.pipe(HttpClient.mapRequest((r) => r), HttpClient.tapRequest(() => Effect.void)))
    ).pipe(Layer.provideMerge(UndiciHttpClient.layer))
    const requests = Array.from({ length: 12 }, (_, i) => get(`${server.url}/delay/20?i=${i}`))
    const result = await run(Clump.send(Clump.make(requests, { proxy: proxy.url, concurrency: 3 })), wrapped)
    const responses = Result.getOrThrow(result)
    expect(responses.map((r) => r.statusCode)).toEqual(requests.map(() => 200))
    expect(proxy.seen.requests).toBe(12)
    expect(proxy.seen.connections).toBeGreaterThan(0)
    expect(proxy.seen.connections).toBeLessThanOrEqual(3)
    expect(server.stats.requests).toBe(12)
  })

  it("fails the call with InvalidOptionsError on a client that cannot route through a proxy, sending nothing", async () => {
    const result = await run(
      Clump.send(Clump.make([get(`${server.url}/`)], { proxy: withCredentials(proxy.url) })),
      FetchHttpClient.layer
    )
    expect(Result.isFailure(result)).toBe(true)
    const error = Result.isFailure(result) ? result.failure : undefined
    expect(error).toBeInstanceOf(LoamyError.InvalidOptionsError)
    expect((error as LoamyError.InvalidOptionsError).option).toBe("proxy")
    expect((error as Error).message).toMatch(/cannot route through a proxy.*UndiciHttpClient/)
    expect((error as Error).message).not.toContain(secret)
    expect(server.stats.requests).toBe(0)
    expect(proxy.seen.requests).toBe(0)
  })
})

describe("proxy failures fold into the response as a TransportError naming the proxy", () => {
  it("a proxy that is down: connection refused, for http and https targets, nothing hangs", async () => {
    const down = `http://${credentials}@127.0.0.1:${await closedPort()}`
    const responses = await sendRequests([get(`${server.url}/`), get(`${tls.url}/`)], { proxy: down, timeout: 20_000 })
    for (const response of responses) {
      expect(response.statusCode).toBe(0)
      expect(response.error).toBeInstanceOf(LoamyError.TransportError)
      const error = response.error as LoamyError.TransportError
      expect(error.reason).toBe("ConnectionRefused")
      expect(error.message).toContain(`proxy ${new URL(down).origin}`)
      expect(JSON.stringify(response)).not.toContain(secret)
    }
    expect(server.stats.requests).toBe(0)
  })

  it("407 without credentials, for absolute-form (http) and CONNECT (https) requests alike", async () => {
    const responses = await sendRequests([get(`${server.url}/`), get(`${tls.url}/`)], { proxy: guarded.url })
    for (const response of responses) {
      expect(response.statusCode).toBe(0)
      expect(response.error?._tag).toBe("TransportError")
      expect(response.error?.message).toContain(`proxy ${guarded.url} answered 407 Proxy Authentication Required`)
      expect(response.error?.message).toContain("give the credentials in the proxy URL")
    }
    expect(guarded.seen.denied).toBe(2)
    expect(server.stats.requests).toBe(0)
  })

  it("407 for wrong credentials: the message says so and never shows them", async () => {
    const wrong = withCredentials(guarded.url, `tester:not-${secret}`)
    const [response] = await sendRequests([get(`${server.url}/`)], { proxy: wrong })
    expect(response!.error?.message).toContain("refused the proxy URL's credentials")
    expect(JSON.stringify(response)).not.toContain(secret)
    expect(JSON.stringify(response)).not.toContain("tester")
  })

  it("with the credentials in the URL the proxy lets http and https requests through", async () => {
    const layer = UndiciHttpClient.layerWith({ connect: { ca: cert } })
    const result = await run(
      Clump.send(Clump.make([get(`${server.url}/echo`), get(`${tls.url}/in`)], { proxy: withCredentials(guarded.url) })),
      layer
    )
    const responses = Result.getOrThrow(result)
    expect(responses.map((r) => r.error)).toEqual([undefined, undefined])
    expect(via(responses[0]!)).toMatch(/proxy\//)
    // The proxy drops Proxy-Authorization (hop by hop): the server never sees the credentials.
    expect(JSON.stringify(responses[0]!.body)).not.toContain("proxy-authorization")
    expect(responses[1]!.body).toEqual({ tls: true, path: "/in" })
    expect(guarded.seen.denied).toBe(0)
    expect(guarded.seen.requests + guarded.seen.connects).toBe(2)
  })
  it("a request's own Proxy-Authorization header is refused through a proxy, sending nothing", async () => {
    const [response] = await sendRequests(
      [{ url: `${server.url}/echo`, httpOp: "GET", headers: { "Proxy-Authorization": `Basic ${secret}` } }],
      { proxy: guarded.url }
    )
    expect(response!.error?._tag).toBe("InvalidRequestError")
    expect(response!.error?.message).toContain("give the credentials in the proxy URL")
    expect(guarded.seen.requests + guarded.seen.connects).toBe(0)
    expect(server.stats.requests).toBe(0)
  })
})

describe("the proxy option's values", () => {
  it.each([
    ["a proxy URL of another scheme", `socks5://${credentials}@127.0.0.1:1080`],
    ["a host without a scheme", `${credentials}@proxy.invalid:3128`],
    ["not a URL", "http://"],
    ["a number", 3128]
  ])("refuses %s with InvalidOptionsError naming proxy, never showing credentials", async (_, value) => {
    const rejected = await sendRequests([get(`${server.url}/`)], { proxy: value as string }).then(
      () => undefined,
      (error: unknown) => error
    )
    expect(rejected).toBeInstanceOf(InvalidOptionsError)
    expect((rejected as InvalidOptionsError).option).toBe("proxy")
    expect((rejected as Error).message).toMatch(/must be "env" or an http\(s\) URL/)
    expect((rejected as Error).message).not.toContain(secret)
    expect(() => sendRequestsSync([get(`${server.url}/`)], { proxy: value as string })).toThrow(InvalidOptionsError)
    expect(server.stats.requests).toBe(0)
  })

  it("layerWith refuses a bad proxy when it is called", () => {
    expect(() => UndiciHttpClient.layerWith({ proxy: `ftp://${credentials}@127.0.0.1` })).toThrow(
      /Invalid option proxy: must be "env" or an http\(s\) URL.*got the string "ftp:\/\/127\.0\.0\.1"/
    )
  })

  it("Clump.withOptions keeps a decoded proxy (toOptions)", () => {
    const decoded = Result.getOrThrow(Clump.resolveOptions({ proxy: proxy.url, concurrency: 3 }))
    expect(decoded.proxy).toBe(proxy.url)
    const again = Clump.withOptions(Clump.make([], decoded), { timeout: 1_000 })
    expect(Result.getOrThrow(Clump.resolveOptions(again.options)).proxy).toBe(proxy.url)
  })
})

describe('proxy: "env" at the Promise door', () => {
  it("uses HTTP_PROXY; NO_PROXY (host:port, no name to resolve) sends a request around it", async () => {
    await withEnv({ HTTP_PROXY: proxy.url, NO_PROXY: `127.0.0.1:${server.port}` }, async () => {
      const responses = await sendRequests([get(`${server.url}/echo`), get(`${server.otherUrl}/echo`)], {
        proxy: "env"
      })
      expect(responses.map((r) => r.statusCode)).toEqual([200, 200])
      expect(via(responses[0]!)).toBeUndefined()
      expect(via(responses[1]!)).toMatch(/proxy\//)
      expect(proxy.seen.targets).toEqual([`GET ${server.otherUrl}/echo`])
      expect(server.stats.byPath["/echo"]).toBe(2)
    })
  })

  it("reads the variables again when they change (lower case too), and without proxy ignores them", async () => {
    await withEnv({ http_proxy: proxy.url.replace("http://", "") }, async () => {
      const [through] = await sendRequests([get(`${server.url}/echo`)], { proxy: "env" })
      expect(via(through!)).toMatch(/proxy\//)
      const [direct] = await sendRequests([get(`${server.url}/echo`)])
      expect(via(direct!)).toBeUndefined()
    })
    await withEnv({ HTTP_PROXY: guarded.url }, async () => {
      const [denied] = await sendRequests([get(`${server.url}/echo`)], { proxy: "env" })
      expect(denied!.error?.message).toContain(`proxy ${guarded.url} answered 407`)
    })
    expect(proxy.seen.requests).toBe(1)
    expect(guarded.seen.denied).toBe(1)
  })

  it("names the proxy only for its own failures: a target NO_PROXY sends around it fails as itself", async () => {
    const [proxyPort, targetPort] = [await closedPort(), await closedPort()]
    await withEnv({ HTTP_PROXY: `http://${credentials}@127.0.0.1:${proxyPort}`, NO_PROXY: `127.0.0.1:${targetPort}` }, async () => {
      const [proxied, direct] = await sendRequests(
        [get(`${server.url}/`), get(`http://127.0.0.1:${targetPort}/`)],
        { proxy: "env" }
      )
      expect(proxied!.error?.message).toContain(`(proxy http://127.0.0.1:${proxyPort}: connect ECONNREFUSED`)
      expect(direct!.error?._tag).toBe("TransportError")
      expect(direct!.error?.message).not.toContain("proxy")
      expect(JSON.stringify([proxied, direct])).not.toContain(secret)
    })
  })

  it("with no proxy variable set, sends directly", async () => {
    await withEnv({}, async () => {
      const [response] = await sendRequests([get(`${server.url}/echo`)], { proxy: "env" })
      expect(response!.statusCode).toBe(200)
      expect(via(response!)).toBeUndefined()
    })
    expect(proxy.seen.requests).toBe(0)
  })

  it("a variable that is not a URL rejects the call, naming the variable and not its value", async () => {
    await withEnv({ HTTPS_PROXY: `http://${credentials}@[bad` }, async () => {
      const rejected = await sendRequests([get(`${server.url}/`)], { proxy: "env" }).then(
        () => undefined,
        (error: unknown) => error
      )
      expect(rejected).toBeInstanceOf(InvalidOptionsError)
      expect((rejected as Error).message).toContain("HTTPS_PROXY is not an http(s) URL")
      expect((rejected as Error).message).not.toContain(secret)
    })
    expect(server.stats.requests).toBe(0)
  })

  it("HTTPS_PROXY tunnels https targets (Effect door, layerWith with proxy: \"env\")", async () => {
    await withEnv({ HTTPS_PROXY: proxy.url }, async () => {
      const layer = UndiciHttpClient.layerWith({ connect: { ca: cert }, proxy: "env" })
      const result = await run(Clump.send(Clump.make([get(`${tls.url}/env`), get(`${server.url}/echo`)])), layer)
      const responses = Result.getOrThrow(result)
      expect(responses[0]!.body).toEqual({ tls: true, path: "/env" })
      // HTTPS_PROXY is for https targets only: the http one goes directly.
      expect(via(responses[1]!)).toBeUndefined()
      expect(proxy.seen.targets).toEqual([`CONNECT 127.0.0.1:${tls.port}`])
    })
  })
})

describe("the synchronous door", () => {
  let remote: RemoteServer
  let remoteProxy: RemoteProxy
  beforeAll(async () => {
    ;[remote, remoteProxy] = await Promise.all([startRemote(), startRemoteProxy()])
  })
  afterAll(async () => {
    await close()
    await Promise.all([remote.close(), remoteProxy.close()])
  })

  it("sends through an explicit proxy URL", { timeout: 60_000 }, async () => {
    await remoteProxy.reset()
    await remote.reset()
    const requests = Array.from({ length: 6 }, (_, i) => get(`${remote.url}/echo?i=${i}`))
    const responses = sendRequestsSync(requests, { proxy: remoteProxy.url, concurrency: 3 })
    expect(responses.map((r) => r.statusCode)).toEqual(requests.map(() => 200))
    for (const response of responses) expect(via(response)).toMatch(/proxy\//)
    const seen = await remoteProxy.seen()
    expect(seen.requests).toBe(6)
    expect((await remote.stats()).byPath["/echo"]).toBe(6)
  })

  it('proxy: "env" reads the variables the worker started with', { timeout: 60_000 }, async () => {
    await remoteProxy.reset()
    await withEnv({ HTTP_PROXY: remoteProxy.url }, async () => {
      // A worker thread copies the environment when it starts: a fresh one sees the variable.
      await close()
      const [response] = sendRequestsSync([get(`${remote.url}/echo`)], { proxy: "env" })
      expect(via(response!)).toMatch(/proxy\//)
    })
    await close()
    expect((await remoteProxy.seen()).targets).toEqual([`GET ${remote.url}/echo`])
  })

  it('proxy: "env" with a variable that is not a URL throws InvalidOptionsError from the worker', { timeout: 60_000 }, async () => {
    await withEnv({ HTTP_PROXY: `http://${credentials}@[bad` }, async () => {
      await close()
      let thrown: unknown
      try {
        sendRequestsSync([get(`${remote.url}/`)], { proxy: "env" })
      } catch (error) {
        thrown = error
      }
      expect(thrown).toBeInstanceOf(InvalidOptionsError)
      expect((thrown as Error).message).toContain("HTTP_PROXY is not an http(s) URL")
      expect((thrown as Error).message).not.toContain(secret)
    })
    await close()
  })

  it("a proxy that is down folds a TransportError naming it", { timeout: 60_000 }, async () => {
    const down = `http://${credentials}@127.0.0.1:${await closedPort()}`
    const [response] = sendRequestsSync([get(`${remote.url}/`)], { proxy: down, timeout: 20_000 })
    expect(response!.error).toBeInstanceOf(LoamyError.TransportError)
    expect(response!.error?.message).toContain(`proxy ${new URL(down).origin}`)
    expect(JSON.stringify(response)).not.toContain(secret)
  })
})
