/**
 * HTTP as real servers speak it, at every door: compressed and non-UTF-8
 * bodies, binary bodies, repeated headers, the original's request form, a
 * user's Content-Type, secrets kept out of messages and off other origins.
 * The Promise and sync doors against the test server in a process of its own
 * (the sync door blocks this thread), the Effect door on loamy's undici layer
 * and on `FetchHttpClient.layer`.
 */
import { FetchHttpClient } from "effect/http"
import { Clump, type RequestResponse } from "@loamy/core"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import {
  BodyDecodeError,
  BodyTooLargeError,
  InvalidInputError,
  type RequestInput,
  sendRequests,
  sendRequestsSync
} from "loamy"
import * as UndiciHttpClient from "loamy/UndiciHttpClient"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RemoteServer, startRemote } from "./helpers.js"

let server: RemoteServer
let url: string
beforeAll(async () => {
  server = await startRemote()
  url = server.url
})
afterAll(() => server?.close())

type Door = (requests: ReadonlyArray<RequestInput>, options?: Record<string, unknown>) => Promise<ReadonlyArray<RequestResponse.RequestResponse>>

const doors: ReadonlyArray<readonly [string, Door]> = [
  ["Promise", (requests, options) => sendRequests(requests, options)],
  ["sync", async (requests, options) => sendRequestsSync(requests, options)]
]

const bytes256 = Uint8Array.from({ length: 256 }, (_, i) => i)

