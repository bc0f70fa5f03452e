/**
 * A `node:http` server on loopback with the routes loamy's tests, demo and
 * benchmarks talk to: the original project's routes, an echo, and fault routes
 * (resets, stalls, Retry-After, truncated or oversized bodies, redirects).
 *
 * It measures what the client does to it: requests in flight (and the peak),
 * connections open (and the total), and when each request arrived, so tests
 * can check the client's concurrency and rate bounds from the server's side.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import * as http from "node:http"
import * as zlib from "node:zlib"
import type { AddressInfo, Socket } from "node:net"

export * from "./faults.js"
export * from "./process.js"

/**
 * What the server has seen since it started (or since `resetStats`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  /** Requests whose handling has started. */
  requests: number
  /** Requests being handled right now. */
  inFlight: number
  /** The most requests ever handled at once. */
  maxInFlight: number
  /** Connections accepted. */
  connections: number
  /** Connections open right now. */
  openConnections: number
  /** Arrival time (ms since the server started) of each request, up to 100,000. */
  arrivals: Array<number>
  /** Requests per path (without the query). */
  byPath: Record<string, number>
  /** Path and query of each request, in the order of `arrivals`. */
  arrivalPaths: Array<string>
  /** Responses sent in full (the last byte handed to the socket). */
  completed: number
  /** Requests whose connection closed before their response was sent in full (client aborts, resets). */
  aborted: number
}

/**
 * @since 0.1.0
 * @category models
 */
export interface TestServer {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly url: string
  readonly port: number
  /**
   * A second listener (`http://127.0.0.1:OTHERPORT`), another origin serving the same
   * routes with the same stats: for cross-origin redirects.
   */
  readonly otherUrl: string
  readonly otherPort: number
  readonly stats: Stats
  resetStats(): void
  /** Closes the server and destroys every open connection. */
  close(): Promise<void>
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Port to listen on; 0 (the default) picks a free one. */
  readonly port?: number
  /** Artificial latency added to every request, in ms (default 0). */
  readonly latencyMs?: number
}

const json = (res: http.ServerResponse, status: number, value: unknown, headers: http.OutgoingHttpHeaders = {}) => {
  const body = JSON.stringify(value)
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    ...headers
  })
  res.end(body)
}

const readBody = (req: http.IncomingMessage): Promise<string> =>
  new Promise((resolve, reject) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")))
    req.on("error", reject)
  })

const readBytes = async (req: http.IncomingMessage): Promise<Buffer> => {
  const chunks: Array<Buffer> = []
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk)
  return Buffer.concat(chunks)
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

/** A request body as real parsers read it (see `/parse`). */
const parseBody = async (req: http.IncomingMessage): Promise<Record<string, unknown>> => {
  const contentType = req.headers["content-type"] ?? ""
  const body = await readBytes(req)
  const out: Record<string, unknown> = {
    method: req.method,
    contentType: contentType === "" ? null : contentType,
    contentLength: req.headers["content-length"] ?? null,
    bytes: body.length,
    sha256: sha256(body)
  }
  const type = contentType.toLowerCase()
  if (type.startsWith("multipart/form-data")) {
    const form = await new Request("http://127.0.0.1/parse", {
      method: "POST",
      headers: { "content-type": contentType },
      body: Uint8Array.from(body)
    }).formData()
    const entries: Array<readonly [string, FormDataEntryValue]> = []
    form.forEach((value, name) => entries.push([name, value]))
    const parts: Array<Record<string, unknown>> = []
    for (const [name, value] of entries) {
      if (typeof value === "string") parts.push({ name, value })
      else {
        const bytes = new Uint8Array(await value.arrayBuffer())
        parts.push({ name, filename: value.name, type: value.type, size: value.size, sha256: sha256(bytes) })
      }
    }
    out["parts"] = parts
  } else if (type.startsWith("application/x-www-form-urlencoded")) {
    out["form"] = [...new URLSearchParams(body.toString("utf8"))]
  } else if (type.startsWith("text/")) {
    out["text"] = body.toString("utf8")
  } else {
    out["base64"] = body.toString("base64")
  }
  return out
}

