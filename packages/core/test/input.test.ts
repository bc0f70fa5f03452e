/**
 * Bad input is refused before anything is sent, with an error naming the
 * index and the field; the original's snake_case names decode; bad options
 * are refused too.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { it } from "@effect/vitest"
import { Clump, LoamyError, RequestMap } from "@loamy/core"
import { start, type TestServer } from "@loamy/test-server"
import { Effect, Result, Schema, Stream } from "effect"
import { afterAll, beforeAll, describe, expect } from "vitest"

let server: TestServer
beforeAll(async () => {
  server = await start()
})
afterAll(() => server.close())

const circular: Record<string, unknown> = { a: 1 }
circular["self"] = circular

const bad: ReadonlyArray<readonly [string, Record<string, unknown>, string, RegExp]> = [
  ["not a URL", { url: "not a url", httpOp: "GET" }, "url", /not a URL/],
  ["an ftp URL", { url: "ftp://example.com/file", httpOp: "GET" }, "url", /not an http or https URL/],
  ["a URL with credentials", { url: "http://user:pw@127.0.0.1/", httpOp: "GET" }, "url", /credentials/],
  // The parser skips slashes before the authority and takes `\\` for `/`: the credentials are still found.
  ["credentials after a third slash", { url: "http:///user:pw@127.0.0.1/", httpOp: "GET" }, "url", /credentials/],
  ["credentials after a backslash", { url: "https://\\user:pw@127.0.0.1/", httpOp: "GET" }, "url", /credentials/],
  ["a port out of range", { url: "HTTP://127.0.0.1:99999/", httpOp: "GET" }, "url", /not a URL/],
  ["a URL that is not a string", { url: 42, httpOp: "GET" }, "url", /must be a string/],
  ["an unknown method", { url: "http://127.0.0.1/", httpOp: "FETCH" }, "httpOp", /must be one of/],
  ["a missing method", { url: "http://127.0.0.1/" }, "httpOp", /must be one of/],
  [
    "a header value with CR/LF",
    { url: "http://127.0.0.1/", httpOp: "GET", headers: { "X-A": "x\r\nInjected: yes" } },
    "headers.X-A",
    /line break/
  ],
  [
    "a header value with a lone LF",
    { url: "http://127.0.0.1/", httpOp: "GET", headers: { "X-A": "x\ny" } },
    "headers.X-A",
    /line break/
  ],
  [
    "an illegal header name",
    { url: "http://127.0.0.1/", httpOp: "GET", headers: { "Bad Name": "x" } },
    "headers",
    /not a legal header name/
  ],
  [
    "a header the client manages",
    { url: "http://127.0.0.1/", httpOp: "GET", headers: { "Content-Length": "5" } },
    "headers",
    /managed by the HTTP client/
  ],
  [
    "a header value that is not a string",
    { url: "http://127.0.0.1/", httpOp: "GET", headers: { "X-N": 5 } },
    "headers.X-N",
    /must be a string/
  ],
  [
    "a body holding a function",
    { url: "http://127.0.0.1/", httpOp: "POST", body: { items: [1, () => 2] } },
    "body.items[1]",
    /function/
  ],
  ["a bigint body", { url: "http://127.0.0.1/", httpOp: "POST", body: { n: 10n } }, "body.n", /bigint/],
  ["a NaN in the body", { url: "http://127.0.0.1/", httpOp: "POST", body: { x: [NaN] } }, "body.x[0]", /NaN/],
  ["an Infinity in the body", { url: "http://127.0.0.1/", httpOp: "POST", body: Infinity }, "body", /Infinity/],
  ["a circular body", { url: "http://127.0.0.1/", httpOp: "POST", body: circular }, "body.self", /circular/],
  [
    "a body with undefined in an array",
    { url: "http://127.0.0.1/", httpOp: "POST", body: [1, undefined] },
    "body[1]",
    /undefined/
  ],
  ["a Map body", { url: "http://127.0.0.1/", httpOp: "POST", body: new Map() }, "body", /Map/],
  [
    "a query param that is not a string",
    { url: "http://127.0.0.1/", httpOp: "GET", queryParams: { page: 2 } },
    "queryParams.page",
    /must be a string/
  ],
  [
    "query params that are not an object",
    { url: "http://127.0.0.1/", httpOp: "GET", queryParams: ["a"] },
    "queryParams",
    /object of strings/
  ],
  ["an unknown field", { url: "http://127.0.0.1/", httpOp: "GET", timeout: 5 }, "timeout", /unknown field/],
  [
    "both camelCase and snake_case",
    { url: "http://127.0.0.1/", httpOp: "GET", http_op: "POST" },
    "httpOp",
    /both httpOp and http_op/
  ]
]

describe("bad input", () => {
  for (const [what, input, field, detail] of bad) {
    it.live(`refuses ${what} before sending anything, naming index and field`, () =>
      Effect.gen(function*() {
        server.resetStats()
        const requests = [
          { url: `${server.url}/`, httpOp: "GET" },
          { url: `${server.url}/foo`, httpOp: "POST" },
          input
        ] as unknown as Array<RequestMap.RequestMap>
        const error = yield* Effect.flip(Clump.send(Clump.make(requests)))
        expect(error).toBeInstanceOf(LoamyError.InvalidInputError)
        const invalid = error as LoamyError.InvalidInputError
        expect(invalid.index).toBe(2)
        expect(invalid.field).toBe(field)
        expect(invalid.detail).toMatch(detail)
        expect(invalid.message).toContain("index 2")
        if (field !== "") expect(invalid.message).toContain(field)
        // The stream door refuses it the same way, before sending.
        const streamed = yield* Effect.flip(Stream.runDrain(Clump.stream(Clump.make(requests))))
        expect(streamed).toBeInstanceOf(LoamyError.InvalidInputError)
        // Give a request that slipped out time to arrive: none may.
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 30)))
        expect(server.stats.requests).toBe(0)
      }).pipe(Effect.provide(NodeHttpClient.layerUndici)))
  }

  it("refuses something that is not an object", () => {
    for (const input of [null, "http://x/", 3, ["http://x/", "GET"]]) {
      const result = RequestMap.validateAll([{ url: "http://x/", httpOp: "GET" }, input])
      expect(Result.isFailure(result) && result.failure.index).toBe(1)
      expect(Result.isFailure(result) && result.failure.field).toBe("")
    }
  })

  it("stops at the first bad request in validateAll", () => {
    const result = RequestMap.validateAll([
      { url: "http://x/", httpOp: "GET" },
      { url: "nope", httpOp: "GET" },
      { url: "http://x/", httpOp: "NOPE" }
    ])
    expect(Result.isFailure(result) && result.failure.index).toBe(1)
  })
})

describe("snake_case and canonical form", () => {
  it("decodes the original's http_op and query_params and upper-cases the method", () => {
    const result = RequestMap.validateAt(
      { url: "http://x/a", http_op: "post", query_params: { q: "1" }, headers: { A: "b" }, body: { k: [1] } },
      4
    )
    expect(Result.getOrThrow(result)).toEqual({
      url: "http://x/a",
      httpOp: "POST",
      queryParams: { q: "1" },
      headers: { A: "b" },
      body: { k: [1] }
    })
  })

  it("keeps undefined optional fields out of the canonical form", () => {
    const result = Result.getOrThrow(RequestMap.validateAt({ url: "https://x/", httpOp: "HEAD", body: undefined }, 0))
    expect(Object.keys(result).sort()).toEqual(["httpOp", "url"])
  })

  it("RequestMapFromInput decodes snake_case and encodes camelCase", () => {
    const decode = Schema.decodeUnknownSync(RequestMap.RequestMapFromInput)
    const decoded = decode({ url: "http://x/", http_op: "delete", query_params: { a: "b" } })
    expect(decoded).toEqual({ url: "http://x/", httpOp: "DELETE", queryParams: { a: "b" } })
    expect(Schema.encodeSync(RequestMap.RequestMapFromInput)(decoded)).toEqual(decoded)
    expect(() => decode({ url: "ftp://x/", httpOp: "GET" })).toThrow(/url/)
    expect(() => decode({ url: "http://x/", http_op: "GET", headers: { "X": "a\nb" } })).toThrow(/headers\.X/)
    const array = Schema.decodeUnknownResult(Schema.Array(RequestMap.RequestMapFromInput))
    expect(Result.isSuccess(array([{ url: "http://x/", http_op: "GET" }, { url: "http://y/", httpOp: "PUT" }]))).toBe(
      true
    )
    expect(Result.isFailure(array([{ url: "http://x/", http_op: "GET" }, { url: "http://y/", httpOp: "NOPE" }]))).toBe(
      true
    )
  })

  it.live("sends a snake_case request as its canonical form", () =>
    Effect.gen(function*() {
      const input = { url: `${server.url}/echo`, http_op: "patch", query_params: { q: "z" }, body: [1] }
      const [response] = yield* Clump.send(Clump.make([input as unknown as RequestMap.RequestMap]))
      expect(response!.requestMap).toEqual({ url: `${server.url}/echo`, httpOp: "PATCH", queryParams: { q: "z" }, body: [1] })
      expect(response!.body).toMatchObject({ method: "PATCH", query: { q: "z" }, body: [1] })
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))

  it("the RequestMap schema refuses what validateAt refuses", () => {
    const is = Schema.is(RequestMap.RequestMap)
    expect(is({ url: "http://x/", httpOp: "GET" })).toBe(true)
    expect(is({ url: "ftp://x/", httpOp: "GET" })).toBe(false)
    expect(is({ url: "http://x/", httpOp: "GET", headers: { "a b": "c" } })).toBe(false)
    expect(is({ url: "http://x/", httpOp: "GET", headers: { a: "c\r\n" } })).toBe(false)
    expect(is({ url: "http://x/", httpOp: "POST", body: { f: () => 1 } })).toBe(false)
  })
})

describe("options", () => {
  const refused: ReadonlyArray<readonly [string, Clump.Options]> = [
    ["concurrency", { concurrency: 0 }],
    ["concurrency", { concurrency: 1.5 }],
    ["timeout", { timeout: -1 }],
    ["timeout", { timeout: 0 }],
    ["timeout", { timeout: "soon" as never }],
    ["deadline", { deadline: -5 }],
    ["retry.attempts", { retry: 0 }],
    ["retry.statuses", { retry: { statuses: [999] } }],
    ["rateLimit.limit", { rateLimit: { limit: 0, interval: 100 } }],
    ["rateLimit.interval", { rateLimit: { limit: 1, interval: 0 } }],
    ["maxBodyBytes", { maxBodyBytes: -1 }],
    ["maxRedirects", { maxRedirects: -1 }],
    ["concurency", { concurency: 4 } as never],
    ["retry.attemps", { retry: { attemps: 2 } } as never],
    ["rateLimit.perorigin", { rateLimit: { limit: 1, interval: 10, perorigin: true } } as never]
  ]
  for (const [option, options] of refused) {
    it.live(`refuses ${option} = ${JSON.stringify(options)} with InvalidOptionsError before sending`, () =>
      Effect.gen(function*() {
        server.resetStats()
        const error = yield* Effect.flip(Clump.send(Clump.make([{ url: `${server.url}/`, httpOp: "GET" }], options)))
        expect(error).toBeInstanceOf(Clump.InvalidOptionsError)
        expect((error as Clump.InvalidOptionsError).option).toBe(option)
        expect(error.message).toContain(option)
        expect(Result.isFailure(Clump.resolveOptions(options))).toBe(true)
        expect(server.stats.requests).toBe(0)
      }).pipe(Effect.provide(NodeHttpClient.layerUndici)))
  }

  it("refuses a bad default header, naming it", () => {
    const result = Clump.resolveOptions({ headers: { "X-Bad": "a\nb" } })
    expect(Result.isFailure(result) && result.failure.option).toBe("headers.X-Bad")
  })

  it("applies the defaults", () => {
    const resolved = Result.getOrThrow(Clump.resolveOptions({}))
    expect(resolved.concurrency).toBe(100)
    expect(resolved.maxRedirects).toBe(10)
    expect(resolved.failFast).toBe(false)
    expect(resolved.retry).toBeUndefined()
    const retry = Result.getOrThrow(Clump.resolveOptions({ retry: 4, timeout: "2 seconds" }))
    expect(retry.retry?.attempts).toBe(4)
    expect(retry.timeoutMs).toBe(2000)
    expect([...retry.retry!.statuses].sort()).toEqual([408, 429, 500, 502, 503, 504])
  })

  it.live("sender refuses bad options too", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Effect.scoped(Clump.sender({ concurrency: -1 })))
      expect(error).toBeInstanceOf(Clump.InvalidOptionsError)
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)))
})
