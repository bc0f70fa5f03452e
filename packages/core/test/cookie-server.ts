/**
 * A server on 127.0.0.1 for the cookie tests (core, loamy, cli), reached
 * under two host names, so it is two origins whose cookies a client must keep
 * apart: `a` is http://127.0.0.1:PORT, `b` http://127.0.0.2:PORT2 (a cookie's
 * host is its name, not its port, RFC 6265 section 8.5, so the second origin
 * is another loopback address, not another port; no name is resolved). It parses the
 * `Cookie` header it receives with the `cookie` package (express's parser)
 * and answers, at any path:
 *
 * - `?set=<Set-Cookie value>` (repeatable): each as a `Set-Cookie` header;
 * - `?to=<url>`: a 302 to that URL (with the `Set-Cookie` headers of `set`);
 * - otherwise 200 with JSON `{ host, path, cookie, cookies }`: the raw header
 *   and what the parser read from it.
 *
 * Every request is noted in `seen`, in arrival order.
 */
import { parseCookie } from "cookie"
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"

export interface Seen {
  readonly host: string
  readonly path: string
  /** The raw `Cookie` header, undefined when none came. */
  readonly cookie: string | undefined
  readonly cookies: Readonly<Record<string, string | undefined>>
}

export interface CookieServer {
  /** http://127.0.0.1:PORT */
  readonly a: string
  /** http://127.0.0.2:PORT2: the same handler, another host for cookies. */
  readonly b: string
  readonly seen: Array<Seen>
  /** The requests that arrived at `path` (without the query). */
  readonly at: (path: string) => Array<Seen>
  readonly close: () => Promise<void>
}

export const startCookieServer = async (): Promise<CookieServer> => {
  const seen: Array<Seen> = []
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://placeholder")
    const cookie = req.headers.cookie
    const cookies = cookie === undefined ? {} : parseCookie(cookie)
    const entry: Seen = { host: req.headers.host ?? "", path: url.pathname, cookie, cookies }
    seen.push(entry)
    const set = url.searchParams.getAll("set")
    if (set.length > 0) res.setHeader("set-cookie", set)
    const to = url.searchParams.get("to")
    if (to !== null) {
      res.writeHead(302, { location: to, "content-length": "0" })
      res.end()
      return
    }
    const body = JSON.stringify(entry)
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
    res.end(body)
  }
  const listen = async (host: string): Promise<readonly [Server, string]> => {
    const server = createServer(handler)
    await new Promise<void>((resolve) => server.listen(0, host, resolve))
    const address = server.address()
    if (address === null || typeof address === "string") throw new Error("no port")
    return [server, `http://${host}:${address.port}`]
  }
  const [serverA, a] = await listen("127.0.0.1")
  const [serverB, b] = await listen("127.0.0.2")
  const close = (server: Server) =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return {
    a,
    b,
    seen,
    at: (path) => seen.filter((entry) => entry.path === path),
    close: async () => {
      await Promise.all([close(serverA), close(serverB)])
    }
  }
}

/** A URL of `origin` that sets `cookies` (each a Set-Cookie value) and then redirects to `to` (if given). */
export const setting = (origin: string, path: string, cookies: ReadonlyArray<string>, to?: string): string => {
  const url = new URL(path, origin)
  for (const cookie of cookies) url.searchParams.append("set", cookie)
  if (to !== undefined) url.searchParams.set("to", to)
  return url.toString()
}