const numberParam = (query: URLSearchParams, name: string, fallback: number): number => {
  const raw = query.get(name)
  if (raw === null) return fallback
  const n = Number(raw)
  return Number.isFinite(n) ? n : fallback
}

/**
 * Starts the server on 127.0.0.1. Routes:
 *
 * - `GET /` → `{"message":"Hello, world!"}`
 * - `POST /foo` → `{"foo":"bar"}` with header `X-Test: Test`
 * - `GET /exception` → 500 with an HTML body
 * - `/echo` (any method) → `{ method, path, query, headers, body }` as JSON
 * - `/text` → `hello, world` as text/plain
 * - `/status/:code` → that status with `{ "status": code }`
 * - `/delay/:ms` → waits, then `{ "delayed": ms }`
 * - `/destroy` → sends headers and half a body, then destroys the socket
 * - `/stall?ms=N` → sends nothing for N ms (default 60,000), then `{}`
 * - `/flaky?key=K&fails=N&status=S&retryAfter=R` → status S (default 503) with
 *   optional `Retry-After: R` for the first N requests with key K, then 200 `{ attempts }`
 * - `/retry-after-date?key=K&fails=N&seconds=S` → 429 with an HTTP-date `Retry-After`
 * - `/truncated` → a JSON body cut short (content-length honest, JSON broken)
 * - `/big?bytes=N` → a JSON string body of about N bytes
 * - `/redirect?to=URL&status=S` → redirect to URL (default 302)
 * - `/redirect-loop` → redirects to itself
 * - `/redirect-chain/:n` → n redirects, then `{ "hops": n }`
 * - `/reset` → sends headers and half a body, then resets the connection (TCP RST)
 * - `/big-stream?bytes=N` → like `/big` but chunked, without a content-length
 * - `/slow-body?ms=N` → sends headers and the start of a JSON body at once, the rest after N ms
 * - `/gzip`, `/deflate`, `/brotli` → `{"compressed":"gzip"|"deflate"|"br","message":"Hello, world!"}` with
 *   that Content-Encoding (`deflate` is zlib-wrapped, as HTTP means it), always compressed
 * - `/gzip?bytes=N` (and `/deflate`, `/brotli`) → like `/big` (a JSON string of N bytes), compressed when the
 *   request's Accept-Encoding names the coding or with `force=1`; N up to 1 GiB (compressed, it stays small)
 * - any of the three with `chunked=1` → the same bytes without a content-length
 * - `/latin1` → `{"word":"café"}` in ISO-8859-1 bytes, `charset=iso-8859-1`
 * - `/charset?name=X&text=Y&type=T` → `{"text":Y}` (or Y itself when T is not application/json) encoded in X
 *   (utf-8, iso-8859-1, utf-16le; `x-unknown` is declared but sent as UTF-8), `content-type: T; charset=X`
 * - `/binary?type=T` → the 256 byte values 0..255 in order, content-type T (default application/octet-stream)
 * - `/cookies` → two `Set-Cookie` headers with commas in their Expires dates and two `x-multi` headers
 * - `/redirect-to-other-origin?path=P&status=S` → redirect (default 302) to `otherUrl + P` (default `/echo`)
 * - `/stall-headers` → reads the request and never answers, until the client or `close()` ends the connection
 * - `/parse` (any method) → the body as a real parser reads it: `{ method, contentType, contentLength, bytes,
 *   sha256, ... }` plus `parts` for `multipart/form-data` (the web `Request.formData()`: `{ name, value }` or
 *   `{ name, filename, type, size, sha256 }` per part, in order), `form` for
 *   `application/x-www-form-urlencoded` (`URLSearchParams`' `[name, value]` pairs), `text` for `text/*`, and
 *   `base64` for anything else
 * - `/digest` (any method) → `{ bytes, sha256, contentType }` of the body, hashed as it streams in (never held)
 *
 * Every route is served on `url` and on `otherUrl` (a second listener: another origin), with shared stats.
 *
 * `faultRoutes` lists the fault routes with the outcome a client should report.
 *
 * @since 0.1.0
 * @category constructors
 */
