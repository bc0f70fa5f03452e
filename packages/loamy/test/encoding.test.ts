// HTTP as users expect it, at the layer: bodies decoded by Content-Encoding, default headers, the user's
// own headers winning. Every server here is a small node:http server on 127.0.0.1 started by this file.
import { it } from "@effect/vitest"
import { Clump } from "@loamy/core"
import { waitUntil } from "@loamy/test-kit"
import { Cause, Effect, Exit, Stream } from "effect"
import { HttpClient, HttpClientError, HttpClientRequest } from "effect/http"
import { readFileSync } from "node:fs"
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import * as zlib from "node:zlib"
import * as UndiciHttpClient from "loamy/UndiciHttpClient"
import { afterAll, beforeAll, describe, expect } from "vitest"
import { version } from "../src/internal/version.js"

const text = "héllo, wörld! ".repeat(500)
const plain = Buffer.from(text)
const gzip = zlib.gzipSync(plain)
const encoded: Record<string, Buffer> = {
  gzip,
  "x-gzip": gzip,
  deflate: zlib.deflateSync(plain),
  "deflate-raw": zlib.deflateRawSync(plain),
  br: zlib.brotliCompressSync(plain),
  // Applied in the order listed: gzip first, then br.
  "gzip, br": zlib.brotliCompressSync(gzip),
  "identity, gzip": gzip,
  identity: plain,
  unknown: plain
}
const headerOf = (name: string) => (name === "deflate-raw" ? "deflate" : name === "unknown" ? "x-nothing" : name)

// 50 MB of zeros in ~50 KB of gzip or deflate, or a few bytes of br.
const bombSize = 50 * 1024 * 1024
const zeros = Buffer.alloc(bombSize)
const bombs: Record<string, Buffer> = {
  gzip: zlib.gzipSync(zeros, { level: 9 }),
  deflate: zlib.deflateSync(zeros, { level: 9 }),
  br: zlib.brotliCompressSync(zeros)
}

let server: Server
let url: string
const seen: Array<IncomingHttpHeaders> = []
let bombClosed = 0

const send = (res: ServerResponse, body: Buffer, encoding: string | undefined, chunked: boolean) => {
  const headers: Record<string, string> = { "content-type": "text/plain; charset=utf-8" }
  if (encoding !== undefined) headers["content-encoding"] = encoding
  if (!chunked) headers["content-length"] = String(body.byteLength)
  res.writeHead(200, headers)
  if (chunked) {
    // In pieces, so the client reads it as a stream.
    const half = Math.floor(body.byteLength / 2)
    res.write(body.subarray(0, half))
    setTimeout(() => res.end(body.subarray(half)), 5)
  } else {
    res.end(body)
  }
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const u = new URL(req.url!, "http://x")
    const chunked = u.searchParams.has("chunked")
    const name = u.pathname.slice(1)
    if (name === "echo") {
      seen.push(req.headers)
      const chunks: Array<Buffer> = []
      req.on("data", (c: Buffer) => chunks.push(c))
      req.on("end", () => {
        res.writeHead(200, { "content-type": "application/json" })
        res.end(JSON.stringify({ headers: req.headers, body: Buffer.concat(chunks).toString() }))
      })
    } else if (name.startsWith("bomb-")) {
      const coding = name.slice(5)
      req.socket.on("close", () => bombClosed++)
      // The whole bomb, and the response left open: only the client closing the socket ends it.
      res.writeHead(200, { "content-type": "application/octet-stream", "content-encoding": coding })
      res.write(bombs[coding])
    } else if (name === "corrupt") {
      send(res, Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]), Buffer.alloc(64, 0xff)]), "gzip", chunked)
    } else if (name === "json") {
      send(res, zlib.gzipSync(JSON.stringify({ a: 1, text })), "gzip", chunked)
    } else if (name === "head") {
      res.writeHead(200, { "content-encoding": "gzip", "content-length": String(gzip.byteLength) })
      res.end(req.method === "HEAD" ? undefined : gzip)
    } else if (name === "empty") {
      res.writeHead(200, { "content-encoding": "gzip", "content-length": "0" })
      res.end()
    } else if (name === "many") {
      send(res, plain, "identity, identity, identity, identity, identity, gzip", chunked)
    } else {
      const body = encoded[decodeURIComponent(name)]!
      send(res, body, headerOf(decodeURIComponent(name)), chunked)
    }
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})
afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

