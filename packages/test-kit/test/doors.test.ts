/**
 * The same properties at every door, from this one file: the Effect door
 * (`Clump.send` on loamy's undici layer), the Promise door (`sendRequests`),
 * the synchronous door (`sendRequestsSync`, its worker thread blocking this
 * one) and the CLI run as a process (`loamy send` on a JSONL file and on a
 * JSON array file), each through its adapter in `@loamy/test-kit/doors`,
 * against the test server on 127.0.0.1:
 *
 * - one response per request, in input order, each the answer to its own request;
 * - typed errors at their own index (a connection refused, a timeout, an HTML
 *   500, a body over `maxBodyBytes`), the other requests answered;
 * - a refused URL named by its index and field (the whole call refused, or, for
 *   JSONL read line by line, that line alone), and bad options by their name;
 * - the bounds seen at the server: the concurrency cap, retries.
 *
 * The synchronous door blocks this thread, so the server runs in a process of
 * its own (`startProcess`); its stats are asked for over IPC after each call.
 */
import { uniqueKey } from "@loamy/test-kit"
import { closeDoors, type Door, doors, type Outcome, type Sent } from "@loamy/test-kit/doors"
import { closedPort, type ServerProcess, startProcess } from "@loamy/test-server"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

let server: ServerProcess
let refusedPort: number
beforeAll(async () => {
  ;[server, refusedPort] = await Promise.all([startProcess(), closedPort()])
})
afterAll(async () => {
  await closeDoors()
  await server?.close()
})

/** The outcomes of `sent`, which must be responses, not a refusal. */
const responses = (sent: Sent, door: Door): ReadonlyArray<Outcome> => {
  if (sent._tag !== "Responses") throw new Error(`${door.name}: the call was refused: ${JSON.stringify(sent.refusal)}`)
  return sent.outcomes
}