export const start = (options: Options = {}): Promise<TestServer> => {
  const startedAt = performance.now()
  const stats: Stats = {
    requests: 0,
    inFlight: 0,
    maxInFlight: 0,
    connections: 0,
    openConnections: 0,
    arrivals: [],
    byPath: {},
    arrivalPaths: [],
    completed: 0,
    aborted: 0
  }
  const flakyCounts = new Map<string, number>()
  const sockets = new Set<Socket>()
  const latencyMs = options.latencyMs ?? 0

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> => {
    const path = url.pathname
    const query = url.searchParams
    if (latencyMs > 0) await sleep(latencyMs)
    if (path === "/" && (req.method === "GET" || req.method === "HEAD")) {
      return json(res, 200, { message: "Hello, world!" })
    }
    if (path === "/foo" && req.method === "POST") {
      await readBody(req)
      return json(res, 200, { foo: "bar" }, { "X-Test": "Test" })
    }
    if (path === "/exception") {
      const body = "<html><body><h1>500 Internal Server Error</h1></body></html>"
      res.writeHead(500, { "content-type": "text/html", "content-length": Buffer.byteLength(body) })
      return void res.end(body)
    }
    if (path === "/echo") {
      const raw = await readBody(req)
      let body: unknown = raw
      try {
        body = raw === "" ? null : JSON.parse(raw)
      } catch {
        // not JSON: echoed as text
      }
      return json(res, 200, {
        method: req.method,
        path,
        query: Object.fromEntries(query),
        headers: req.headers,
        body
      })
    }
    if (path === "/parse") return json(res, 200, await parseBody(req))
    if (path === "/digest") {
      const hash = createHash("sha256")
      let bytes = 0
      for await (const chunk of req as AsyncIterable<Buffer>) {
        bytes += chunk.length
        hash.update(chunk)
      }
      return json(res, 200, { bytes, sha256: hash.digest("hex"), contentType: req.headers["content-type"] ?? null })
    }
    if (path === "/text") {
      res.writeHead(200, { "content-type": "text/plain" })
      return void res.end("hello, world")
    }
    if (path.startsWith("/status/")) {
      const code = Number(path.slice("/status/".length))
      if (!Number.isInteger(code) || code < 200 || code > 599) return json(res, 400, { error: "bad status" })
      if (code === 204 || code === 304) {
        res.writeHead(code)
        return void res.end()
      }
      return json(res, code, { status: code })
    }
    if (path.startsWith("/delay/")) {
      const ms = Number(path.slice("/delay/".length))
      await sleep(Number.isFinite(ms) ? Math.min(ms, 60_000) : 0)
      return json(res, 200, { delayed: ms })
    }
    if (path === "/destroy") {
      res.writeHead(200, { "content-type": "application/json", "content-length": 1000 })
      res.write("{\"partial\":")
      await sleep(5)
      return void req.socket.destroy()
    }
    if (path === "/stall") {
      const ms = Math.min(numberParam(query, "ms", 60_000), 120_000)
      const timer = setTimeout(() => json(res, 200, {}), ms)
      res.on("close", () => clearTimeout(timer))
      return
    }
    if (path === "/flaky" || path === "/retry-after-date") {
      const key = `${path}:${query.get("key") ?? "default"}`
      const seen = (flakyCounts.get(key) ?? 0) + 1
      flakyCounts.set(key, seen)
      const fails = numberParam(query, "fails", 1)
      if (seen <= fails) {
        await readBody(req)
        if (path === "/retry-after-date") {
          const at = new Date(Date.now() + numberParam(query, "seconds", 1) * 1000).toUTCString()
          return json(res, 429, { attempt: seen }, { "retry-after": at })
        }
        const headers: http.OutgoingHttpHeaders = {}
        const retryAfter = query.get("retryAfter")
        if (retryAfter !== null) headers["retry-after"] = retryAfter
        return json(res, numberParam(query, "status", 503), { attempt: seen }, headers)
      }
      await readBody(req)
      return json(res, 200, { attempts: seen })
    }
    if (path === "/truncated") {
      const body = "{\"items\":[1,2,3"
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
      return void res.end(body)
    }
    if (path === "/big") {
      const bytes = Math.min(numberParam(query, "bytes", 1_000_000), 64 * 1024 * 1024)
      const body = JSON.stringify("x".repeat(Math.max(0, bytes - 2)))
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
      return void res.end(body)
    }
    if (path === "/redirect") {
      const to = query.get("to") ?? "/"
      res.writeHead(numberParam(query, "status", 302), { location: to, "content-length": 0 })
      return void res.end()
    }
    if (path === "/redirect-loop") {
      res.writeHead(302, { location: "/redirect-loop", "content-length": 0 })
      return void res.end()
    }
    if (path.startsWith("/redirect-chain/")) {
      const n = Number(path.slice("/redirect-chain/".length))
      if (n > 0) {
        res.writeHead(302, { location: `/redirect-chain/${n - 1}`, "content-length": 0 })
        return void res.end()
      }
      return json(res, 200, { hops: 0 })
    }
    if (path === "/reset") {
      res.writeHead(200, { "content-type": "application/json", "content-length": 1000 })
      res.write("{\"partial\":")
      await sleep(5)
      return void req.socket.resetAndDestroy()
    }
    if (path === "/big-stream") {
      const bytes = Math.min(numberParam(query, "bytes", 1_000_000), 64 * 1024 * 1024)
      return streamJsonString(res, bytes, {})
    }
    if (path === "/slow-body") {
      const ms = Math.min(numberParam(query, "ms", 1000), 60_000)
      res.writeHead(200, { "content-type": "application/json" })
      res.write("{\"slow\":")
      const timer = setTimeout(() => res.end(`${ms}}`), ms)
      res.on("close", () => clearTimeout(timer))
      return
    }
    if (path === "/gzip" || path === "/deflate" || path === "/brotli") {
      const coding = path === "/gzip" ? "gzip" : path === "/deflate" ? "deflate" : "br"
      const chunked = query.get("chunked") === "1"
      if (!query.has("bytes")) {
        const body = Buffer.from(JSON.stringify({ compressed: coding, message: "Hello, world!" }))
        return sendBytes(res, compressSync(coding, body), {
          "content-type": "application/json",
          "content-encoding": coding
        }, chunked)
      }
      const bytes = Math.min(numberParam(query, "bytes", 1_000_000), maxCompressedSource)
      const accepted = new RegExp(`(^|[\\s,])${coding}($|[\\s,;])`, "i").test(String(req.headers["accept-encoding"] ?? ""))
      if (!accepted && query.get("force") !== "1") {
        // The request does not accept this coding: the same JSON string, uncompressed (streamed).
        return streamJsonString(res, bytes, chunked ? {} : { "content-length": Math.max(2, bytes) })
      }
      const sent = await compressedString(coding, bytes)
      return sendBytes(res, sent, { "content-type": "application/json", "content-encoding": coding }, chunked)
    }
    if (path === "/latin1") {
      const body = Buffer.from("{\"word\":\"caf\u00e9\"}", "latin1")
      return sendBytes(res, body, { "content-type": "application/json; charset=iso-8859-1" }, false)
    }
    if (path === "/charset") {
      const name = query.get("name") ?? "utf-8"
      const text = query.get("text") ?? "caf\u00e9"
      const type = query.get("type") ?? "application/json"
      const encoding = charsets[name.toLowerCase()]
      if (encoding === undefined) return json(res, 400, { error: "unsupported charset", name })
      const plain = type === "application/json" ? JSON.stringify({ text }) : text
      if (encoding === "latin1" && /[^\u0000-\u00ff]/.test(plain)) {
        return json(res, 400, { error: "text not representable in iso-8859-1" })
      }
      return sendBytes(res, Buffer.from(plain, encoding), { "content-type": `${type}; charset=${name}` }, false)
    }
    if (path === "/binary") {
      return sendBytes(res, allBytes, { "content-type": query.get("type") ?? "application/octet-stream" }, false)
    }
    if (path === "/cookies") {
      const body = JSON.stringify({ cookies: 2 })
      res.setHeader("content-type", "application/json")
      res.setHeader("content-length", Buffer.byteLength(body))
      res.setHeader("set-cookie", [
        "a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Path=/",
        "b=2; Expires=Thu, 22 Oct 2037 07:28:00 GMT; HttpOnly"
      ])
      res.setHeader("x-multi", ["one", "two"])
      res.writeHead(200)
      return void res.end(body)
    }
    if (path === "/redirect-to-other-origin") {
      const to = `${otherOrigin}${query.get("path") ?? "/echo"}`
      res.writeHead(numberParam(query, "status", 302), { location: to, "content-length": 0 })
      return void res.end()
    }
    if (path === "/stall-headers") {
      // Read the request, then never answer: the socket stays open until the client
      // gives up or the server closes (which destroys it).
      req.resume()
      return
    }
    return json(res, 404, { error: "not found", path })
  }

  let otherOrigin = ""
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    stats.requests++
    stats.inFlight++
    // Measured once the events already waiting are handled: a client that hung up on one request and
    // sent the next at once is not counted twice because the hang-up is read after the new request.
    setImmediate(() => {
      if (counted && stats.inFlight > stats.maxInFlight) stats.maxInFlight = stats.inFlight
    })
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    if (stats.arrivals.length < 100_000) {
      stats.arrivals.push(performance.now() - startedAt)
      stats.arrivalPaths.push(url.pathname + url.search)
    }
    stats.byPath[url.pathname] = (stats.byPath[url.pathname] ?? 0) + 1
    let counted = true
    const socket = req.socket
    const done = () => {
      if (counted) {
        counted = false
        socket.off("end", done)
        socket.off("error", done)
        stats.inFlight--
        if (res.writableFinished) stats.completed++
        else stats.aborted++
      }
    }
    res.on("close", done)
    // A client that hangs up is done with this request when its FIN (or reset) is read, not a tick later
    // when the response closes: its next request may already be here.
    socket.once("end", done)
    socket.once("error", done)
    handle(req, res, url).catch((error: unknown) => {
      if (!res.headersSent) json(res, 500, { error: String(error) })
      else res.destroy()
    })
  }
  const onConnection = (socket: Socket) => {
    stats.connections++
    stats.openConnections++
    sockets.add(socket)
    socket.on("close", () => {
      stats.openConnections--
      sockets.delete(socket)
    })
  }
  const listen = (port: number): Promise<http.Server> =>
    new Promise((resolve, reject) => {
      const server = http.createServer(onRequest)
      server.keepAliveTimeout = 30_000
      server.on("connection", onConnection)
      server.once("error", reject)
      server.listen(port, "127.0.0.1", () => resolve(server))
    })

  const listenBoth = async (): Promise<TestServer> => {
    const server = await listen(options.port ?? 0)
    let other: http.Server
    try {
      other = await listen(0)
    } catch (error) {
      await new Promise<void>((done) => server.close(() => done()))
      throw error
    }
    const port = (server.address() as AddressInfo).port
    const otherPort = (other.address() as AddressInfo).port
    otherOrigin = `http://127.0.0.1:${otherPort}`
    return {
      url: `http://127.0.0.1:${port}`,
      port,
      otherUrl: otherOrigin,
      otherPort,
      stats,
      resetStats() {
        stats.requests = 0
        stats.maxInFlight = stats.inFlight
        stats.connections = 0
        stats.arrivals = []
        stats.byPath = {}
        stats.arrivalPaths = []
        stats.completed = 0
        stats.aborted = 0
        flakyCounts.clear()
      },
      close() {
        for (const socket of sockets) socket.destroy()
        const closing = (one: http.Server) => new Promise<void>((done) => one.close(() => done()))
        return Promise.all([closing(server), closing(other)]).then(() => undefined)
      }
    }
  }
  return listenBoth()
}

