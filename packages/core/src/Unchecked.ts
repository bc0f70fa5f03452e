/**
 * Sending requests that were checked elsewhere: what loamy's own doors (the
 * Promise and synchronous doors, the CLI) and the cluster's runners use,
 * having checked the requests (`RequestMap.validateAll`) and decoded the
 * options (`Options.decode`) themselves, on this thread or another machine.
 * Nothing is checked again: a request that is not a checked `RequestMap`
 * is sent as it is, or breaks the engine.
 *
 * Not for applications: `Clump.send`, `Clump.stream` and `Clump.streamFrom`
 * do the same with every check, at no measurable cost per request.
 *
 * @since 1.0.0
 */
import * as Effect from "effect/Effect"
import type * as HttpClient from "effect/http/HttpClient"
import * as Option from "effect/Option"
import type * as Context from "effect/Context"
import * as abort from "./internal/abort.js"
import * as call from "./internal/call.js"
import * as engine from "./internal/engine.js"
import { leaseSettings, onRoute, withoutTransport } from "./internal/route.js"
import type { InvalidOptionsError, RequestError } from "./LoamyError.js"
import type * as Options from "./Options.js"
import type * as RequestMap from "./RequestMap.js"
import type { RequestResponse } from "./RequestResponse.js"
import { type Lease, Transport } from "./Transport.js"

/**
 * `Clump.send` for requests already checked and options already decoded:
 * one `RequestResponse` per request, in input order. It still fails with an
 * `InvalidOptionsError` when the environment cannot route through the
 * `proxy` option (no `Transport`, or one that refuses it).
 *
 * @since 1.0.0
 * @category sending
 */
export const unsafeSend = (
  requests: ReadonlyArray<RequestMap.RequestMap>,
  resolved: Options.Resolved
): Effect.Effect<ReadonlyArray<RequestResponse>, RequestError | InvalidOptionsError, HttpClient.HttpClient> =>
  call.sendChecked<RequestError, unknown, never>(requests, resolved, undefined)

/**
 * A batch runner prepared by `unsafePrepare`: sends requests that have
 * already been checked and gives one `RequestResponse` per request, in input
 * order, with none of a call's set-up.
 *
 * @since 1.0.0
 * @category models
 */
export type Prepared = (
  requests: ReadonlyArray<RequestMap.RequestMap>
) => Effect.Effect<ReadonlyArray<RequestResponse>, RequestError | InvalidOptionsError>

/**
 * For a door that sends many batches with the same decoded options (loamy's
 * synchronous worker): does a call's set-up once (the sender, its redirect
 * middleware, the tracing check) and returns a runner that sends checked
 * batches on it, as `unsafeSend` would, with no set-up of its own; a
 * one-request batch skips the scheduler too. The runner holds the client it
 * was prepared with and can be used any number of times, also concurrently.
 *
 * With a `Transport`, a batch runs on the route current where it runs when
 * that route was leased for the same settings (the door leases once for many
 * batches and provides it as `Transport.CurrentRoute`); otherwise the batch
 * leases one for itself.
 *
 * Options whose sender keeps state for one call (a `deadline`, a
 * `rateLimit`, `retry` with its origin pauses, a `cookies` jar) cannot be prepared: this then
 * gives `undefined` (use `unsafeSend`). The runner makes no `loamy.send`
 * span and no progress reports, and makes request spans only if a recording
 * tracer was on when it was prepared.
 *
 * loamy follows redirects itself, so a fetch-based client is told not to
 * (`FetchHttpClient.RequestInit` with `redirect: "manual"`) for each batch,
 * unless the context the runner is prepared in says so already: then the
 * runner leaves the context as it is (a context change per batch is
 * measurable), and must be run in a context that says so too.
 *
 * @since 1.0.0
 * @category sending
 */
export const unsafePrepare = (
  resolved: Options.Resolved
): Effect.Effect<Prepared | undefined, InvalidOptionsError, HttpClient.HttpClient> => {
  if (
    resolved.deadlineMs !== undefined || resolved.rateLimit !== undefined || resolved.retry !== undefined ||
    resolved.cookies !== false
  ) {
    return Effect.succeed(undefined)
  }
  const failFast = resolved.failFast
  const settings = leaseSettings(resolved)
  return Effect.flatMap(Effect.serviceOption(Transport), (transport) =>
    Effect.flatMap(
      Option.isNone(transport) ? withoutTransport(resolved, engine.makeSender(resolved)) : engine.makeSender(resolved),
      (sender) =>
        Effect.map(engine.asksManualRedirects, (asked): Prepared => (requests) => {
          const batch = requests.length !== 1
            ? call.collect<RequestError, never>(requests, resolved, sender, undefined)
            : failFast
            ? Effect.flatMap(sender(requests[0]!, 0), (response) =>
              response.error !== undefined
                ? Effect.fail(response.error)
                : Effect.succeed<ReadonlyArray<RequestResponse>>([response]))
            : Effect.map(sender(requests[0]!, 0), (response): ReadonlyArray<RequestResponse> => [response])
          const redirected = asked ? batch : engine.manualRedirects(batch)
          return Option.isSome(transport) ? onRoute(transport.value, settings, redirected) : redirected
        })
    ))
}

/**
 * The route a call with these options leases, leased now, for a door that
 * runs many batches with the same options (loamy's synchronous worker): it
 * provides `lease.route` as `Transport.CurrentRoute` around each batch
 * (which then leases nothing, see `unsafePrepare`), and runs `lease.release`
 * when batches with other options come. A lease per batch costs a
 * one-request batch about as much as the rest of its engine work. Undefined
 * without a `Transport`.
 *
 * @since 1.1.0
 * @category sending
 */
export const unsafeLease = (
  resolved: Options.Resolved
): Effect.Effect<Lease | undefined, InvalidOptionsError> =>
  Effect.flatMap(
    Effect.serviceOption(Transport),
    (transport) => Option.isNone(transport) ? Effect.succeed(undefined) : transport.value.lease(leaseSettings(resolved))
  )

/**
 * The `AbortSignal`s of a call's requests, by index, for a door that lets
 * callers abort one request (loamy's Promise door): provided around the
 * call, read once by the engine. A request whose signal is aborted ends at
 * once with an `AbortedError` (one in flight is interrupted); the others go
 * on. Undefined (the default): none.
 *
 * @since 1.1.0
 * @category aborting
 */
export const RequestSignals: Context.Reference<ReadonlyArray<AbortSignal | undefined> | undefined> =
  abort.RequestSignals
