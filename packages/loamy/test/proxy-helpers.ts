/**
 * What the proxy tests share (the CLI's too): a real proxy in a process of its
 * own (the synchronous door blocks the test's thread), an https server with
 * the test-only self-signed certificate of `fixtures/` (for 127.0.0.1), and
 * environment variables set for one test and restored after it.
 */
import { type ChildProcess, fork } from "node:child_process"
import { readFileSync } from "node:fs"
import * as https from "node:https"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import type { Seen } from "./fixtures/proxy.mjs"

export { type Seen, startProxy, type TestProxy } from "./fixtures/proxy.mjs"

/** The certificate's file: trusted by a child process through `NODE_EXTRA_CA_CERTS`. */
export const certPath = fileURLToPath(new URL("./fixtures/tls-cert.pem", import.meta.url))
export const cert = readFileSync(certPath)
const key = readFileSync(fileURLToPath(new URL("./fixtures/tls-key.pem", import.meta.url)))

export interface TlsServer {
  /** `https://127.0.0.1:PORT` */
  readonly url: string
  readonly port: number
  /** Requests it answered. */
  readonly requests: () => number
  close(): Promise<void>
}

/** An https server on 127.0.0.1 answering `{ tls: true, path }` as JSON. */
export const startTls = async (): Promise<TlsServer> => {
  let requests = 0
  const server = https.createServer({ cert, key }, (req, res) => {
    requests++
    res.writeHead(200, { "content-type": "application/json" })
    res.end(JSON.stringify({ tls: true, path: req.url }))
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  return {
    url: `https://127.0.0.1:${port}`,
    port,
    requests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

export interface RemoteProxy {
  readonly url: string
  readonly port: number
  seen(): Promise<Seen>
  reset(): Promise<void>
  close(): Promise<void>
}

/** The proxy in a child process, for the synchronous door. */
export const startRemoteProxy = (auth?: string): Promise<RemoteProxy> =>
  new Promise((resolve, reject) => {
    const child: ChildProcess = fork(
      fileURLToPath(new URL("./fixtures/proxy.mjs", import.meta.url)),
      auth === undefined ? [] : [auth],
      { stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv: [] }
    )
    const timer = setTimeout(() => reject(new Error("the proxy did not start in 10 s")), 10_000)
    const ask = <A>(type: string): Promise<A> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${type} reply in 5 s`)), 5_000)
        const on = (message: { type: string; seen?: Seen }) => {
          if (message.type !== type) return
          clearTimeout(timer)
          child.off("message", on)
          resolve(message.seen as A)
        }
        child.on("message", on)
        child.send({ type })
      })
    child.once("error", reject)
    child.once("message", (message: { type: string; url: string; port: number }) => {
      clearTimeout(timer)
      resolve({
        url: message.url,
        port: message.port,
        seen: () => ask<Seen>("seen"),
        reset: () => ask<void>("reset"),
        close: () =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve()
            child.once("exit", () => resolve())
            child.disconnect()
            setTimeout(() => child.kill(), 2_000).unref()
          })
      })
    })
  })

/** Every spelling of the proxy variables: a test that sets some clears the others. */
export const proxyVariables = [
  "HTTP_PROXY",
  "http_proxy",
  "HTTPS_PROXY",
  "https_proxy",
  "NO_PROXY",
  "no_proxy"
] as const

/**
 * Runs `f` with the proxy variables set as `vars` say (the others unset),
 * then puts back what was there, even when `f` fails.
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

/** The environment for a child process: the parent's without any proxy variable, plus `vars`. */
export const childEnv = (vars: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const name of proxyVariables) delete env[name]
  return { ...env, ...vars }
}