/** The charsets `/charset` can encode a body in, by label, and the Buffer encoding used. */
const charsets: Record<string, BufferEncoding> = {
  "utf-8": "utf8",
  "utf8": "utf8",
  "iso-8859-1": "latin1",
  "latin1": "latin1",
  "utf-16le": "utf16le",
  // Declared but unknown to everyone: the bytes are sent as UTF-8.
  "x-unknown": "utf8"
}

/** Every byte value 0..255, once, in order. */
const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i))

/** The largest decoded size `/gzip|deflate|brotli?bytes=N` makes (compressed, it stays small). */
const maxCompressedSource = 1024 * 1024 * 1024

type Coding = "gzip" | "deflate" | "br"

const compressSync = (coding: Coding, body: Buffer): Buffer =>
  coding === "gzip" ? zlib.gzipSync(body) : coding === "deflate" ? zlib.deflateSync(body) : zlib.brotliCompressSync(body)

const compressor = (coding: Coding): zlib.Gzip | zlib.Deflate | zlib.BrotliCompress =>
  coding === "gzip"
    ? zlib.createGzip()
    : coding === "deflate"
    ? zlib.createDeflate()
    : zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } })

/** Compressed JSON strings of `bytes` bytes (`"xxx…"`), made once per size, without holding the decoded form. */
const compressedCache = new Map<string, Promise<Buffer>>()
const compressedString = (coding: Coding, bytes: number): Promise<Buffer> => {
  const key = `${coding}:${bytes}`
  let made = compressedCache.get(key)
  if (made === undefined) {
    made = new Promise<Buffer>((resolve, reject) => {
      const stream = compressor(coding)
      const out: Array<Buffer> = []
      stream.on("data", (chunk: Buffer) => out.push(chunk))
      stream.on("end", () => resolve(Buffer.concat(out)))
      stream.on("error", reject)
      const chunk = Buffer.alloc(64 * 1024, "x")
      let left = Math.max(0, bytes - 2)
      const pump = () => {
        let more = true
        while (left > 0 && more) {
          const piece = left >= chunk.length ? chunk : chunk.subarray(0, left)
          left -= piece.length
          more = stream.write(piece)
        }
        if (left > 0) stream.once("drain", pump)
        else stream.end("\"")
      }
      stream.write("\"")
      pump()
    })
    compressedCache.set(key, made)
    if (compressedCache.size > 32) compressedCache.delete(compressedCache.keys().next().value!)
  }
  return made
}