const get = (path: string) => Effect.flatMap(HttpClient.HttpClient, (client) => client.get(`${url}${path}`))
const concat = (chunks: ReadonlyArray<Uint8Array>) => Buffer.concat(chunks)

describe("Content-Encoding", () => {
  it.layer(UndiciHttpClient.layer)("decoding", (it) => {
    for (const name of Object.keys(encoded)) {
      for (const chunked of [false, true]) {
        const path = `/${encodeURIComponent(name)}${chunked ? "?chunked" : ""}`
        it.effect(`${name}, ${chunked ? "streamed" : "with a content-length"}: text, arrayBuffer and stream give the decoded bytes`, () =>
          Effect.gen(function*() {
            const first = yield* get(path)
            expect(first.headers["content-encoding"]).toBe(name === "identity" ? "identity" : headerOf(name))
            expect(yield* first.text).toBe(text)
            const bytes = yield* Effect.flatMap(get(path), (r) => r.arrayBuffer)
            expect(Buffer.from(bytes).equals(plain)).toBe(true)
            const streamed = yield* Effect.flatMap(get(path), (r) => Stream.runCollect(r.stream))
            expect(concat(streamed).equals(plain)).toBe(true)
          }))
      }
    }

    it.effect("reads a buffered body twice, and decodes it once", () =>
      Effect.gen(function*() {
        const response = yield* get("/gzip")
        const a = yield* response.arrayBuffer
        const b = yield* response.text
        expect(Buffer.from(a).toString()).toBe(b)
        expect(b).toBe(text)
      }))

    it.effect("hands over a small plain body's bytes without copying them again", () =>
      Effect.gen(function*() {
        const response = yield* get("/identity")
        const a = yield* response.arrayBuffer
        const b = yield* response.arrayBuffer
        expect(a).toBe(b)
        expect(Buffer.from(a).equals(plain)).toBe(true)
        expect(yield* response.text).toBe(text)
      }))

    it.effect("does not decode the (absent) body of a HEAD, nor an empty body", () =>
      Effect.gen(function*() {
        const client = yield* HttpClient.HttpClient
        const head = yield* client.head(`${url}/head`)
        expect(yield* head.text).toBe("")
        expect(head.headers["content-encoding"]).toBe("gzip")
        const empty = yield* get("/empty")
        expect(yield* empty.text).toBe("")
      }))

    for (const chunked of [false, true]) {
      it.effect(`fails a corrupt gzip body with a DecodeError (${chunked ? "streamed" : "buffered"})`, () =>
        Effect.gen(function*() {
          const path = `/corrupt${chunked ? "?chunked" : ""}`
          const asText = yield* Effect.exit(Effect.flatMap(get(path), (r) => r.text))
          const asStream = yield* Effect.exit(Effect.flatMap(get(path), (r) => Stream.runDrain(r.stream)))
          for (const exit of [Exit.asVoid(asText), asStream]) {
            expect(Exit.isFailure(exit)).toBe(true)
            const error = Exit.isFailure(exit) ? Cause.findErrorOption(exit.cause) : undefined
            if (error !== undefined && error._tag === "Some") {
              expect(HttpClientError.isHttpClientError(error.value)).toBe(true)
              const reason = (error.value as HttpClientError.HttpClientError).reason
              expect(reason._tag).toBe("DecodeError")
            } else {
              expect.fail("expected a failure")
            }
          }
        }))
    }

    it.effect("refuses more than five codings, as fetch does", () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(Effect.flatMap(get("/many"), (r) => r.text))
        expect(Exit.isFailure(exit)).toBe(true)
      }))

    it.effect("gives the core decoded JSON, within maxBodyBytes counted in decoded bytes", () =>
      Effect.gen(function*() {
        const [small, streamed, limited] = yield* Clump.send(Clump.make([
          { url: `${url}/json`, httpOp: "GET" },
          { url: `${url}/json?chunked`, httpOp: "GET" }
        ], { maxBodyBytes: 1_000_000 })).pipe(
          Effect.zip(Clump.send(Clump.make([{ url: `${url}/json`, httpOp: "GET" }], { maxBodyBytes: 1_000 }))),
          Effect.map(([a, b]) => [...a, ...b])
        )
        expect(small!.body).toEqual({ a: 1, text })
        expect(streamed!.body).toEqual({ a: 1, text })
        // The gzip is far smaller than 1,000 bytes; the decoded body is not.
        expect(limited!.error?._tag).toBe("BodyTooLargeError")
      }))
  })

  for (const coding of Object.keys(bombs)) {
    it.live(`stops inflating a ${coding} bomb when the reader stops, and closes its socket`, () =>
      Effect.gen(function*() {
        const closedBefore = bombClosed
        const client = yield* HttpClient.HttpClient
        global.gc?.()
        const before = process.memoryUsage()
        let peakArrayBuffers = 0
        let peakRss = 0
        let read = 0
        const response = yield* client.get(`${url}/bomb-${coding}`)
        yield* response.stream.pipe(
          Stream.runForEachWhile((chunk) =>
            Effect.gen(function*() {
              read += chunk.byteLength
              // A slow reader: an inflater that ignores back-pressure would run far ahead of it.
              yield* Effect.sleep(5)
              const now = process.memoryUsage()
              peakArrayBuffers = Math.max(peakArrayBuffers, now.arrayBuffers)
              peakRss = Math.max(peakRss, now.rss)
              return read < 1024 * 1024
            })
          )
        )
        expect(read).toBeGreaterThanOrEqual(1024 * 1024)
        expect(read).toBeLessThan(4 * 1024 * 1024)
        expect(yield* Effect.promise(() => waitUntil(() => bombClosed === closedBefore + 1, 5_000))).toBe(true)
        // Well under the 50 MB the bomb inflates to.
        yield* Effect.sleep(200)
        const after = process.memoryUsage()
        peakArrayBuffers = Math.max(peakArrayBuffers, after.arrayBuffers)
        peakRss = Math.max(peakRss, after.rss)
        expect(peakArrayBuffers - before.arrayBuffers).toBeLessThan(16 * 1024 * 1024)
        expect(peakRss - before.rss).toBeLessThan(40 * 1024 * 1024)
      }).pipe(Effect.provide(UndiciHttpClient.layer)), 30_000)
  }
})

