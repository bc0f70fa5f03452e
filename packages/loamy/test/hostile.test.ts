/**
 * The Promise and synchronous doors against hostile responses and input:
 * JSON nested too deep (a response's own typed error, a request refused),
 * numbers kept exact, request fields read as own properties only (even
 * with `Object.prototype` polluted), no URL secret in errors, odd header
 * names, a `Host` that must not follow a redirect, `toJSON` that cannot be
 * written. The server runs in a child process: the synchronous door blocks
 * this thread.
 */
import { deepValue, type HostileProcess, startHostileProcess } from "@loamy/test-kit"
import { closedPort, startProcess } from "@loamy/test-server"
import {
  BodyDecodeError,
  InvalidInputError,
  InvalidOptionsError,
  type RequestInput,
  type RequestResponse,
  sendRequests,
  sendRequestsSync,
  TransportError
} from "loamy"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { testing } from "../dist/internal/sync.js"

let hostile: HostileProcess
let other: Awaited<ReturnType<typeof startProcess>>
beforeAll(async () => {
  hostile = await startHostileProcess()
  other = await startProcess()
})
afterAll(async () => {
  await testing.stop()
  await hostile.close()
  await other.close()
})

type Door = readonly [string, (requests: Iterable<RequestInput>, options?: object) => Promise<Array<RequestResponse>>]

const doors: ReadonlyArray<Door> = [
  ["Promise", (requests, options) => sendRequests(requests, options)],
  [
    "sync",
    (requests, options) => {
      try {
        return Promise.resolve(sendRequestsSync(requests, options))
      } catch (error) {
        return Promise.reject(error)
      }
    }
  ]
]

const refusal = async (promise: Promise<unknown>): Promise<InvalidInputError> => {
  const error = await promise.then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(InvalidInputError)
  return error as InvalidInputError
}

type Polluted = { headers?: unknown; body?: unknown; queryParams?: unknown }

