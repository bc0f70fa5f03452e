/**
 * `@loamy/core/Transport` implemented on undici: what loamy's layer provides
 * beside its `HttpClient`. The engine leases sockets for each call (capped at
 * its concurrency, through its proxy) and puts the lease's route in the
 * call's context, where the client reads it per request (see `exchange.ts`).
 *
 * @internal
 */
import { LoamyError, Transport } from "@loamy/core"
import * as Effect from "effect/Effect"
import type { Agent, Dispatcher } from "undici"
import type { AgentOptions } from "../UndiciHttpClient.js"
import { type Capped, CappedAgents, makeAgentUnsafe, plain, type Variant } from "./cappedAgents.js"
import { UndiciRoute } from "./exchange.js"
import { Proxies, type ProxyRoute } from "./proxies.js"

/**
 * The dispatchers of one layer: its own agent (made with the layer's
 * options, unless the layer was given a dispatcher), the dispatchers through
 * proxies with the same options, and, when the layer sets no `connections`
 * cap, agents capped at each call's concurrency. A call that asks for HTTP/2
 * or CAs of its own (`http2`, `ca`) gets an agent made for them, capped at
 * its concurrency (or at the layer's `connections`). `proxy`: the layer's,
 * for every request a call's own does not override.
 *
 * @internal
 */
export class UndiciTransport {
  /** The agent the layer made (and closes); undefined when it was given a dispatcher. */
  private readonly own: Agent | undefined
  private readonly proxies: Proxies
  private readonly capped: CappedAgents | undefined
  /** The layer's own cap on sockets per origin, which calls' agents keep; undefined: each call's concurrency. */
  private readonly connections: number | undefined
  /** Routes by dispatcher: made once, whatever the number of calls. */
  private readonly routes = new WeakMap<Dispatcher, UndiciRoute>()
  /** Leases by route, for routes of capped agents (their release counts the call out). */
  private readonly leases = new WeakMap<UndiciRoute, Transport.Lease>()
  /** Where a request goes when no call leased a route: the layer's dispatcher, or its proxy. */
  readonly fallback: UndiciRoute
  private readonly fallbackLease: Transport.Lease

  /**
   * Throws an `Error` naming the variable when the layer's `proxy` is
   * `"env"` and a variable is not a URL (nothing is left open then).
   */
  constructor(options: AgentOptions, private readonly proxy: string | undefined, given: Dispatcher | undefined) {
    this.proxies = new Proxies(options)
    const own = given === undefined ? makeAgentUnsafe(options) : undefined
    const base = given ?? own!
    const settings = { connections: options.connections ?? Infinity, proxy }
    try {
      this.fallback = proxy === undefined
        ? this.routeOf(base, undefined, settings)
        : this.throughProxy(this.proxies, proxy, settings)
    } catch (error) {
      void own?.destroy().catch(() => undefined)
      throw error
    }
    this.own = own
    // No dispatcher given: calls run on agents of the transport's own, capped at their concurrency unless the
    // layer has a cap (then only a call asking for HTTP/2 or CAs gets one, with the layer's cap).
    this.capped = given === undefined ? new CappedAgents(options) : undefined
    this.connections = options.connections
    this.fallbackLease = { route: this.fallback, release: Effect.void }
  }

  /** The dispatcher requests go through when no call leased one. */
  get dispatcher(): Dispatcher {
    return this.fallback.dispatcher
  }

  /** The route over `dispatcher` for `settings`: the one made before for them, as a rule. */
  private routeOf(dispatcher: Dispatcher, via: ProxyRoute | undefined, settings: Transport.LeaseSettings): UndiciRoute {
    const route = this.routes.get(dispatcher)
    if (
      route !== undefined && route.connections === settings.connections && route.proxy === settings.proxy &&
      route.http2 === (settings.http2 === true) && route.ca === settings.ca
    ) return route
    const made = new UndiciRoute(dispatcher, via, settings.connections, settings.proxy, settings.http2 === true, settings.ca)
    this.routes.set(dispatcher, made)
    return made
  }

