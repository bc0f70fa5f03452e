/**
 * A `node:http` server on 127.0.0.1 answering what a careless or hostile
 * server sends: JSON nested thousands of levels deep, integers past 2^53,
 * header names that are `Object.prototype` members. Any other path is
 * recorded exactly as it arrived (method, path, headers, body bytes). In this
 * process (`startHostile`), or in a process of its own for the synchronous
 * door (`startHostileProcess`), with the same routes.
 *
 * @since 1.1.0
 */
import * as http from "node:http"
import { fileURLToPath } from "node:url"
import { forkFixture, type Remote } from "./forked.js"
import { serve } from "./ports.js"

/**
 * A request the hostile server recorded.
 *
 * @since 1.1.0
 * @category models
 */
export interface Arrival {
  readonly method: string
  /** Path and query as sent. */
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  /** The body's bytes as UTF-8 text, untouched by any JSON parser. */
  readonly raw: string
}

/**
 * `[[[...]]]`, `depth` levels.
 *
 * @since 1.1.0
 * @category bodies
 */
export const deepArray = (depth: number): string => "[".repeat(depth) + "]".repeat(depth)

/**
 * `[[[...]]]`, `depth` levels, as a value (built without recursion): a
 * request body nested too deep.
 *
 * @since 1.1.0
 * @category bodies
 */
export const deepValue = (depth: number): unknown => {
  let value: unknown = []
  for (let i = 1; i < depth; i++) value = [value]
  return value
}

/**
 * The body of `/numbers`: integers no JS number holds, and a plain one.
 *
 * @since 1.1.0
 * @category bodies
 */
export const bigNumbersText = "{\"id\":12345678901234567890,\"n\":9007199254740993,\"f\":1.5}"

const answerJson = (res: http.ServerResponse, body: string, headers: http.OutgoingHttpHeaders = {}) => {
  res.writeHead(200, { "content-type": "application/json", ...headers })
  res.end(body)
}

/** The routes (see `startHostile`), recording into `arrivals`. */
const routes = (arrivals: Array<Arrival>): http.RequestListener => (req, res) => {
  const chunks: Array<Buffer> = []
  req.on("data", (chunk: Buffer) => chunks.push(chunk))
  req.on("end", () => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1")
    switch (url.pathname) {
      case "/deep":
        return answerJson(res, deepArray(Math.min(Number(url.searchParams.get("n") ?? "5000"), 1_000_000)), {
          "x-kept": "yes",
          "x-route": "/deep"
        })
      case "/ok": {
        // Without `i`, `/ok` is any other path: recorded, `{"ok":true}`.
        const i = url.searchParams.get("i")
        if (i !== null) return answerJson(res, JSON.stringify({ ok: Number(i) }), { "x-route": "/ok" })
        break
      }
      case "/numbers":
        return answerJson(res, bigNumbersText)
      case "/json":
        return answerJson(res, url.searchParams.get("body") ?? "null")
      case "/odd-headers":
        // Raw name/value pairs: Node sends them as they are.
        res.writeHead(200, ["content-type", "application/json", "__proto__", "p", "constructor", "c", "toString", "t"])
        return res.end("{}")
    }
    arrivals.push({
      method: req.method ?? "",
      url: req.url ?? "",
      headers: req.headers,
      raw: Buffer.concat(chunks).toString("utf8")
    })
    answerJson(res, "{\"ok\":true}")
  })
}

/**
 * @since 1.1.0
 * @category models
 */
export interface HostileServer {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  /** The requests recorded so far (clear it with `arrivals.length = 0`). */
  readonly arrivals: Array<Arrival>
  close(): Promise<void>
}

/**
 * Starts the hostile server in this process. Routes:
 *
 * - `/deep?n=N`: a JSON array nested N levels (default 5,000, at most
 *   1,000,000), with headers `x-kept: yes` and `x-route: /deep`
 * - `/ok?i=I`: `{"ok":I}` with `x-route: /ok` (without `i`, as any other path)
 * - `/numbers`: `bigNumbersText`
 * - `/json?body=TEXT`: TEXT as a JSON body
 * - `/odd-headers`: headers named `__proto__`, `constructor` and `toString`
 * - anything else: recorded in `arrivals`, answered `{"ok":true}`
 *
 * @since 1.1.0
 * @category constructors
 */
export const startHostile = async (): Promise<HostileServer> => {
  const arrivals: Array<Arrival> = []
  const { close, url } = await serve(http.createServer(routes(arrivals)))
  return { url, arrivals, close }
}

/**
 * The hostile server in a process of its own: its arrivals come over IPC.
 *
 * @since 1.1.0
 * @category models
 */
export interface HostileProcess extends Remote {
  arrivals(): Promise<Array<Arrival>>
}

/**
 * Starts the hostile server (the routes of `startHostile`) in a child
 * process, for the synchronous door, which blocks this thread.
 *
 * @since 1.1.0
 * @category constructors
 */
export const startHostileProcess = async (): Promise<HostileProcess> => {
  const child = await forkFixture<{ readonly url: string }>(fileURLToPath(new URL("./hostileChild.js", import.meta.url)))
  return {
    url: child.ready.url,
    arrivals: () => child.ask("arrivals"),
    reset: () => child.ask("reset"),
    close: child.close
  }
}
