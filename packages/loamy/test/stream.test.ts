/**
 * `streamRequests`, the Promise door's stream, against the test server on 127.0.0.1: input in any form (an array,
 * an iterable, an async iterable of objects or JSON lines, a file read line by line), completion and input
 * order with each response's index, the one rule for a bad item, cancellation (break, `return()`, a signal)
 * reaching the requests in flight and the source, and memory bounded by the concurrency (in a child process).
 */
import { start, type TestServer } from "@loamy/test-server"
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import {
  AbortError,
  InvalidInputError,
  isInvalidOptionsError,
  isRefused,
  type RequestResponse,
  type Streamed,
  streamRequests
} from "loamy"
import { afterAll, beforeAll, beforeEach, describe, expect, expectTypeOf, it } from "vitest"
import { waitUntil } from "@loamy/test-kit"

let server: TestServer
beforeAll(async () => {
  server = await start()
})
afterAll(() => server.close())
beforeEach(() => server.resetStats())

const collect = async <X>(iterator: AsyncIterable<Streamed<X>>): Promise<Array<Streamed<X>>> => {
  const out: Array<Streamed<X>> = []
  for await (const item of iterator) out.push(item)
  return out
}

describe("streamRequests", () => {
  it("yields each response with its index as it finishes, or in input order when ordered", async () => {
    // Later requests answer sooner: completion order is the reverse of input order.
    const requests = Array.from({ length: 12 }, (_, i) => ({ url: `${server.url}/delay/${(12 - i) * 15}`, httpOp: "GET" as const }))
    const unordered = await collect(streamRequests(requests, { concurrency: 12 }))
    expect(unordered.map((item) => item.index).sort((a, b) => a - b)).toEqual(requests.map((_, i) => i))
    expect(unordered[0]!.index).not.toBe(0)
    for (const { index, response } of unordered) {
      expect((response as RequestResponse).body).toEqual({ delayed: (12 - index) * 15 })
    }
    const ordered = await collect(streamRequests(requests, { concurrency: 12, ordered: true }))
    expect(ordered.map((item) => item.index)).toEqual(requests.map((_, i) => i))
  })

  it("reads iterables, async iterables and JSON lines, and a file line by line", async () => {
    const request = (i: number) => ({ url: `${server.url}/echo?i=${i}`, httpOp: "GET" as const })
    function* generate() {
      for (let i = 0; i < 5; i++) yield request(i)
    }
    async function* lines() {
      for (let i = 0; i < 5; i++) yield JSON.stringify(request(i))
    }
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "loamy-stream-"))
    const file = path.join(dir, "requests.jsonl")
    fs.writeFileSync(file, Array.from({ length: 5 }, (_, i) => JSON.stringify(request(i))).join("\n") + "\n")
    try {
      const sources = [
        generate,
        () => new Set([0, 1, 2, 3, 4].map(request)),
        lines,
        () => createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity })
      ]
      for (const source of sources) {
        const items = await collect(streamRequests(source(), { ordered: true }))
        expect(items.map(({ index, response }) => [index, (response.body as { query: { i: string } }).query.i])).toEqual(
          [0, 1, 2, 3, 4].map((i) => [i, String(i)])
        )
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("a bad item gets its own Refused response with the InvalidInputError's index and field; the rest are sent", async () => {
    const items = await collect(streamRequests([
      { url: `${server.url}/`, httpOp: "GET" },
      "not json",
      { url: "not a url", httpOp: "GET" },
      JSON.stringify({ url: `${server.url}/`, http_op: "get" })
    ], { ordered: true }))
    expect(items.map(({ response }) => response.statusCode)).toEqual([200, 0, 0, 200])
    const [, line, url] = items.map(({ response }) => response)
    expect(isRefused(line!) && line.error).toBeInstanceOf(InvalidInputError)
    expect(line!.error).toMatchObject({ index: 1, field: "" })
    expect(url!.error).toMatchObject({ _tag: "InvalidInputError", index: 2, field: "url" })
    expect(url!.requestMap).toEqual({ url: "not a url", httpOp: "GET" })
    expect(server.stats.requests).toBe(2)
  })

  it("with returnExceptions: false the loop throws the first failure and yields no failed response", async () => {
    const seen: Array<number> = []
    const stream = streamRequests([
      { url: `${server.url}/`, httpOp: "GET" },
      { url: "not a url", httpOp: "GET" },
      { url: `${server.url}/stall?ms=30000`, httpOp: "GET" }
    ], { returnExceptions: false, concurrency: 1 })
    expectTypeOf(stream).toEqualTypeOf<AsyncIterableIterator<Streamed<never>>>()
    await expect((async () => {
      for await (const { index, response } of stream) {
        expect(response.error).toBeUndefined()
        seen.push(index)
      }
    })()).rejects.toMatchObject({ _tag: "InvalidInputError", index: 1, field: "url" })
    expect(seen).toEqual([0])
    expect(server.stats.byPath["/stall"]).toBeUndefined()
  })

  it("breaking out of the loop interrupts the requests in flight and closes the source", async () => {
    let closed = false
    async function* source() {
      try {
        yield { url: `${server.url}/`, httpOp: "GET" as const }
        for (let i = 0; i < 1_000; i++) yield { url: `${server.url}/stall?ms=60000&i=${i}`, httpOp: "GET" as const }
      } finally {
        closed = true
      }
    }
    for await (const { response } of streamRequests(source(), { concurrency: 8 })) {
      expect(response.statusCode).toBe(200)
      // The stalled requests are in flight at the server before the loop is left.
      expect(await waitUntil(() => server.stats.inFlight === 8)).toBe(true)
      break
    }
    expect(closed).toBe(true)
    // The break returned once the call was closed: the server sees every stalled request abandoned.
    expect(await waitUntil(() => server.stats.inFlight === 0)).toBe(true)
    expect(server.stats.aborted).toBe(8)
    expect(server.stats.requests).toBe(9)
  }, 30_000)

  it("return() on the iterator does the same, and later calls are done", async () => {
    const iterator = streamRequests(Array.from({ length: 20 }, () => ({ url: `${server.url}/stall?ms=60000`, httpOp: "GET" as const })), { concurrency: 4 })
    const pending = iterator.next()
    expect(await waitUntil(() => server.stats.inFlight === 4)).toBe(true)
    await iterator.return!()
    expect(await pending).toEqual({ done: true, value: undefined })
    expect(await iterator.next()).toEqual({ done: true, value: undefined })
    expect(await waitUntil(() => server.stats.inFlight === 0)).toBe(true)
    expect(server.stats.aborted).toBe(4)
  }, 30_000)

  it("aborting the signal makes the loop throw an AbortError and interrupts what is in flight", async () => {
    const controller = new AbortController()
    const loop = (async () => {
      for await (const _ of streamRequests(
        Array.from({ length: 10 }, () => ({ url: `${server.url}/stall?ms=60000`, httpOp: "GET" as const })),
        { concurrency: 5, signal: controller.signal }
      )) {
        // Nothing arrives: every request stalls.
      }
    })()
    expect(await waitUntil(() => server.stats.inFlight === 5)).toBe(true)
    controller.abort(new Error("enough"))
    await expect(loop).rejects.toBeInstanceOf(AbortError)
    expect(await waitUntil(() => server.stats.inFlight === 0)).toBe(true)
    expect(server.stats.aborted).toBe(5)
    // Already aborted: refused at once, nothing sent.
    expect(() => streamRequests([], { signal: controller.signal })).toThrow(AbortError)
  }, 30_000)

  it("nothing is sent before the first next(); bad options and sources throw at the call", async () => {
    const iterator = streamRequests([{ url: `${server.url}/`, httpOp: "GET" }])
    await new Promise((resolve) => setImmediate(resolve))
    expect(server.stats.requests).toBe(0)
    await iterator.return!()
    let thrown: unknown
    try {
      streamRequests([], { ordered: "yes" as unknown as boolean })
    } catch (error) {
      thrown = error
    }
    expect(isInvalidOptionsError(thrown) && thrown.option).toBe("ordered")
    expect(() => streamRequests([], { concurrency: 0 })).toThrow(/concurrency/)
    expect(() => streamRequests(42 as unknown as Array<never>)).toThrow(InvalidInputError)
  })

  it("reports progress with onProgress, total unknown", async () => {
    const reports: Array<{ done: number; total: number | undefined }> = []
    await collect(streamRequests(Array.from({ length: 10 }, () => ({ url: `${server.url}/`, httpOp: "GET" as const })), {
      onProgress: (progress) => reports.push(progress)
    }))
    expect(reports.at(-1)).toMatchObject({ done: 10, total: undefined })
  })
})

const fixture = fileURLToPath(new URL("./fixtures/stream-memory.mjs", import.meta.url))

const peakRss = (url: string, n: number, form: string) =>
  new Promise<{ count: number; ok: number; peakRssBytes: number }>((resolve, reject) => {
    execFile(process.execPath, [fixture, url, String(n), form], { timeout: 170_000 }, (error, stdout, stderr) => {
      if (error !== null) return reject(new Error(`${form}: ${error.message}\n${stderr}`))
      resolve(JSON.parse(stdout.trim().split("\n").pop()!))
    })
  })

describe("streamRequests' memory", () => {
  it("100k requests with 4 KB bodies from a generator stay far below what holding every response takes", async () => {
    // Holding the 100k responses (sendRequests) takes over a gigabyte; the stream holds about as many as are in
    // flight. bench/README.md has the measured figures; this checks a generous bound only (no timing).
    const result = await peakRss(`${server.url}/big?bytes=4000`, 100_000, "stream-generator")
    expect(result).toMatchObject({ count: 100_000, ok: 100_000 })
    expect(result.peakRssBytes).toBeLessThan(512 * 1024 * 1024)
  }, 180_000)
})