describe("request headers", () => {
  const packageVersion = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")).version

  it("keeps the User-Agent version in step with package.json", () => {
    expect(version).toBe(packageVersion)
  })

  it.layer(UndiciHttpClient.layer)("defaults", (it) => {
    it.effect("sends Accept-Encoding and User-Agent by default", () =>
      Effect.gen(function*() {
        const response = yield* get("/echo")
        const { headers } = (yield* response.json) as { headers: IncomingHttpHeaders }
        expect(headers["accept-encoding"]).toBe("gzip, deflate, br")
        expect(headers["user-agent"]).toBe(`loamy/${packageVersion}`)
      }))

    it.effect("lets the request's own accept-encoding and user-agent win, whatever their case", () =>
      Effect.gen(function*() {
        const client = yield* HttpClient.HttpClient
        const response = yield* client.execute(
          HttpClientRequest.get(`${url}/echo`).pipe(
            HttpClientRequest.setHeader("Accept-Encoding", "identity"),
            HttpClientRequest.setHeader("USER-AGENT", "mine/1.0")
          )
        )
        const { headers } = (yield* response.json) as { headers: IncomingHttpHeaders }
        expect(headers["accept-encoding"]).toBe("identity")
        expect(headers["user-agent"]).toBe("mine/1.0")
        expect(seen.at(-1)!["user-agent"]).toBe("mine/1.0")
      }))

    it.effect("sends the request's content-type header, not the body's", () =>
      Effect.gen(function*() {
        const client = yield* HttpClient.HttpClient
        const response = yield* client.execute(
          HttpClientRequest.post(`${url}/echo`).pipe(
            HttpClientRequest.bodyJsonUnsafe({ a: 1 }),
            HttpClientRequest.setHeader("Content-Type", "application/vnd.api+json")
          )
        )
        const echoed = (yield* response.json) as { headers: IncomingHttpHeaders; body: string }
        expect(echoed.headers["content-type"]).toBe("application/vnd.api+json")
        expect(JSON.parse(echoed.body)).toEqual({ a: 1 })
        // And the body's own when the request has none.
        const plainJson = yield* client.execute(
          HttpClientRequest.post(`${url}/echo`).pipe(HttpClientRequest.bodyJsonUnsafe({ a: 1 }))
        )
        expect(((yield* plainJson.json) as { headers: IncomingHttpHeaders }).headers["content-type"]).toBe("application/json")
      }))
  })
})
