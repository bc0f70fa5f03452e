/**
 * A `node:http` server on 127.0.0.1 answering what a careless or hostile
 * server sends: JSON nested thousands of levels deep, integers past 2^53,
 * header names that are `Object.prototype` members. `/raw` records each
 * request's method, path, headers and body bytes exactly as they arrived.
 */
import * as http from "node:http"
import type { AddressInfo, Socket } from "node:net"

export interface Arrival {
  readonly method: string
  /** Path and query as sent. */
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  /** The body's bytes as UTF-8 text, untouched by any JSON parser. */
  readonly raw: string
}

export interface HostileServer {
  readonly url: string
  readonly arrivals: Array<Arrival>
  close(): Promise<void>
}

/** `[[[...]]]`, `depth` levels. */
export const deepArray = (depth: number): string => "[".repeat(depth) + "]".repeat(depth)

/** The body of `/numbers`: integers no JS number holds, and a plain one. */
export const bigNumbersText = "{\"id\":12345678901234567890,\"n\":9007199254740993,\"f\":1.5}"

/**
 * Routes: `/deep?n=N` (a JSON array nested N levels), `/numbers`
 * (`bigNumbersText`), `/json?body=TEXT` (TEXT as a JSON body),
 * `/odd-headers` (headers named `__proto__`, `constructor` and `toString`),
 * anything else: records the request in `arrivals` and answers
 * `{"ok":true}`.
 */
export const startHostile = async (): Promise<HostileServer> => {
  const arrivals: Array<Arrival> = []
  const sockets = new Set<Socket>()
  const server = http.createServer((req, res) => {
    const chunks: Array<Buffer> = []
    req.on("data", (chunk: Buffer) => chunks.push(chunk))
    req.on("end", () => {
      const url = new URL(req.url ?? "/", "http://127.0.0.1")
      if (url.pathname === "/deep") {
        const body = deepArray(Number(url.searchParams.get("n") ?? "5000"))
        res.writeHead(200, { "content-type": "application/json", "x-kept": "yes" })
        return void res.end(body)
      }
      if (url.pathname === "/numbers") {
        res.writeHead(200, { "content-type": "application/json" })
        return void res.end(bigNumbersText)
      }
      if (url.pathname === "/json") {
        res.writeHead(200, { "content-type": "application/json" })
        return void res.end(url.searchParams.get("body") ?? "null")
      }
      if (url.pathname === "/odd-headers") {
        // Raw name/value pairs: Node sends them as they are.
        res.writeHead(200, ["content-type", "application/json", "__proto__", "p", "constructor", "c", "toString", "t"])
        return void res.end("{}")
      }
      arrivals.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        raw: Buffer.concat(chunks).toString("utf8")
      })
      res.writeHead(200, { "content-type": "application/json" })
      res.end("{\"ok\":true}")
    })
  })
  server.on("connection", (socket: Socket) => {
    sockets.add(socket)
    socket.on("close", () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve())
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    arrivals,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}