describe.each(doors)("at the $name door", (door) => {
  it("one response per request, in input order, each the answer to its own request", async () => {
    await server.resetStats()
    // The first ones wait longest: finished in about the reverse order, given back in input order.
    const delays = [400, 300, 200, 100, 0, 0, 50, 0]
    const requests = delays.map((ms, n) => ({ url: `${server.url}/delay/${ms}?n=${n}`, httpOp: "GET" as const }))
    const outcomes = responses(await door.send(requests, { concurrency: 8 }), door)
    expect(outcomes.map((outcome) => outcome.index)).toEqual(requests.map((_, n) => n))
    expect(outcomes.map((outcome) => outcome.url)).toEqual(requests.map((request) => request.url))
    expect(outcomes.map((outcome) => outcome.body)).toEqual(delays.map((ms) => ({ delayed: ms })))
    for (const outcome of outcomes) {
      expect(outcome.statusCode, `#${outcome.index}`).toBe(200)
      expect(outcome.error, `#${outcome.index}`).toBeUndefined()
      expect(outcome.attempts, `#${outcome.index}`).toBe(1)
    }
    expect((await server.stats()).requests).toBe(requests.length)
  })

  it("typed errors at their own index: a connection refused, a timeout, an HTML 500, a body over maxBodyBytes", async () => {
    await server.resetStats()
    // The failing ones carry a query that stands for a secret: an error names its request without it.
    const requests = [
      { url: `${server.url}/?n=0`, httpOp: "GET" as const },
      { url: `http://127.0.0.1:${refusedPort}/refused?token=hush-1`, httpOp: "GET" as const },
      { url: `${server.url}/stall?ms=10000&token=hush-2`, httpOp: "GET" as const },
      { url: `${server.url}/exception?token=hush-3`, httpOp: "GET" as const },
      { url: `${server.url}/big?bytes=50000&token=hush-4`, httpOp: "GET" as const },
      { url: `${server.url}/foo`, httpOp: "POST" as const, body: { n: 5 } }
    ]
    const outcomes = responses(await door.send(requests, { timeout: "1s", maxBodyBytes: 4_096, concurrency: 6 }), door)
    expect(outcomes.map((outcome) => outcome.index)).toEqual([0, 1, 2, 3, 4, 5])
    expect(outcomes.map((outcome) => outcome.error?._tag)).toEqual([
      undefined,
      "TransportError",
      "TimeoutError",
      "BodyDecodeError",
      "BodyTooLargeError",
      undefined
    ])
    expect(outcomes.map((outcome) => outcome.statusCode)).toEqual([200, 0, 0, 500, 200, 200])
    expect(outcomes[0]!.body).toEqual({ message: "Hello, world!" })
    expect(outcomes[5]!.body).toEqual({ foo: "bar" })
    expect(outcomes[1]!.error).toMatchObject({ reason: "ConnectionRefused" })
    expect(outcomes[2]!.error!.message).toContain("timed out after 1000 ms")
    expect(outcomes[4]!.error!.message).toContain("4096")
    // Each error says what and where, the method and its own request's URL, and no secret.
    for (const n of [1, 2, 3, 4]) {
      const { message } = outcomes[n]!.error!
      expect(message, `#${n}`).toContain(`GET ${requests[n]!.url.split("?")[0]}`)
      expect(JSON.stringify(outcomes[n]!.error), `#${n}`).not.toContain("hush")
    }
  })

  it("a refused URL is named by its index and field, and is not sent", async () => {
    await server.resetStats()
    const requests = [
      { url: `${server.url}/?n=0`, httpOp: "GET" as const },
      { url: "not a url", httpOp: "GET" as const },
      { url: `${server.url}/?n=2`, httpOp: "GET" as const }
    ]
    const sent = await door.send(requests)
    if (door.refuses === "call") {
      expect(sent).toMatchObject({ _tag: "Refused", refusal: { _tag: "InvalidInputError", index: 1, field: "url" } })
      expect((await server.stats()).requests).toBe(0)
    } else {
      const outcomes = responses(sent, door)
      expect(outcomes.map((outcome) => outcome.index)).toEqual([0, 1, 2])
      expect(outcomes.map((outcome) => outcome.error?._tag)).toEqual([undefined, "InvalidInputError", undefined])
      expect(outcomes[1]!.error).toMatchObject({ index: 1, field: "url" })
      expect(outcomes[1]!.statusCode).toBe(0)
      expect((await server.stats()).arrivalPaths.sort()).toEqual(["/?n=0", "/?n=2"])
    }
  })

  it("bad options are refused by their name before anything is sent", async () => {
    await server.resetStats()
    const sent = await door.send([{ url: `${server.url}/`, httpOp: "GET" }], { concurrency: 0 })
    expect(sent).toMatchObject({ _tag: "Refused", refusal: { _tag: "InvalidOptionsError", option: "concurrency" } })
    expect((await server.stats()).requests).toBe(0)
  })

  it("bounds seen at the server: no more requests in flight than the concurrency cap", async () => {
    await server.resetStats()
    const requests = Array.from({ length: 12 }, (_, n) => ({ url: `${server.url}/delay/150?n=${n}`, httpOp: "GET" as const }))
    const outcomes = responses(await door.send(requests, { concurrency: 3 }), door)
    expect(outcomes.map((outcome) => outcome.statusCode)).toEqual(requests.map(() => 200))
    const stats = await server.stats()
    expect(stats.requests).toBe(requests.length)
    expect(stats.maxInFlight, `the server saw ${stats.maxInFlight} in flight`).toBeLessThanOrEqual(3)
  })

  it("bounds seen at the server: a retry is one more request, up to the attempts allowed", async () => {
    await server.resetStats()
    const requests = [
      { url: `${server.url}/flaky?fails=1&status=503&key=${uniqueKey()}`, httpOp: "GET" as const },
      { url: `${server.url}/flaky?fails=5&status=503&key=${uniqueKey()}`, httpOp: "GET" as const }
    ]
    const outcomes = responses(await door.send(requests, { retry: 3 }), door)
    // The first heals on its second attempt; the second is still failing after its third.
    expect(outcomes.map((outcome) => [outcome.statusCode, outcome.attempts])).toEqual([[200, 2], [503, 3]])
    expect((await server.stats()).byPath["/flaky"]).toBe(5)
  })

  it("bodies beyond JSON, a request's own options, baseUrl and failOn, as the server's parsers read them", async () => {
    const outcomes = responses(
      await door.send([
        { url: "/parse", httpOp: "POST", form: { a: "1", b: ["2", "3"] } },
        { url: "parse", httpOp: "POST", text: "plain" },
        { url: "/parse", httpOp: "PUT", bytes: "AAEC/w==" },
        { url: "/parse", httpOp: "POST", multipart: [{ name: "v", value: "x" }, { name: "raw", bytes: "AQID", filename: "raw.bin" }] },
        { url: "/delay/1500", httpOp: "GET", options: { timeout: "100ms" } },
        { url: "/status/503", httpOp: "GET" },
        { url: `${server.url}/status/404`, httpOp: "GET" }
      ], { baseUrl: server.url, failOn: "5xx", timeout: "5s" }),
      door
    )
    const bodies = outcomes.map((outcome) => outcome.body as Record<string, unknown>)
    expect(outcomes[1]!.url).toBe(`${server.url}/parse`)
    expect(bodies[0]).toMatchObject({ contentType: "application/x-www-form-urlencoded", form: [["a", "1"], ["b", "2"], ["b", "3"]] })
    expect(bodies[1]).toMatchObject({ contentType: "text/plain; charset=utf-8", text: "plain" })
    expect(bodies[2]).toMatchObject({ contentType: "application/octet-stream", base64: "AAEC/w==" })
    expect(bodies[3]!["parts"]).toEqual([
      { name: "v", value: "x" },
      { name: "raw", filename: "raw.bin", type: "application/octet-stream", size: 3, sha256: expect.any(String) }
    ])
    for (const outcome of outcomes.slice(0, 4)) expect(outcome.error, `#${outcome.index}`).toBeUndefined()
    expect(outcomes[4]!.error).toMatchObject({ _tag: "TimeoutError", timeoutMs: 100 })
    expect(outcomes[5]!.error).toMatchObject({ _tag: "HttpStatusError", statusCode: 503 })
    expect([outcomes[6]!.statusCode, outcomes[6]!.error]).toEqual([404, undefined])
  })
})

describe("at every door at once", () => {
  it("a refusal is worded the same at every door", async () => {
    await server.resetStats()
    const badUrl = [{ url: `${server.url}/`, httpOp: "GET" as const }, { url: "not a url", httpOp: "GET" as const }]
    const badOption = [{ url: `${server.url}/`, httpOp: "GET" as const }]
    const refusals = []
    for (const door of doors) {
      if (door.refuses === "call") refusals.push([door.name, "url", await door.send(badUrl)] as const)
      refusals.push([door.name, "option", await door.send(badOption, { concurrency: 0 })] as const)
    }
    for (const kind of ["url", "option"]) {
      const [first, ...others] = refusals.filter(([, what]) => what === kind)
      expect(first![2]._tag, `${first![0]}, ${kind}`).toBe("Refused")
      for (const [name, , sent] of others) expect(sent, `${name}, ${kind}`).toEqual(first![2])
    }
    expect((await server.stats()).requests).toBe(0)
  })
})
