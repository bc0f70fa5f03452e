/**
 * A loopback server for downloads: `GET /bytes/SIZE` answers SIZE bytes it
 * generates as it sends them (never the whole body in memory), with an ETag
 * and `Accept-Ranges: bytes`, and honours `Range: bytes=FIRST-[LAST]` with
 * 206 and `Content-Range`, or 416 and `Content-Range: bytes *\/SIZE` when
 * FIRST is past the end; `If-Range` with another ETag gets the whole body
 * (200). Query: `seed=N` changes the bytes (and the ETag); `cut=K` destroys
 * the connection once byte K is about to be sent, and `stall=K` stops
 * sending there (the connection stays open), both the first time a URL is
 * asked for only (its next request goes through); `norange=1` ignores
 * `Range`; `badrange=1` answers a range with a 206 that starts at 0.
 * `GET /status/N` answers status N with a small JSON body. Every request is
 * logged: `{ path, range, ifRange, acceptEncoding }`.
 *
 * @since 1.1.0
 */
import { createHash } from "node:crypto"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import { forkFixture, type Remote } from "./forked.js"

/**
 * One request the range server saw.
 *
 * @since 1.1.0
 * @category models
 */
export interface RangeLogEntry {
  readonly path: string
  readonly range: string | undefined
  readonly ifRange: string | undefined
  readonly acceptEncoding: string | undefined
}

/**
 * Byte `i` of the body with `seed`: a pattern that a shifted or repeated
 * range would not match.
 *
 * @since 1.1.0
 * @category bodies
 */
export const byteAt = (i: number, seed: number): number => (i * 131 + (i >>> 8) * 7 + seed) & 255

/**
 * Bytes `first` to `end` (exclusive) of the body with `seed`.
 *
 * @since 1.1.0
 * @category bodies
 */
export const chunkOf = (first: number, end: number, seed: number): Buffer => {
  const out = Buffer.allocUnsafe(end - first)
  for (let i = first; i < end; i++) out[i - first] = byteAt(i, seed)
  return out
}

/**
 * The SHA-256 (hex) of the `size`-byte body with `seed`, made a chunk at a time.
 *
 * @since 1.1.0
 * @category bodies
 */
export const sha256Of = (size: number, seed = 0): string => {
  const hash = createHash("sha256")
  for (let at = 0; at < size; at += 1 << 20) hash.update(chunkOf(at, Math.min(size, at + (1 << 20)), seed))
  return hash.digest("hex")
}

const chunkBytes = 64 * 1024

const handler = (log: Array<RangeLogEntry>, once: Set<string>) => (req: http.IncomingMessage, res: http.ServerResponse) => {
  const url = new URL(req.url ?? "/", "http://localhost")
  log.push({
    path: url.pathname + url.search,
    range: req.headers["range"],
    ifRange: typeof req.headers["if-range"] === "string" ? req.headers["if-range"] : undefined,
    acceptEncoding: req.headers["accept-encoding"]
  })
  const status = /^\/status\/(\d+)$/.exec(url.pathname)
  if (status !== null) {
    res.writeHead(Number(status[1]), { "content-type": "application/json" })
    return res.end(JSON.stringify({ status: Number(status[1]) }))
  }
  const bytes = /^\/bytes\/(\d+)$/.exec(url.pathname)
  if (bytes === null) {
    res.writeHead(404, { "content-type": "application/json" })
    return res.end("{}")
  }
  const size = Number(bytes[1])
  const seed = Number(url.searchParams.get("seed") ?? 0)
  let cut = url.searchParams.has("cut") ? Number(url.searchParams.get("cut")) : undefined
  let stall = url.searchParams.has("stall") ? Number(url.searchParams.get("stall")) : undefined
  if (cut !== undefined || stall !== undefined) {
    if (once.has(req.url ?? "")) cut = stall = undefined
    else once.add(req.url ?? "")
  }
  const etag = `"${size}-${seed}"`
  const headers: Record<string, string> = { "content-type": "application/octet-stream", "accept-ranges": "bytes", etag }
  let first = 0
  let end = size
  let statusCode = 200
  const range = req.headers["range"]
  const ifRange = req.headers["if-range"]
  if (range !== undefined && url.searchParams.get("norange") !== "1" && (ifRange === undefined || ifRange === etag)) {
    const match = /^bytes=(\d+)-(\d*)$/.exec(range)
    if (match !== null) {
      const from = Number(match[1])
      if (from >= size) {
        res.writeHead(416, { ...headers, "content-range": `bytes */${size}` })
        return res.end()
      }
      first = from
      end = match[2] === "" ? size : Math.min(size, Number(match[2]) + 1)
      statusCode = 206
      const shown = url.searchParams.get("badrange") === "1" ? 0 : first
      headers["content-range"] = `bytes ${shown}-${shown + (end - first) - 1}/${size}`
    }
  }
  headers["content-length"] = String(end - first)
  res.writeHead(statusCode, headers)
  if (req.method === "HEAD") return res.end()
  let at = first
  const pump = (): void => {
    while (at < end) {
      // Some body sent, and then the connection breaks (cut) or goes quiet (stall).
      if (cut !== undefined && first < cut && at === cut) return void res.socket?.destroy()
      if (stall !== undefined && first < stall && at === stall) return
      let next = Math.min(end, at + chunkBytes)
      if (cut !== undefined && first < cut && next > cut) next = cut
      if (stall !== undefined && first < stall && next > stall) next = stall
      const chunk = chunkOf(at, next, seed)
      at = next
      if (!res.write(chunk)) return void res.once("drain", pump)
    }
    res.end()
  }
  pump()
}

/**
 * The range server, in this process.
 *
 * @since 1.1.0
 * @category models
 */
export interface RangeServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  /** Every request so far, in order. */
  readonly log: Array<RangeLogEntry>
  close(): Promise<void>
}

/**
 * Starts the range server on 127.0.0.1 in this process.
 *
 * @since 1.1.0
 * @category constructors
 */
export const startRangeServer = (): Promise<RangeServer> =>
  new Promise((resolve) => {
    const log: Array<RangeLogEntry> = []
    const server = http.createServer(handler(log, new Set()))
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      resolve({
        url: `http://127.0.0.1:${port}`,
        log,
        close: () =>
          new Promise((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })

/**
 * The range server in a process of its own (for the synchronous door, and
 * for measuring a client's memory alone): its log comes over IPC.
 *
 * @since 1.1.0
 * @category models
 */
export interface RemoteRangeServer extends Remote {
  log(): Promise<Array<RangeLogEntry>>
}

/**
 * Starts the range server in a child process.
 *
 * @since 1.1.0
 * @category constructors
 */
export const startRemoteRangeServer = async (): Promise<RemoteRangeServer> => {
  const child = await forkFixture<{ readonly url: string }>(fileURLToPath(new URL("./rangesChild.js", import.meta.url)))
  return {
    url: child.ready.url,
    log: () => child.ask("log"),
    reset: () => child.ask("reset"),
    close: child.close
  }
}
