/**
 * HTTP/2, opt-in (`http2: true`), and the CAs a call trusts (`ca`), at every door, against TLS servers on
 * 127.0.0.1 in a child process (`fixtures/tls-server.mjs`) with a CA the test makes. The server says in each
 * answer which HTTP version it saw and which connection (HTTP/2 session or TLS socket) the request came on.
 */
import { Clump, Options, type RequestResponse } from "@loamy/core"
import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import { close, sendRequests, sendRequestsSync, streamRequests, TransportError } from "loamy"
import * as UndiciHttpClient from "loamy/UndiciHttpClient"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeTestCa, type Seen, startTlsPair, type TestCa, type TlsPair, type TlsServer } from "@loamy/test-kit/tls"

let ca: TestCa
let h2: TlsServer
let h1: TlsServer

let pair: TlsPair | undefined

beforeAll(async () => {
  pair = await startTlsPair()
  ;({ ca, h2, h1 } = pair)
}, 60_000)

afterAll(async () => {
  await close()
  await pair?.close()
})

const gets = (url: string, n: number, path = "/") => Array.from({ length: n }, () => ({ url: `${url}${path}`, httpOp: "GET" as const }))

/** What the server saw, from the bodies; every response must have one. */
const seen = (responses: ReadonlyArray<RequestResponse.RequestResponse>): Array<Seen> =>
  responses.map((response) => {
    expect(response.error, response.error?.message).toBeUndefined()
    return response.body as Seen
  })

const versions = (all: ReadonlyArray<Seen>) => new Set(all.map((s) => s.httpVersion))
const connections = (all: ReadonlyArray<Seen>) => new Set(all.map((s) => s.connection))

describe("http2 at the Promise door", () => {
  it("a burst of 100 GETs to an origin that speaks HTTP/2 goes over one session", async () => {
    const all = seen(await sendRequests(gets(h2.url, 100), { http2: true, ca: ca.caPem, concurrency: 50 }))
    expect(versions(all)).toEqual(new Set(["2.0"]))
    expect(connections(all).size).toBe(1)
  }, 60_000)

  it("without http2 the same origin gets HTTP/1.1", async () => {
    const all = seen(await sendRequests(gets(h2.url, 20), { ca: ca.caPem, concurrency: 10 }))
    expect(versions(all)).toEqual(new Set(["1.1"]))
  }, 60_000)

  it("an origin that speaks only HTTP/1.1 keeps it, over as many connections as the concurrency needs", async () => {
    // Slow answers keep the requests in flight together: one connection each, as HTTP/1.1 wants.
    const all = seen(await sendRequests(gets(h1.url, 20, "/slow?ms=100"), { http2: true, ca: ca.caPem, concurrency: 10 }))
    expect(versions(all)).toEqual(new Set(["1.1"]))
    expect(connections(all).size).toBeGreaterThan(1)
  }, 60_000)

  it("streamRequests with http2 goes over one session too", async () => {
    const all: Array<Seen> = []
    for await (const { response } of streamRequests(gets(h2.url, 60), { http2: true, ca: ca.caPem, concurrency: 30 })) {
      expect(response.error).toBeUndefined()
      all.push(response.body as Seen)
    }
    expect(all).toHaveLength(60)
    expect(versions(all)).toEqual(new Set(["2.0"]))
    expect(connections(all).size).toBe(1)
  }, 60_000)
})

describe("ca", () => {
  it("without the test's CA the server's certificate is refused, as a TransportError", async () => {
    const [response] = await sendRequests(gets(h2.url, 1), { http2: true })
    expect(response!.error).toBeInstanceOf(TransportError)
    expect(response!.statusCode).toBe(0)
  }, 60_000)

  it("a CA that did not sign the certificate is refused as well: only the given CAs are trusted", async () => {
    const other = makeTestCa()
    try {
      const [response] = await sendRequests(gets(h2.url, 1), { ca: other.caPem })
      expect(response!.error).toBeInstanceOf(TransportError)
    } finally {
      fs.rmSync(other.dir, { recursive: true, force: true })
    }
  }, 60_000)

  it("text that is not PEM is refused, naming the option, before anything is sent", async () => {
    await expect(sendRequests(gets(h2.url, 1), { ca: "/etc/ssl/ca.pem" })).rejects.toMatchObject({
      _tag: "InvalidOptionsError",
      option: "ca"
    })
    await expect(sendRequests(gets(h2.url, 1), { http2: "yes" as unknown as boolean })).rejects.toMatchObject({
      _tag: "InvalidOptionsError",
      option: "http2"
    })
  })

  it("both round-trip through the resolved options' schema (the cluster's wire)", () => {
    const resolved = Options.decode({ http2: true, ca: ca.caPem })
    if (resolved._tag !== "Success") throw new Error("not decoded")
    const wire = Schema.encodeSync(Options.ResolvedSchema)(resolved.success)
    const back = Schema.decodeUnknownSync(Options.ResolvedSchema)(wire)
    expect([back.http2, back.ca]).toEqual([true, ca.caPem])
  })
})

describe("http2 at the synchronous door", () => {
  it("the worker's agents offer HTTP/2: a batch goes over one session", () => {
    const all = seen(sendRequestsSync(gets(h2.url, 60), { http2: true, ca: ca.caPem, concurrency: 30 }))
    expect(versions(all)).toEqual(new Set(["2.0"]))
    expect(connections(all).size).toBe(1)
  }, 60_000)
})

describe("http2 at the Effect door", () => {
  it("Clump.send with http2 and ca on loamy's layer goes over one session", async () => {
    const responses = await Clump.send(Clump.make(gets(h2.url, 60), { http2: true, ca: ca.caPem, concurrency: 30 })).pipe(
      Effect.provide(UndiciHttpClient.layer),
      Effect.runPromise
    )
    const all = seen(responses)
    expect(versions(all)).toEqual(new Set(["2.0"]))
    expect(connections(all).size).toBe(1)
  }, 60_000)

  it("a layer made with allowH2 and ca does the same for every call, with a connections cap too", async () => {
    for (const layer of [
      UndiciHttpClient.layerWith({ allowH2: true, ca: ca.caPem }),
      UndiciHttpClient.layerWith({ allowH2: true, ca: ca.caPem, connections: 30 })
    ]) {
      const responses = await Clump.send(Clump.make(gets(h2.url, 60), { concurrency: 30 })).pipe(
        Effect.provide(layer),
        Effect.runPromise
      )
      const all = seen(responses)
      expect(versions(all)).toEqual(new Set(["2.0"]))
      expect(connections(all).size).toBe(1)
    }
  }, 60_000)

  it("a call's http2 on a layer with a connections cap gets an HTTP/2 agent with that cap", async () => {
    const responses = await Clump.send(Clump.make(gets(h2.url, 40), { http2: true, ca: ca.caPem, concurrency: 20 })).pipe(
      Effect.provide(UndiciHttpClient.layerWith({ connections: 20 })),
      Effect.runPromise
    )
    const all = seen(responses)
    expect(versions(all)).toEqual(new Set(["2.0"]))
    expect(connections(all).size).toBe(1)
  }, 60_000)

  it("a client without loamy's Transport refuses http2 and ca rather than ignore them", async () => {
    for (const options of [{ http2: true }, { ca: ca.caPem }] as const) {
      const exit = await Clump.send(Clump.make(gets(h2.url, 1), options)).pipe(
        Effect.provide(FetchHttpClient.layer),
        Effect.flip,
        Effect.runPromise
      )
      expect(exit).toMatchObject({ _tag: "InvalidOptionsError", option: Object.keys(options)[0] })
    }
  }, 60_000)
})
