/**
 * The routes: what the server answers to each request, once it is counted
 * (see `start` in server.ts for the list).
 *
 * @internal
 */
import type * as http from "node:http"
import {
  allBytes,
  charsets,
  compressedString,
  compressSync,
  json,
  maxCompressedSource,
  numberParam,
  readBody,
  sendBytes,
  sleep,
  streamJsonString
} from "./bodies.js"
import { digest, parse } from "./parse.js"

/**
 * What the routes keep between requests: the artificial latency, attempts per
 * key of `/flaky` and `/retry-after-date`, and the second listener's origin
 * (known once it listens).
 *
 * @internal
 */
export interface RouteState {
  readonly latencyMs: number
  readonly flakyCounts: Map<string, number>
  otherOrigin: string
}

/**
 * Answers one request by its route (`url` is its parsed path and query).
 *
 * @internal
 */
export const route = async (
  state: RouteState,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL
): Promise<void> => {
  const { flakyCounts, latencyMs } = state
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
  if (path === "/destroy" || path === "/reset") {
    // Headers and half a body, then the connection ends: closed (`/destroy`) or reset with a TCP RST (`/reset`).
    res.writeHead(200, { "content-type": "application/json", "content-length": 1000 })
    res.write("{\"partial\":")
    await sleep(5)
    return void (path === "/reset" ? req.socket.resetAndDestroy() : req.socket.destroy())
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
    const to = `${state.otherOrigin}${query.get("path") ?? "/echo"}`
    res.writeHead(numberParam(query, "status", 302), { location: to, "content-length": 0 })
    return void res.end()
  }
  if (path === "/parse") return parse(req, res)
  if (path === "/digest") return digest(req, res)
  if (path === "/stall-headers") {
    // Read the request, then never answer: the socket stays open until the client
    // gives up or the server closes (which destroys it).
    req.resume()
    return
  }
  return json(res, 404, { error: "not found", path })
}
