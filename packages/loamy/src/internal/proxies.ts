/**
 * Proxies: the dispatchers that send through them (one per proxy value, made
 * on first use), where each request of such a dispatcher goes (its
 * `ProxyRoute`), and the errors that are the proxy's doing, named by its
 * origin, never its credentials.
 *
 * `https` targets go through a `CONNECT` tunnel, `http` targets as requests
 * in absolute form (`GET http://host/path`), as curl and aiohttp send them.
 *
 * @internal
 */
import { type Dispatcher, EnvHttpProxyAgent, Pool, ProxyAgent } from "undici"
import type { AgentOptions } from "../UndiciHttpClient.js"
import { withCa } from "./cappedAgents.js"
import { type Connect, skippingContinue } from "./continue.js"

/**
 * The proxies a dispatcher sends through, by target scheme (for `"env"`:
 * `HTTPS_PROXY`, else `HTTP_PROXY`, for https; `HTTP_PROXY` for http).
 *
 * @internal
 */
export interface ProxyRoute {
  readonly http: URL | undefined
  readonly https: URL | undefined
  /** From the environment: `NO_PROXY` may send a request around the proxy. */
  readonly env: boolean
}

/** A proxy's failure, named by its origin (never its credentials). @internal */
export class ProxyFailure extends Error {
  constructor(message: string, readonly code: string | undefined) {
    super(message)
  }
}

/**
 * undici refuses a request's own `Proxy-Authorization` through a proxy; its
 * message names undici's constructor.
 *
 * @internal
 */
export const ownProxyAuthorization = (error: unknown): unknown =>
  error instanceof Error && /Proxy-Authorization/i.test(error.message)
    ? new Error("a request's own Proxy-Authorization header is not sent through a proxy: give the credentials in the proxy URL")
    : error

/** Codes of a failure to reach a host: with an explicit proxy, that host is always the proxy. */
const unreachable: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT"
])

/** undici's errors for a proxy's answer: 407 in absolute form, any status but 200 to a `CONNECT`. */
const proxyStatus = /^Proxy (?:Authentication Required \((\d{3})\)|response \((\d{3})\) !== 200)/

/** A property of an error, when it has it. */
const field = (error: Error, name: string): unknown => (name in error ? Reflect.get(error, name) : undefined)

/**
 * The error to report when `error` is the proxy's doing (it refused the
 * connection or the credentials, answered a `CONNECT` with another status),
 * else undefined: the target's failures stay as they are.
 *
 * @internal
 */
export const proxyFailure = (route: ProxyRoute, url: URL, error: Error): ProxyFailure | undefined => {
  const proxy = url.protocol === "https:" ? route.https ?? route.http : route.http
  if (proxy === undefined) return undefined
  const status = proxyStatus.exec(error.message)
  if (status !== null) {
    const code = status[1] ?? status[2]
    return new ProxyFailure(
      code === "407"
        ? `proxy ${proxy.origin} answered 407 Proxy Authentication Required: ${
          proxy.username === "" ? "give the credentials in the proxy URL" : "it refused the proxy URL's credentials"
        }`
        : `proxy ${proxy.origin} answered ${code} to CONNECT ${url.host}`,
      undefined
    )
  }
  const code = field(error, "code")
  if (typeof code !== "string" || !unreachable.has(code)) return undefined
  if (route.env && !isFrom(error, proxy)) return undefined
  return new ProxyFailure(`proxy ${proxy.origin}: ${error.message}`, code)
}

/** Whether a socket error names the proxy's host (a request `NO_PROXY` sent around it names another). */
const isFrom = (error: Error, proxy: URL): boolean => {
  const host = proxy.hostname.replace(/^\[|\]$/g, "")
  if (field(error, "hostname") === host) return true
  const proxyPort = proxy.port === "" ? (proxy.protocol === "https:" ? 443 : 80) : Number(proxy.port)
  return field(error, "address") === host && field(error, "port") === proxyPort
}

