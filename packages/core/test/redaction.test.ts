/**
 * No secret from a URL in any message or error field: a URL refused as bad
 * input is shown without its user information and query string, and every
 * error's `url` (and a redirect's `location`) holds origin and path only,
 * in the error itself, its JSON and its Schema encoding.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { it } from "@effect/vitest"
import { Clump, LoamyError, RequestMap, RequestResponse } from "@loamy/core"
import { type HostileServer, startHostile } from "@loamy/test-kit"
import { closedPort, start, type TestServer } from "@loamy/test-server"
import { Effect, Result, Schema } from "effect"
import { afterAll, beforeAll, describe, expect } from "vitest"

let server: TestServer
let hostile: HostileServer
beforeAll(async () => {
  server = await start()
  hostile = await startHostile()
})
afterAll(async () => {
  await server.close()
  await hostile.close()
})

const encodeError = Schema.encodeSync(LoamyError.RequestError)

describe("refused URLs (InvalidInputError)", () => {
  const cases = [
    ["http://bob:SEKRIT@127.0.0 .1/?token=T0K3N", "\"http://127.0.0 .1/\" is not a URL"],
    ["ftp://bob:SEKRIT@example.com/file?token=T0K3N", "\"ftp://example.com/file\" is not an http or https URL"],
    ["bob:SEKRIT@example.com/x?token=T0K3N", "is not an http or https URL"],
    ["http://bob:SEKRIT@[::1/x#T0K3N", "\"http://[::1/x\" is not a URL"]
  ] as const
  for (const [url, shown] of cases) {
    it(`${JSON.stringify(url.slice(0, 20))}... is shown without user information, query or fragment`, () => {
      const checked = RequestMap.validateAt({ url, httpOp: "GET" }, 2)
      expect(Result.isFailure(checked)).toBe(true)
      const error = Result.isFailure(checked) ? checked.failure : undefined
      expect(error!.field).toBe("url")
      expect(error!.detail).toContain(shown)
      for (const text of [error!.message, error!.detail, JSON.stringify(error)]) {
        expect(text).not.toContain("SEKRIT")
        expect(text).not.toContain("T0K3N")
      }
    })
  }
})

describe("every error's url field", () => {
  /** The error's every form: itself, its JSON, its Schema encoding, decoded back. */
  const forms = (error: LoamyError.RequestError): ReadonlyArray<string> => {
    const encoded = encodeError(error)
    const decoded = Schema.decodeUnknownSync(LoamyError.RequestError)(JSON.parse(JSON.stringify(encoded)))
    return [error.url, error.message, JSON.stringify(error), JSON.stringify(encoded), decoded.url]
  }

  it.live("holds origin and path only, for every error a request can end with", () =>
    Effect.gen(function*() {
      const port = yield* Effect.promise(closedPort)
      const query = "?token=T0K3N&user=x"
      const requests = [
        // TransportError: nothing listens there.
        { url: `http://127.0.0.1:${port}/refused${query}`, httpOp: "GET" as const },
        // BodyDecodeError: text that is not JSON.
        { url: `${server.url}/text${query}`, httpOp: "GET" as const },
        // BodyTooLargeError.
        { url: `${server.url}/big${query}&bytes=5000`, httpOp: "GET" as const },
        // RedirectError: a loop, through a location with credentials and a query string.
        {
          url: `${server.url}/redirect${query}&to=${
            encodeURIComponent(`http://user:PASSW0RD@127.0.0.1:${new URL(server.url).port}/redirect-loop?token=T0K3N`)
          }`,
          httpOp: "GET" as const
        },
        // TimeoutError.
        { url: `${server.url}/stall${query}&ms=5000`, httpOp: "GET" as const },
        // Query parameters given apart count too.
        { url: `${server.url}/text`, httpOp: "GET" as const, queryParams: { token: "T0K3N" } }
      ]
      const responses = yield* Clump.send(Clump.make(requests, { timeout: 300, maxBodyBytes: 1000 }))
      expect(responses.map((r) => r.error?._tag)).toEqual([
        "TransportError",
        "BodyDecodeError",
        "BodyTooLargeError",
        "RedirectError",
        "TimeoutError",
        "BodyDecodeError"
      ])
      for (const response of responses) {
        const error = response.error as LoamyError.RequestError
        const path = new URL(response.requestMap.url).pathname
        expect(error.url).toBe(`${new URL(response.requestMap.url).origin}${path}`)
        for (const form of forms(error)) {
          expect(form).not.toContain("T0K3N")
          expect(form).not.toContain("PASSW0RD")
        }
        // The whole response as the wire carries it (its requestMap, which holds the query, put aside).
        expect(JSON.stringify(RequestResponse.encodeArray([{ ...response, requestMap: { url: `${server.url}/`, httpOp: "GET" } }])))
          .not.toContain("T0K3N")
      }
      const redirect = responses[3]!.error as LoamyError.RedirectError
      expect(redirect.location).toBe(`${server.url}/redirect-loop`)
      // DeadlineError.
      const [late] = yield* Clump.send(Clump.make([{ url: `${server.url}/stall${query}&ms=5000`, httpOp: "GET" }], {
        deadline: 200
      }))
      expect(late!.error?._tag).toBe("DeadlineError")
      for (const form of forms(late!.error as LoamyError.RequestError)) expect(form).not.toContain("T0K3N")
    }).pipe(Effect.provide(NodeHttpClient.layerUndici)), 30_000)

  it("is redacted whoever makes the error: a constructor, or a decoder reading an old record", () => {
    const made = new LoamyError.InvalidRequestError({
      method: "GET",
      url: "https://bob:SEKRIT@example.com/a/b?token=T0K3N#frag",
      detail: "x"
    })
    expect(made.url).toBe("https://example.com/a/b")
    const decoded = Schema.decodeUnknownSync(LoamyError.RequestError)({
      _tag: "TimeoutError",
      method: "GET",
      url: "http://example.com/p?token=T0K3N",
      timeoutMs: 5
    })
    expect(decoded.url).toBe("http://example.com/p")
    // Not a URL at all: still no user information or query.
    const odd = new LoamyError.TransportError({
      method: "GET",
      url: "http://bob:SEKRIT@exa mple/p?token=T0K3N",
      reason: "Unknown",
      detail: "x"
    })
    expect(odd.url).toBe("http://exa mple/p")
  })
})
