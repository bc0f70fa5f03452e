/**
 * A lean `HttpClient` over an undici `Agent` with keep-alive, and the
 * `@loamy/core/Transport` it implements. Requests still go through Effect's
 * `HttpClient` interface, but each one costs little more than a raw
 * `undici.request`: no span unless a tracer that records spans is installed,
 * no URL re-parsing for requests without URL params, response headers as
 * undici gives them, and interruption aborting the undici request (and the
 * socket, when a body is half read).
 *
 * Beside the client, the layers provide `Transport`: the engine leases each
 * call its sockets (capped at the call's concurrency, through the call's
 * `proxy`) and hands the attempt's deadline and the bounded body read to the
 * transport through the fiber's context and the response, so a client
 * wrapped in middleware (`HttpClient.mapRequest`, `tapRequest`, `retry`, a
 * tracer) keeps all of it.
 *
 * As `fetch` does, it sends `Accept-Encoding: gzip, deflate, br` and decodes
 * response bodies by their `Content-Encoding`, so `text`, `arrayBuffer` and
 * `stream` give the decoded bytes (the headers are left as the server sent
 * them). It also sends `User-Agent: loamy/<version>`. A request's own
 * `accept-encoding` or `user-agent` header wins.
 *
 * It routes through proxies (the core's `proxy` option, or `layerWith({ proxy })`):
 * `https` targets through a `CONNECT` tunnel, `http` targets as requests in
 * absolute form (`GET http://host/path`), as curl and aiohttp send them.
 *
 * ```ts
 * import { Clump } from "@loamy/core"
 * import * as UndiciHttpClient from "loamy/UndiciHttpClient"
 * import { Effect } from "effect"
 *
 * const responses = await Clump.send(Clump.make([{ url: "http://127.0.0.1:8080/", httpOp: "GET" }])).pipe(
 *   Effect.provide(UndiciHttpClient.layer),
 *   Effect.runPromise
 * )
 * ```
 *
 * @since 0.1.0
 */
import { LoamyError, Options as CoreOptions, Transport } from "@loamy/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HttpClient from "effect/http/HttpClient"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import type * as Scope from "effect/Scope"
import type { SecureContextOptions } from "node:tls"
import type { Agent, Dispatcher } from "undici"
import { makeAgentUnsafe } from "./internal/cappedAgents.js"
import { makeClient, UndiciRoute } from "./internal/exchange.js"
import { UndiciTransport } from "./internal/transport.js"

/**
 * How the agent behind the client connects.
 *
 * @since 0.1.0
 * @category models
 */
export interface AgentOptions {
  /**
   * Sockets per origin. Default: no limit (about two per request in flight);
   * in `layerWith` and `layer`, each call of the core (`Clump.send`,
   * `stream`, `streamFrom`) then runs on an agent of the layer's capped at
   * the call's concurrency.
   */
  readonly connections?: number | undefined
  /** How long an idle keep-alive socket is kept, in ms. Default 4,000 (undici's default). */
  readonly keepAliveTimeout?: number | undefined
  /**
   * Offer HTTP/2 to https origins (ALPN): one that speaks it gets one
   * connection per origin carrying many requests at once (the first request
   * to an origin goes alone until its connection is made); one that does
   * not keeps HTTP/1.1. A call's `http2` option asks the same of the agents
   * the layer makes for it. Default false.
   */
  readonly allowH2?: boolean | undefined
  /** Requests pipelined per HTTP/1.1 socket. Default 1 (no pipelining). */
  readonly pipelining?: number | undefined
  /** TLS and socket options for new connections (`ca`, `rejectUnauthorized`, `servername`, `timeout`...). */
  readonly connect?: Agent.Options["connect"] | undefined
  /**
   * The certificate authorities to trust for https (PEM text or bytes, or
   * several): only these, in place of Node's bundled ones, as curl's
   * `--cacert`. The same as `connect.ca`, which it overrides; also for an
   * https proxy. A call's `ca` option asks the same of the agents the layer
   * makes for it.
   *
   * ```ts
   * const internal = UndiciHttpClient.layerWith({ ca: fs.readFileSync("company-ca.pem", "utf8") })
   * ```
   *
   * @since 1.1.0
   */
  readonly ca?: SecureContextOptions["ca"] | undefined
}

/**
 * The agent's options, and a proxy for every request of the layer.
 *
 * @since 0.2.0
 * @category models
 */
export interface LayerOptions extends AgentOptions {
  /**
   * Send every request through this proxy: an http(s) URL
   * (`"http://user:pass@proxy:3128"`), or `"env"` for `HTTPS_PROXY`,
   * `HTTP_PROXY` and `NO_PROXY` (either case). A call's own `proxy` option
   * wins. `connect`'s TLS options apply to the targets and to an https
   * proxy. Default none.
   */
  readonly proxy?: string | undefined
}

/**
 * The undici dispatcher the client sends through when a call has not leased
 * one of its own (the layer's agent, or the dispatcher through its proxy).
 *
 * @since 0.1.0
 * @category services
 */
