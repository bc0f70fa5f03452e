/**
 * A call's route: the sockets (capped at its concurrency) and the proxy it
 * sends through, leased from the `Transport` once per call and provided to
 * the call's fibers as `CurrentRoute`. Without a transport the call runs on
 * the client as it is, and a `proxy` option fails it: the core opens no
 * sockets, and ignoring the option would send the requests around the proxy.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { InvalidOptionsError } from "../LoamyError.js"
import type * as Options from "../Options.js"
import { CurrentRoute, type LeaseSettings, type Route, Transport } from "../Transport.js"

/**
 * What a call leases: sockets up to its concurrency (or its per-origin bound, when lower), its proxy, and HTTP/2
 * and the CAs to trust when it asks for them.
 *
 * @internal
 */
export const leaseSettings = (options: Options.Resolved): LeaseSettings =>
  options.http2 || options.ca !== undefined
    ? {
      connections: Math.min(options.concurrency, options.concurrencyPerOrigin ?? Infinity),
      proxy: options.proxy,
      http2: options.http2,
      ca: options.ca
    }
    : {
      connections: Math.min(options.concurrency, options.concurrencyPerOrigin ?? Infinity),
      proxy: options.proxy
    }

/** The option a call has that only a transport can honour: `proxy`, `http2`, `ca`; undefined when none. */
const needsTransport = (options: Options.Resolved): "proxy" | "http2" | "ca" | undefined =>
  options.proxy !== undefined ? "proxy" : options.http2 ? "http2" : options.ca !== undefined ? "ca" : undefined

/** @internal */
export const noTransport = (option: "proxy" | "http2" | "ca" = "proxy"): InvalidOptionsError =>
  new InvalidOptionsError({
    option,
    detail: option === "proxy"
      ? "the HttpClient in use cannot route through a proxy: provide loamy's UndiciHttpClient layer " +
        "(loamy/UndiciHttpClient), or leave proxy unset and configure the client's own proxy"
      : `the HttpClient in use cannot ${option === "http2" ? "offer HTTP/2" : "be given the CAs to trust"}: ` +
        `provide loamy's UndiciHttpClient layer (loamy/UndiciHttpClient), or leave ${option} unset and ` +
        "configure the client itself"
  })

const fits = (route: Route | undefined, settings: LeaseSettings): boolean =>
  route !== undefined && route.connections === settings.connections && route.proxy === settings.proxy &&
  (route.http2 === true) === (settings.http2 === true) && route.ca === settings.ca

/**
 * Runs `self` on the call's route: a route already current for the same
 * settings (a door that leased for many calls) as it is, else one leased
 * for the call and released when it ends, however it ends.
 *
 * @internal
 */
export const withRoute = <A, E, R>(
  options: Options.Resolved,
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, E | InvalidOptionsError, R> =>
  Effect.flatMap(Effect.serviceOption(Transport), (transport) =>
    Option.isNone(transport)
      ? withoutTransport(options, self)
      : onRoute(transport.value, leaseSettings(options), self))

/** A call without a transport: as it is, but for `proxy`, `http2` and `ca`, which only a transport can honour. @internal */
export const withoutTransport = <A, E, R>(
  options: Options.Resolved,
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, E | InvalidOptionsError, R> => {
  const option = needsTransport(options)
  return option === undefined ? self : Effect.fail(noTransport(option))
}

/** `withRoute` once the transport is known. @internal */
export const onRoute = <A, E, R>(
  transport: Transport["Service"],
  settings: LeaseSettings,
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, E | InvalidOptionsError, R> =>
  Effect.flatMap(CurrentRoute, (current) =>
    fits(current, settings)
      ? self
      : Effect.acquireUseRelease(
        transport.lease(settings),
        (lease) => Effect.provideService(self, CurrentRoute, lease.route),
        (lease) => lease.release
      ))

/**
 * The route for a sender that lives as long as a scope (`Clump.sender`):
 * leased in the scope, or undefined when there is no transport (then a
 * `proxy` option fails).
 *
 * @internal
 */
export const scopedRoute = (options: Options.Resolved) =>
  Effect.flatMap(Effect.serviceOption(Transport), (transport) => {
    if (Option.isNone(transport)) {
      const option = needsTransport(options)
      return option === undefined ? Effect.succeed(undefined) : Effect.fail(noTransport(option))
    }
    return Effect.map(
      Effect.acquireRelease(transport.value.lease(leaseSettings(options)), (lease) => lease.release),
      (lease): Route | undefined => lease.route
    )
  })
