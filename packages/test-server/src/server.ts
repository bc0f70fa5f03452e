/**
 * The server: two listeners on 127.0.0.1 (two origins) sharing the routes
 * and what the server has seen of its clients (`Stats`).
 *
 * @since 1.1.0
 */
import * as http from "node:http"
import type { AddressInfo, Socket } from "node:net"
import { json } from "./bodies.js"
import { route, type RouteState } from "./routes.js"

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
  const state: RouteState = { latencyMs: options.latencyMs ?? 0, flakyCounts: new Map(), otherOrigin: "" }
  const sockets = new Set<Socket>()

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
    route(state, req, res, url).catch((error: unknown) => {
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
    state.otherOrigin = `http://127.0.0.1:${otherPort}`
    return {
      url: `http://127.0.0.1:${port}`,
      port,
      otherUrl: state.otherOrigin,
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
        state.flakyCounts.clear()
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