export class UndiciDispatcher extends Context.Service<UndiciDispatcher, Dispatcher>()(
  "loamy/UndiciHttpClient/UndiciDispatcher"
) {}

/**
 * Every dispatcher a layer made (its agent, the agents capped at each
 * call's concurrency, the dispatchers through proxies), to stop them all at
 * once: `destroy(error)` destroys their sockets, the requests in flight fail
 * with a `TransportError` whose cause is `error`, and any request after it
 * fails too. For a program that must end now, on a signal say, without
 * waiting for the requests in flight (the layer's scope closes them
 * gracefully otherwise).
 *
 * ```ts
 * const program = Effect.gen(function*() {
 *   const dispatchers = yield* UndiciHttpClient.Dispatchers
 *   process.once("SIGINT", () => dispatchers.destroy(new Error("interrupted")))
 *   return yield* Clump.send(clump)
 * }).pipe(Effect.provide(UndiciHttpClient.layerWith({ connections: 50 })))
 * ```
 *
 * @since 1.0.0
 * @category services
 */
export class Dispatchers extends Context.Service<Dispatchers, {
  /** Destroys every dispatcher of the layer at once, failing what they have in flight with `error`. */
  readonly destroy: (error: Error) => void
}>()("loamy/UndiciHttpClient/Dispatchers") {}

/**
 * Makes an undici `Agent` that is closed (its sockets destroyed) when the
 * scope closes. Timeouts are left to Effect (`timeout`, `deadline`), so the
 * agent's own header and body timeouts are off.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeAgent = (options: AgentOptions = {}): Effect.Effect<Agent, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => makeAgentUnsafe(options)),
    (agent) => Effect.promise(() => agent.destroy().catch(() => undefined))
  )

/**
 * Makes an `HttpClient` that sends through `dispatcher` (an `Agent`, a
 * `Pool`, a `MockAgent`). The dispatcher is not closed by the client. It
 * provides no `Transport`: the core's `proxy` option needs a layer
 * (`layerWith`, `layerWithoutAgent`).
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (dispatcher: Dispatcher): HttpClient.HttpClient => makeClient(new UndiciRoute(dispatcher, undefined, Infinity, undefined))

/** What every layer provides. */
type Provided = HttpClient.HttpClient | Transport.Transport | UndiciDispatcher | Dispatchers

/** The services of `transport`, closed with the layer's scope. */
const servicesOf = (
  make: () => UndiciTransport
): Effect.Effect<Context.Context<Provided>, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      // A proxy variable that is not a URL is a mistake in the set-up: the layer fails to build, saying which.
      Effect.try({
        try: make,
        catch: (error) =>
          new LoamyError.InvalidOptionsError({
            option: "proxy",
            detail: error instanceof Error ? error.message : String(error)
          })
      }).pipe(Effect.orDie),
      (transport) => Effect.promise(() => transport.close())
    ),
    (transport) =>
      Context.make(HttpClient.HttpClient, makeClient(transport.fallback)).pipe(
        Context.add(Transport.Transport, Transport.Transport.of({ lease: transport.lease })),
        Context.add(UndiciDispatcher, transport.dispatcher),
        Context.add(Dispatchers, Dispatchers.of({ destroy: (error) => transport.destroy(error) }))
      )
  )

/**
 * The client over the `UndiciDispatcher` in the context, and its
 * `Transport`: the core's `proxy` option goes through dispatchers of the
 * layer's own, with undici's defaults; the dispatcher itself decides the
 * sockets (no cap per call).
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWithoutAgent: Layer.Layer<
  HttpClient.HttpClient | Transport.Transport | Dispatchers,
  never,
  UndiciDispatcher
> = Layer.effectContext(
  Effect.flatMap(UndiciDispatcher, (dispatcher) => servicesOf(() => new UndiciTransport({}, undefined, dispatcher)))
)

/**
 * The client over an agent of its own, made with `options` and closed with
 * the layer, and its `Transport`; with `proxy`, every request goes through
 * that proxy. Without `connections`, each call of the core runs on sockets
 * capped at its concurrency. Throws an `InvalidOptionsError` for a `proxy`
 * that is neither `"env"` nor an http(s) URL.
 *
 * ```ts
 * const corporate = UndiciHttpClient.layerWith({ connections: 50, proxy: "env" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (options: LayerOptions): Layer.Layer<Provided> => {
  const proxy = options.proxy
  if (proxy !== undefined) {
    const checked = CoreOptions.decode({ proxy })
    if (Result.isFailure(checked)) throw checked.failure
  }
  return Layer.effectContext(servicesOf(() => new UndiciTransport(options, proxy, undefined)))
}

/**
 * The client over an agent with undici's defaults (keep-alive), closed with
 * the layer, and its `Transport`. Each call of the core runs on sockets
 * capped at its concurrency (see `AgentOptions.connections`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<Provided> = layerWith({})