for (const [door, send] of doors) {
  describe(`the ${door} door`, () => {
    it("a response body nested 5,000 or 100,000 levels deep is that response's BodyDecodeError; the batch is kept", async () => {
      const responses = await send([
        { url: `${hostile.url}/deep?n=5000`, httpOp: "GET" },
        { url: `${hostile.url}/fine`, httpOp: "GET" },
        { url: `${hostile.url}/deep?n=100000`, httpOp: "GET" }
      ])
      expect(responses).toHaveLength(3)
      for (const i of [0, 2]) {
        expect(responses[i]!.error).toBeInstanceOf(BodyDecodeError)
        expect(responses[i]!.error!.message).toContain("nested deeper than 1000 levels")
        expect(responses[i]!.statusCode).toBe(200)
        expect(responses[i]!.headers["x-kept"]).toBe("yes")
        expect(typeof (responses[i]!.body as { text: string }).text).toBe("string")
      }
      expect(responses[1]!.body).toEqual({ ok: true })
    }, 60_000)

    it("a request body nested deeper than 1,000 levels is refused, naming its index and body; nothing is sent", async () => {
      await hostile.reset()
      const error = await refusal(send([
        { url: `${hostile.url}/a`, httpOp: "GET" },
        { url: `${hostile.url}/b`, httpOp: "POST", body: deepValue(10_000) }
      ]))
      expect([error.index, error.field]).toEqual([1, "body"])
      expect(await hostile.arrivals()).toEqual([])
    })

    it("request fields are read as own properties only, also with Object.prototype polluted", async () => {
      await hostile.reset()
      const inherited = Object.create({ headers: { "x-inherited": "yes" }, body: { inherited: true } })
      inherited.url = `${hostile.url}/inherited`
      inherited.httpOp = "POST"
      const headers = Object.create({ "x-inherited": "yes" })
      headers["x-own"] = "yes"
      const first = await send([inherited, { url: `${hostile.url}/record`, httpOp: "GET", headers }], {
        headers: { "x-default": "1" }
      })
      expect(first.map((r) => r.error)).toEqual([undefined, undefined])
      const proto = Object.prototype as Polluted
      let responses: Array<RequestResponse>
      let noOptions: Array<RequestResponse>
      try {
        proto.headers = { "x-injected": "yes" }
        proto.body = { injected: true }
        proto.queryParams = { injected: "yes" }
        responses = await send([
          { url: `${hostile.url}/bare`, httpOp: "GET" },
          { url: `${hostile.url}/own`, httpOp: "POST", body: { own: 1 }, queryParams: { q: "1" } }
        ], { headers: { "x-default": "1" } })
        // Without options, none is read from the prototype either (default headers, say); and a method not sent
        // before in this process, whose blank request the engine makes (and keeps) now.
        noOptions = await send([{ url: `${hostile.url}/no-options`, httpOp: "OPTIONS" }])
      } finally {
        delete proto.headers
        delete proto.body
        delete proto.queryParams
      }
      expect(responses.map((r) => r.error)).toEqual([undefined, undefined])
      expect(noOptions[0]!.error).toBeUndefined()
      // Nor do the polluted names come back as response headers.
      for (const response of [...responses, ...noOptions]) {
        expect(Object.keys(response.headers).filter((h) => ["headers", "body", "queryParams"].includes(h))).toEqual([])
      }
      const arrivals = await hostile.arrivals()
      const byPath = Object.fromEntries(arrivals.map((a) => [a.url, a]))
      expect(Object.keys(byPath).sort()).toEqual(["/bare", "/inherited", "/no-options", "/own?q=1", "/record"])
      expect(byPath["/no-options"]!.raw).toBe("")
      expect(byPath["/no-options"]!.headers["x-injected"]).toBeUndefined()
      delete byPath["/no-options"]
      expect(byPath["/inherited"]!.raw).toBe("")
      expect(byPath["/record"]!.headers["x-own"]).toBe("yes")
      expect(byPath["/bare"]!.raw).toBe("")
      expect(byPath["/own?q=1"]!.raw).toBe("{\"own\":1}")
      for (const arrival of Object.values(byPath)) {
        expect(arrival.headers["x-default"]).toBe("1")
        expect(arrival.headers["x-inherited"]).toBeUndefined()
        expect(arrival.headers["x-injected"]).toBeUndefined()
        expect(Object.keys(arrival.headers).filter((h) => ["headers", "body", "queryparams"].includes(h))).toEqual([])
      }
    })

    it("an unparsable URL's credentials and query are not in the refusal; no error field holds a query string", async () => {
      const error = await refusal(send([{ url: "http://bob:SEKRIT@127.0.0 .1/?token=T0K3N", httpOp: "GET" }]))
      expect(error.field).toBe("url")
      for (const text of [error.message, JSON.stringify(error)]) {
        expect(text).not.toContain("SEKRIT")
        expect(text).not.toContain("T0K3N")
      }
      const port = await closedPort()
      const [refused] = await send([{ url: `http://127.0.0.1:${port}/x?token=T0K3N`, httpOp: "GET" }])
      // Across the worker too: the error comes back as its class, its url without the query.
      expect(refused!.error).toBeInstanceOf(TransportError)
      expect((refused!.error as TransportError).url).toBe(`http://127.0.0.1:${port}/x`)
      expect(JSON.stringify(refused!.error)).not.toContain("T0K3N")
    })

    it("response headers named __proto__ and constructor are kept as own properties", async () => {
      const [response] = await send([{ url: `${hostile.url}/odd-headers`, httpOp: "GET" }])
      expect(Object.hasOwn(response!.headers, "__proto__")).toBe(true)
      expect(response!.headers["__proto__"]).toBe("p")
      expect(response!.headers["constructor"]).toBe("c")
      // A record without a prototype at every door (the sync door's clone included): no name reads as inherited.
      const [plain] = await send([{ url: `${hostile.url}/a`, httpOp: "GET" }])
      expect(Object.getPrototypeOf(plain!.headers)).toBe(null)
      expect(plain!.headers["constructor"]).toBeUndefined()
    })

    it("a hand-set Host does not follow a redirect to another origin", async () => {
      const [response] = await send([{
        url: `${other.url}/redirect-to-other-origin?path=/echo`,
        httpOp: "GET",
        headers: { Host: "hand-set.test" }
      }])
      expect(response!.statusCode).toBe(200)
      expect((response!.body as { headers: Record<string, string> }).headers["host"]).toBe(new URL(other.otherUrl).host)
    })

    it("a body whose toJSON returns a BigInt or a cycle is refused, naming its index and body", async () => {
      const cycle: Record<string, unknown> = {}
      cycle["self"] = cycle
      for (const body of [{ toJSON: () => 10n }, { when: { toJSON: () => cycle } }]) {
        const error = await refusal(send([
          { url: `${hostile.url}/a`, httpOp: "GET" },
          { url: `${hostile.url}/b`, httpOp: "POST", body }
        ]))
        expect([error.index, error.field]).toEqual([1, "body"])
      }
    })
  })
}

describe("exact numbers at the Promise door", () => {
  it("exactNumbers keeps a response's big integers digit for digit; by default they are JS numbers", async () => {
    const [exact] = await sendRequests([{ url: `${hostile.url}/numbers`, httpOp: "GET" }], { exactNumbers: true })
    expect(JSON.stringify(exact!.body)).toBe("{\"id\":12345678901234567890,\"n\":9007199254740993,\"f\":1.5}")
    const [plain] = await sendRequests([{ url: `${hostile.url}/numbers`, httpOp: "GET" }])
    expect(plain!.body).toEqual({ id: 12345678901234567000, n: 9007199254740992, f: 1.5 })
  })

  it("a body holding JSON.rawJSON values is sent as their text", async () => {
    await hostile.reset()
    const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON
    await sendRequests([{ url: `${hostile.url}/raw`, httpOp: "POST", body: { id: rawJSON("12345678901234567890") } }])
    expect((await hostile.arrivals())[0]!.raw).toBe("{\"id\":12345678901234567890}")
  })
})

describe("exact numbers at the sync door", () => {
  it("exactNumbers is refused at once, naming the option (its worker could not hand the values back)", () => {
    let thrown: unknown
    try {
      sendRequestsSync([{ url: `${hostile.url}/numbers`, httpOp: "GET" }], { exactNumbers: true })
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(InvalidOptionsError)
    expect((thrown as InvalidOptionsError).option).toBe("exactNumbers")
    expect((thrown as InvalidOptionsError).message).toContain("sendRequests")
    // false is the default, and accepted.
    expect(sendRequestsSync([{ url: `${hostile.url}/numbers`, httpOp: "GET" }], { exactNumbers: false })[0]!.body)
      .toEqual({ id: 12345678901234567000, n: 9007199254740992, f: 1.5 })
  }, 20_000)
})