describe.each(doors)("%s door", (_name, send) => {
  it("decodes gzip, deflate and br bodies, and asks for them", async () => {
    const responses = await send(["/gzip", "/deflate", "/brotli"].map((path) => ({ url: `${url}${path}`, httpOp: "GET" })))
    expect(responses.map((r) => r.body)).toEqual([
      { compressed: "gzip", message: "Hello, world!" },
      { compressed: "deflate", message: "Hello, world!" },
      { compressed: "br", message: "Hello, world!" }
    ])
    for (const r of responses) expect(r.error).toBeUndefined()
    const [echo] = await send([{ url: `${url}/echo`, httpOp: "GET" }])
    const sent = (echo!.body as { headers: Record<string, string> }).headers
    expect(sent["accept-encoding"]).toBe("gzip, deflate, br")
    expect(sent["user-agent"]).toMatch(/^loamy\/\d+\.\d+\.\d+/)
  })

  it("counts decoded bytes against maxBodyBytes: a compressed bomb is cut off", async () => {
    const [bomb] = await send([{ url: `${url}/gzip?bytes=50000000&force=1`, httpOp: "GET" }], {
      maxBodyBytes: 1_000_000
    })
    expect(bomb!.statusCode).toBe(200)
    expect(bomb!.error).toBeInstanceOf(BodyTooLargeError)
    expect(bomb!.body).toBeNull()
  })

  it("bounds bodies by default: more than 64 MiB decoded is a BodyTooLargeError", async () => {
    const [big] = await send([{ url: `${url}/gzip?bytes=70000000&force=1`, httpOp: "GET" }])
    expect(big!.error).toBeInstanceOf(BodyTooLargeError)
    expect((big!.error as BodyTooLargeError).maxBodyBytes).toBe(64 * 1024 * 1024)
  })

  it("decodes by the declared charset; an unknown one is a BodyDecodeError, not replacement characters", async () => {
    const [latin1, utf16, unknown] = await send([
      { url: `${url}/latin1`, httpOp: "GET" },
      { url: `${url}/charset?name=utf-16le&text=na%C3%AFve`, httpOp: "GET" },
      { url: `${url}/charset?name=x-unknown`, httpOp: "GET" }
    ])
    expect(latin1!.body).toEqual({ word: "café" })
    expect(latin1!.error).toBeUndefined()
    expect(utf16!.body).toEqual({ text: "naïve" })
    expect(unknown!.error).toBeInstanceOf(BodyDecodeError)
    expect(unknown!.error!.message).toContain("x-unknown")
  })

  it("returns a binary body's exact bytes", async () => {
    const [png, octets] = await send([
      { url: `${url}/binary?type=image/png`, httpOp: "GET" },
      { url: `${url}/binary`, httpOp: "GET" }
    ])
    expect(png!.body).toEqual(bytes256)
    expect(octets!.body).toEqual(bytes256)
    expect(png!.error).toBeUndefined()
  })

  it("gives set-cookie as an array and joins other repeated headers", async () => {
    const [r] = await send([{ url: `${url}/cookies`, httpOp: "GET" }])
    expect(r!.headers["set-cookie"]).toEqual([
      "a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Path=/",
      "b=2; Expires=Thu, 22 Oct 2037 07:28:00 GMT; HttpOnly"
    ])
    expect(r!.headers["x-multi"]).toBe("one, two")
  })

  it("takes the original's serialized form (null for absent) and keeps a user's Content-Type", async () => {
    const [original, patch, dated] = await send([
      { url: `${url}/echo`, http_op: "get", body: null, query_params: null, headers: null },
      {
        url: `${url}/echo`,
        httpOp: "PATCH",
        body: { a: 1 },
        headers: { "Content-Type": "application/merge-patch+json", "User-Agent": "mine/1" }
      },
      { url: `${url}/echo`, httpOp: "POST", body: { when: new Date(0) } }
    ])
    expect(original!.statusCode).toBe(200)
    expect((original!.body as { method: string; body: unknown }).method).toBe("GET")
    expect((original!.body as { body: unknown }).body).toBeNull()
    const echoed = patch!.body as { headers: Record<string, string>; body: unknown }
    expect(echoed.headers["content-type"]).toBe("application/merge-patch+json")
    expect(echoed.headers["user-agent"]).toBe("mine/1")
    expect(echoed.body).toEqual({ a: 1 })
    // A toJSON body is sent as JSON.stringify makes it, at the sync door too (it crosses a thread).
    expect((dated!.body as { body: unknown }).body).toEqual({ when: "1970-01-01T00:00:00.000Z" })
  })

  it("refuses a URL with a line break, naming index and field, and sends nothing", async () => {
    await server.reset()
    const error = await send([
      { url: `${url}/`, httpOp: "GET" },
      { url: `${url}/echo\r\nX-Injected: 1`, httpOp: "GET" }
    ]).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InvalidInputError)
    expect(error).toMatchObject({ index: 1, field: "url" })
    expect((await server.stats()).requests).toBe(0)
  })

  it("bounds each attempt by timeout, headers and body alike, and hangs up", async () => {
    await server.reset()
    const responses = await send([
      { url: `${url}/stall-headers`, httpOp: "GET" },
      { url: `${url}/slow-body?ms=20000`, httpOp: "GET" },
      { url: `${url}/`, httpOp: "GET" }
    ], { timeout: 300 })
    expect(responses.map((r) => r.error?._tag)).toEqual(["TimeoutError", "TimeoutError", undefined])
    expect(responses[0]!.error!.message).toContain("/stall-headers")
    // The headers did arrive: the status is kept (0 only when no response arrived at all).
    expect([responses[0]!.statusCode, responses[1]!.statusCode]).toEqual([0, 200])
    // Both attempts were abandoned: the server saw their connections close.
    const until = Date.now() + 10_000
    while ((await server.stats()).aborted < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 20))
    expect((await server.stats()).aborted).toBeGreaterThanOrEqual(2)
  })

  it("keeps query strings out of messages", async () => {
    const [r] = await send([{ url: `${url}/destroy?token=s3cret`, httpOp: "GET" }])
    expect(r!.error).toBeDefined()
    expect(r!.error!.message).toContain("/destroy")
    expect(r!.error!.message).not.toContain("s3cret")
    expect(r!.requestMap.url).toContain("token=s3cret")
  })

  it("drops sensitive headers, defaults and the caller's own, when a redirect leaves the origin", async () => {
    const headers = { Authorization: "Bearer a", "X-Api-Key": "k", "X-Session": "s", "X-Plain": "p" }
    const [r] = await send([{ url: `${url}/redirect-to-other-origin?path=/echo`, httpOp: "GET", headers }], {
      sensitiveHeaders: ["X-Session"]
    })
    const echoed = r!.body as { headers: Record<string, string> }
    expect(r!.statusCode).toBe(200)
    expect(echoed.headers["x-plain"]).toBe("p")
    expect(echoed.headers["authorization"]).toBeUndefined()
    expect(echoed.headers["x-api-key"]).toBeUndefined()
    expect(echoed.headers["x-session"]).toBeUndefined()
  })
})

const layers: ReadonlyArray<readonly [string, Layer.Layer<any>]> = [
  ["UndiciHttpClient.layer", UndiciHttpClient.layer],
  ["FetchHttpClient.layer", FetchHttpClient.layer]
]

describe.each(layers)("Effect door on %s", (_name, layer) => {
  const send = (requests: ReadonlyArray<RequestInput>) =>
    Effect.runPromise(Clump.send(Clump.make(requests)).pipe(Effect.provide(layer)))

  it("decodes compressed bodies and charsets, and keeps binary bodies as bytes", async () => {
    const [gzip, br, latin1, binary, cookies] = await send([
      { url: `${url}/gzip`, httpOp: "GET" },
      { url: `${url}/brotli`, httpOp: "GET" },
      { url: `${url}/latin1`, httpOp: "GET" },
      { url: `${url}/binary?type=image/png`, httpOp: "GET" },
      { url: `${url}/cookies`, httpOp: "GET" }
    ])
    expect(gzip!.body).toEqual({ compressed: "gzip", message: "Hello, world!" })
    expect(br!.body).toEqual({ compressed: "br", message: "Hello, world!" })
    expect(latin1!.body).toEqual({ word: "café" })
    expect(binary!.body).toEqual(bytes256)
    expect(cookies!.headers["set-cookie"]).toHaveLength(2)
  })
})
