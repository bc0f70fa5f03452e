/**
 * What the proxy tests share (loamy's doors and the CLI): a real forwarding
 * proxy on 127.0.0.1 (the `proxy` package: absolute-form requests and
 * CONNECT tunnels) counting what it is asked, in this process or in one of
 * its own (the synchronous door blocks the test's thread); an https server
 * with the test-only self-signed certificate of `fixtures/` (for
 * 127.0.0.1); and the proxy variables set for one test and restored after.
 *
 * @since 1.1.0
 */
import { readFileSync } from "node:fs"
import * as http from "node:http"
import * as https from "node:https"
import { fileURLToPath } from "node:url"
import { createProxy } from "proxy"
import { forkFixture, type Remote } from "./forked.js"
import { serve } from "./ports.js"

/**
 * What a test proxy was asked.
 *
 * @since 1.1.0
 * @category models
 */
export interface Seen {
  /** Absolute-form requests (http targets). */
  requests: number
  /** CONNECT tunnels asked for (https targets). */
  connects: number
  /** Requests and tunnels refused with 407. */
  denied: number
  /** Connections clients opened to the proxy. */
  connections: number
  /** `METHOD absolute-url` or `CONNECT host:port`, in order. */
  targets: Array<string>
}

/**
 * @since 1.1.0
 * @category models
 */
export interface TestProxy {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  readonly port: number
  readonly seen: Seen
  reset(): void
  close(): Promise<void>
}

/**
 * Starts a forwarding proxy on 127.0.0.1; with `auth` (`user:pass`) it
 * answers 407 to requests without those credentials.
 *
 * @since 1.1.0
 * @category constructors
 */
export const startProxy = async (options: { readonly auth?: string } = {}): Promise<TestProxy> => {
  const server = createProxy(http.createServer())
  const seen: Seen = { requests: 0, connects: 0, denied: 0, connections: 0, targets: [] }
  const expected = options.auth === undefined ? undefined : `Basic ${Buffer.from(options.auth).toString("base64")}`
  if (expected !== undefined) {
    server.authenticate = (req) => {
      const ok = req.headers["proxy-authorization"] === expected
      if (!ok) seen.denied++
      return ok
    }
  }
  server.on("request", (req: http.IncomingMessage) => {
    seen.requests++
    seen.targets.push(`${req.method} ${req.url}`)
  })
  server.on("connect", (req: http.IncomingMessage) => {
    seen.connects++
    seen.targets.push(`CONNECT ${req.url}`)
  })
  server.on("connection", () => seen.connections++)
  const { close, port, url } = await serve(server)
  return {
    url,
    port,
    seen,
    reset: () => {
      seen.requests = 0
      seen.connects = 0
      seen.denied = 0
      seen.connections = 0
      seen.targets.length = 0
    },
    close
  }
}

/**
 * The proxy in a process of its own: what it saw comes over IPC.
 *
 * @since 1.1.0
 * @category models
 */
export interface RemoteProxy extends Remote {
  readonly port: number
  seen(): Promise<Seen>
}

/**
 * Starts the proxy (as `startProxy`) in a child process, for the
 * synchronous door.
 *
 * @since 1.1.0
 * @category constructors
 */
export const startRemoteProxy = async (auth?: string): Promise<RemoteProxy> => {
  const child = await forkFixture<{ readonly url: string; readonly port: number }>(
    fileURLToPath(new URL("./proxyChild.js", import.meta.url)),
    auth === undefined ? [] : [auth]
  )
  return {
    url: child.ready.url,
    port: child.ready.port,
    seen: () => child.ask("seen"),
    reset: () => child.ask("reset"),
    close: child.close
  }
}

/**
 * The test-only certificate's file (for `IP:127.0.0.1`): trusted by a child
 * process through `NODE_EXTRA_CA_CERTS`.
 *
 * @since 1.1.0
 * @category tls
 */
export const certPath = fileURLToPath(new URL("../fixtures/tls-cert.pem", import.meta.url))

/**
 * The test-only certificate, for a client to trust.
 *
 * @since 1.1.0
 * @category tls
 */
export const cert = readFileSync(certPath)

/**
 * @since 1.1.0
 * @category models
 */
export interface TlsServer {
  /** `https://127.0.0.1:PORT` */
  readonly url: string
  readonly port: number
  /** Requests it answered. */
  readonly requests: () => number
  close(): Promise<void>
}

/**
 * An https server on 127.0.0.1 with the test-only certificate, answering
 * `{ tls: true, path }` as JSON.
 *
 * @since 1.1.0
 * @category constructors
 */
export const startTls = async (): Promise<TlsServer> => {
  const key = readFileSync(fileURLToPath(new URL("../fixtures/tls-key.pem", import.meta.url)))
  let requests = 0
  const server = https.createServer({ cert, key }, (req, res) => {
    requests++
    res.writeHead(200, { "content-type": "application/json" })
    res.end(JSON.stringify({ tls: true, path: req.url }))
  })
  const { close, port, url } = await serve(server, "https")
  return { url, port, requests: () => requests, close }
}

/**
 * Every spelling of the proxy variables: a test that sets some clears the
 * others.
 *
 * @since 1.1.0
 * @category environment
 */
export const proxyVariables = ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy"] as const

/**
 * Runs `f` with the proxy variables set as `vars` say (the others unset),
 * then puts back what was there, even when `f` fails.
 *
 * @since 1.1.0
 * @category environment
 */
export const withEnv = async <A>(
  vars: Partial<Record<typeof proxyVariables[number], string>>,
  f: () => A | Promise<A>
): Promise<A> => {
  const saved = new Map(proxyVariables.map((name) => [name, process.env[name]]))
  for (const name of proxyVariables) {
    const value = vars[name]
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
  }
  try {
    return await f()
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  }
}

/**
 * The environment for a child process: this one's without any proxy
 * variable, plus `vars`.
 *
 * @since 1.1.0
 * @category environment
 */
export const childEnv = (vars: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const name of proxyVariables) delete env[name]
  return { ...env, ...vars }
}