/** A proxy variable's value as a URL; `proxy:3128` (no scheme) is taken as `http://proxy:3128`, as curl does. */
const fromEnv = (names: ReadonlyArray<string>): URL | undefined => {
  for (const name of names) {
    const value = process.env[name]
    if (value === undefined || value.trim() === "") continue
    const text = value.trim()
    let url: URL | undefined
    try {
      url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`)
    } catch {
      url = undefined
    }
    if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") {
      throw new Error(`"env": ${name} is not an http(s) URL`)
    }
    return url
  }
  return undefined
}

const httpNames = ["http_proxy", "HTTP_PROXY"] as const
const httpsNames = ["https_proxy", "HTTPS_PROXY"] as const

/** What identifies the environment's proxies: a change of these variables makes a new dispatcher. */
const envKey = (): string => {
  const env = process.env
  return `env\n${env["http_proxy"] ?? env["HTTP_PROXY"] ?? ""}\n${env["https_proxy"] ?? env["HTTPS_PROXY"] ?? ""}`
}

type ProxyOptions = Omit<ProxyAgent.Options, "uri">

/**
 * The options of the dispatchers behind proxies: the agent's own (the same
 * cap on sockets per origin, keep-alive, TLS options for the targets and for
 * an https proxy), undici's timeouts off as on the agent, and `http` targets
 * sent in absolute form to the proxy rather than tunnelled (`proxyTunnel:
 * false`): what curl and aiohttp do, and what proxies that allow `CONNECT` to
 * port 443 only (Squid's default) accept.
 */
const proxyAgentOptions = (options: AgentOptions): ProxyOptions => {
  const pool: Pool.Options = {
    headersTimeout: 0,
    bodyTimeout: 0,
    keepAliveTimeout: options.keepAliveTimeout ?? 4_000,
    allowH2: options.allowH2 ?? false
  }
  if (options.connections !== undefined) pool.connections = options.connections
  if (options.pipelining !== undefined) pool.pipelining = options.pipelining
  const allowH2 = pool.allowH2 === true
  const out: { -readonly [K in keyof ProxyOptions]: ProxyOptions[K] } = {
    ...pool,
    proxyTunnel: false,
    // undici's pools to the proxy (absolute form) get only `connect`: the same cap and timeouts as the others,
    // and the same skipping of a 100 Continue.
    // undici gives the factory the pool's `connect` (a connector for the proxy's TLS options), nothing else.
    factory: (origin: URL, opts: { readonly connect?: Connect }) =>
      new Pool(origin, { ...pool, ...opts, connect: skippingContinue(opts.connect, allowH2) })
  }
  const connect = withCa(options)
  // For the requests `NO_PROXY` sends around the proxy; a proxy agent puts its own `connect` in its place.
  if (connect !== undefined) out.connect = connect
  if (typeof connect === "object" && connect !== null) {
    out.requestTls = connect
    out.proxyTls = connect
  }
  return out
}

/** One dispatcher through a proxy, and where its requests go. @internal */
export interface ProxyEntry {
  readonly dispatcher: Dispatcher
  readonly route: ProxyRoute
}

/**
 * The dispatchers through proxies of one agent's options: made on first
 * use, one per proxy value (for `"env"`, one per value of the variables),
 * and closed together.
 *
 * @internal
 */
export class Proxies {
  private readonly entries = new Map<string, ProxyEntry>()
  private closed = false
  constructor(private readonly options: AgentOptions) {}

  /**
   * The dispatcher through `proxy` (`"env"` or an http(s) URL, already
   * checked). Throws, with a message that holds no credentials, for a proxy
   * variable that is not a URL, and once closed.
   */
  entry(proxy: string): ProxyEntry {
    const key = proxy === "env" ? envKey() : proxy
    let entry = this.entries.get(key)
    if (entry !== undefined) return entry
    if (this.closed) throw new Error("the HTTP client's layer is closed")
    const options = proxyAgentOptions(this.options)
    if (proxy === "env") {
      const http = fromEnv(httpNames)
      const https = fromEnv(httpsNames)
      // Given explicitly (normalized); `NO_PROXY` is read by undici on every request.
      // "" for none: undici would read the variables again, and take a blank one for a proxy.
      const dispatcher = new EnvHttpProxyAgent({ ...options, httpProxy: http?.href ?? "", httpsProxy: https?.href ?? "" })
      entry = { dispatcher, route: { http, https, env: true } }
    } else {
      const url = new URL(proxy)
      entry = { dispatcher: new ProxyAgent({ ...options, uri: url.href }), route: { http: url, https: url, env: false } }
    }
    this.entries.set(key, entry)
    return entry
  }

  /** Destroys every dispatcher (a replaced `"env"` one too: a call may still have been using it). */
  close(): Promise<void> {
    this.closed = true
    const dispatchers = Array.from(this.entries.values(), (entry) => entry.dispatcher)
    this.entries.clear()
    return Promise.all(dispatchers.map((dispatcher) => dispatcher.destroy().catch(() => undefined))).then(() => undefined)
  }

  /** Destroys every dispatcher at once, failing what they have in flight with `error`. */
  destroy(error: Error): void {
    this.closed = true
    const dispatchers = Array.from(this.entries.values(), (entry) => entry.dispatcher)
    this.entries.clear()
    for (const dispatcher of dispatchers) void dispatcher.destroy(error).catch(() => undefined)
  }
}
