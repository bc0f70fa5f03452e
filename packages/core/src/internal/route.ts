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

/** What a call leases: sockets up to its concurrency (or its per-origin bound, when lower), and its proxy. @internal */
export const leaseSettings = (options: Options.Resolved): LeaseSettings => ({
  connections: Math.min(options.concurrency, options.concurrencyPerOrigin ?? Infinity),
  proxy: options.proxy
})

/** @internal */
export const noTransport = (): InvalidOptionsError =>
  new InvalidOptionsError({
    option: "proxy",
    detail: "the HttpClient in use cannot route through a proxy: provide loamy's UndiciHttpClient layer " +
      "(loamy/UndiciHttpClient), or leave proxy unset and configure the client's own proxy"
  })

const fits = (route: Route | undefined, settings: LeaseSettings): boolean =>
  route !== undefined && route.connections === settings.connections && route.proxy === settings.proxy

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

/** A call without a transport: as it is, but for a `proxy`, which only a transport can honour. @internal */
export const withoutTransport = <A, E, R>(
  options: Options.Resolved,
  self: Effect.Effect<A, E, R>
): Effect.Effect<A, E | InvalidOptionsError, R> => options.proxy === undefined ? self : Effect.fail(noTransport())

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
      return options.proxy === undefined ? Effect.succeed(undefined) : Effect.fail(noTransport())
    }
    return Effect.map(
      Effect.acquireRelease(transport.value.lease(leaseSettings(options)), (lease) => lease.release),
      (lease): Route | undefined => lease.route
    )
  })