  private throughProxy(proxies: Proxies, proxy: string, settings: Transport.LeaseSettings): UndiciRoute {
    const entry = proxies.entry(proxy)
    return this.routeOf(entry.dispatcher, entry.route, settings)
  }

  private leaseOf(route: UndiciRoute, entry: Capped, capped: CappedAgents): Transport.Lease {
    let lease = this.leases.get(route)
    if (lease === undefined) {
      lease = { route, release: Effect.sync(() => capped.release(entry)) }
      this.leases.set(route, lease)
    }
    return lease
  }

  /** `Transport.lease`: a call's sockets, capped at its concurrency, through its proxy (else the layer's). */
  readonly lease = (settings: Transport.LeaseSettings): Effect.Effect<Transport.Lease, LoamyError.InvalidOptionsError> =>
    Effect.suspend(() => {
      const proxy = settings.proxy ?? this.proxy
      const capped = this.capped
      // Made only for a call that asks for HTTP/2 or CAs of its own.
      const variant: Variant = settings.http2 === true || settings.ca !== undefined
        ? { http2: settings.http2 === true, ca: settings.ca }
        : plain
      if (capped === undefined && variant !== plain) return Effect.fail(givenDispatcher(settings))
      if (capped === undefined || (this.connections !== undefined && variant === plain)) {
        if (proxy === undefined) return Effect.succeed(this.fallbackLease)
        const route = this.proxied(this.proxies, proxy, settings)
        return route instanceof UndiciRoute ? Effect.succeed({ route, release: Effect.void }) : Effect.fail(route)
      }
      const entry = capped.acquire(this.connections ?? settings.connections, variant)
      // Closed or destroyed (`Dispatchers`): the layer's own dispatcher, destroyed too, fails each request.
      if (entry === undefined) return Effect.succeed(this.fallbackLease)
      const route = proxy === undefined
        ? this.routeOf(entry.agent, undefined, settings)
        : this.proxied(entry.proxies, proxy, settings)
      if (route instanceof UndiciRoute) return Effect.succeed(this.leaseOf(route, entry, capped))
      capped.release(entry)
      return Effect.fail(route)
    })

  /** The route through `proxy`, or why there is none: a proxy variable that is not a URL, a closed layer. */
  private proxied(
    proxies: Proxies,
    proxy: string,
    settings: Transport.LeaseSettings
  ): UndiciRoute | LoamyError.InvalidOptionsError {
    try {
      return this.throughProxy(proxies, proxy, settings)
    } catch (error) {
      return new LoamyError.InvalidOptionsError({
        option: "proxy",
        detail: error instanceof Error ? error.message : "the client could not make a proxy connection pool"
      })
    }
  }

  /** Closes every dispatcher, waiting for none. */
  close(): Promise<void> {
    return Promise.all([
      this.own?.destroy().catch(() => undefined),
      this.proxies.close(),
      this.capped?.close()
    ]).then(() => undefined)
  }

  /** Destroys every dispatcher at once: the requests in flight fail with `error`, later ones fail too. */
  destroy(error: Error): void {
    void this.own?.destroy(error).catch(() => undefined)
    this.proxies.destroy(error)
    this.capped?.destroy(error)
  }
}

/** A layer over a dispatcher of the caller's cannot make agents with HTTP/2 or other CAs for a call. */
const givenDispatcher = (settings: Transport.LeaseSettings): LoamyError.InvalidOptionsError =>
  new LoamyError.InvalidOptionsError({
    option: settings.http2 === true ? "http2" : "ca",
    detail: "the layer sends through an undici dispatcher of the caller's (layerWithoutAgent), which decides " +
      "HTTP/2 and the CAs it trusts itself: make it with allowH2 or connect.ca, or use layerWith"
  })