/** Sends `body` with status 200, with a content-length or (when `chunked`) without one. */
const sendBytes = (res: http.ServerResponse, body: Buffer, headers: http.OutgoingHttpHeaders, chunked: boolean) => {
  res.writeHead(200, chunked ? headers : { ...headers, "content-length": body.byteLength })
  if (chunked) {
    // Two writes, so the body really goes out as chunks.
    const half = Math.floor(body.byteLength / 2)
    res.write(body.subarray(0, half))
    return void res.end(body.subarray(half))
  }
  return void res.end(body)
}

/** Streams a JSON string of `bytes` bytes (`"xxx…"`), generated as it goes, minding backpressure. */
const streamJsonString = async (res: http.ServerResponse, bytes: number, headers: http.OutgoingHttpHeaders) => {
  res.writeHead(200, { "content-type": "application/json", ...headers })
  const chunk = "x".repeat(16 * 1024)
  let left = Math.max(0, bytes - 2)
  res.write("\"")
  while (left > 0 && !res.destroyed) {
    const piece = left >= chunk.length ? chunk : chunk.slice(0, left)
    left -= piece.length
    if (!res.write(piece)) {
      await new Promise<void>((resolve) => {
        const go = () => {
          res.off("drain", go)
          res.off("close", go)
          resolve()
        }
        res.on("drain", go)
        res.on("close", go)
      })
    }
  }
  if (!res.destroyed) res.end("\"")
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/**
 * A port on 127.0.0.1 that nothing listens on: bound, then closed, so a
 * connection to it is refused.
 *
 * @since 0.1.0
 * @category constructors
 */
export const closedPort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = http.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      server.close(() => resolve(port))
    })
  })

/**
 * The shortest time that holds `count + 1` of `times` (arrival times, any
 * order): a rate limit of `count` per interval holds when this is at least
 * the interval. `Infinity` when there are no more than `count` times.
 *
 * @since 0.4.0
 * @category stats
 */
export const shortestSpan = (times: ReadonlyArray<number>, count: number): number => {
  const sorted = [...times].sort((a, b) => a - b)
  let shortest = Infinity
  for (let i = 0; i + count < sorted.length; i++) shortest = Math.min(shortest, sorted[i + count]! - sorted[i]!)
  return shortest
}

/**
 * What a test of a rate limit allows for, of an interval, between the starts
 * a limiter spaced (by the interval and its margin) and their arrival at a
 * server through a busy machine's scheduler: a fifth. A fixed window, the
 * fault such tests look for, shows spans of a fifth of the interval or less.
 *
 * @since 0.4.0
 * @category stats
 */
export const arrivalSlack = (intervalMs: number): number => intervalMs / 5
