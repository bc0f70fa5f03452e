/**
 * The contract between loamy's engine and the transport under it: what a
 * transport may offer beside `HttpClient` so that the engine can cap a
 * call's sockets, route it through a proxy, bound each attempt with one
 * timer, and read bodies without an Effect stream. loamy's undici client
 * (`loamy/UndiciHttpClient`) implements it; any other `HttpClient`
 * (`FetchHttpClient`, `NodeHttpClient`, a test fake) works without it, the
 * engine then keeping its own timers and reads.
 *
 * Everything travels as typed values in the fiber's context (the
 * `Transport` service, the `CurrentRoute` and `AttemptDeadline`
 * references) or as a capability of the response object
 * (`BoundedResponse`). A context value survives every `HttpClient`
 * middleware (`mapRequest`, `tapRequest`, `retry`, `transformResponse`, a
 * tracer), which a property of the client or of the request would not: each
 * of those builds a new client and request objects.
 *
 * Writing a transport:
 * - provide `Transport` next to your `HttpClient` (one layer, both
 *   services); `lease` gives a `Route` for a call's settings;
 * - in your client's `execute`, read `CurrentRoute` and `AttemptDeadline`
 *   from the calling fiber (`fiber.getRef(CurrentRoute)` in
 *   `Effect.withFiber`) and send on that route, failing with an
 *   `HttpClientError` whose `cause` is an `AttemptTimeoutError` once the
 *   deadline passes (headers or body);
 * - optionally make your responses `BoundedResponse`s.
 *
 * @since 1.0.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as HttpClientError from "effect/http/HttpClientError"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import type { InvalidOptionsError } from "./LoamyError.js"
import type { ResponseHeaders } from "./RequestResponse.js"

/**
 * What a call asks the transport for, once per call.
 *
 * @since 1.0.0
 * @category models
 */
export interface LeaseSettings {
  /**
   * Sockets per origin at most: the call's `concurrency`, or its
   * `concurrencyPerOrigin` when lower. Calls with the same settings may
   * share sockets.
   */
  readonly connections: number
  /**
   * `"env"` (the `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` variables) or an
   * http(s) URL, already checked by `Options.decode`; its credentials are
   * secrets, never to be shown. Undefined: straight to the origin.
   */
  readonly proxy: string | undefined
  /**
   * Offer HTTP/2 to https origins (the `http2` option), so that one
   * connection carries many requests to an origin that speaks it. Absent or
   * false: HTTP/1.1 only.
   *
   * @since 1.1.0
   */
  readonly http2?: boolean | undefined
  /**
   * PEM text of the only certificate authorities to trust for https (the
   * `ca` option). Undefined: the platform's.
   *
   * @since 1.1.0
   */
  readonly ca?: string | undefined
}

/**
 * @since 1.0.0
 * @category type ids
 */
export const RouteTypeId = "~@loamy/core/Transport/Route" as const

/**
 * @since 1.0.0
 * @category type ids
 */
export type RouteTypeId = typeof RouteTypeId

/**
 * Where a call's requests go: the transport that leased it knows what it
 * holds (a capped agent, a proxy's dispatcher) and finds it again with
 * `instanceof` on its own class. The engine reads only the settings it was
 * leased for, to use a route already current for the same settings (a door
 * that leases once for many calls) instead of leasing again.
 *
 * @since 1.0.0
 * @category models
 */
export interface Route extends LeaseSettings {
  readonly [RouteTypeId]: RouteTypeId
}

/**
 * A route held until `release` (the engine releases it when the call ends,
 * however it ends: done, failed, interrupted).
 *
 * @since 1.0.0
 * @category models
 */
export interface Lease {
  readonly route: Route
  readonly release: Effect.Effect<void>
}

/**
 * The transport service: provided beside the `HttpClient` it serves (loamy's
 * `UndiciHttpClient.layer` provides both). The engine asks for it once per
 * call (`Effect.serviceOption`); when it is there the engine leases a route
 * for the call, provides it as `CurrentRoute`, gives each attempt its end
 * as `AttemptDeadline` and runs no timer of its own.
 *
 * `lease` fails with an `InvalidOptionsError` (option `proxy`) when it
 * cannot route through the proxy asked for (`"env"` with a variable that is
 * not a URL); its message must hold no credentials. A transport that cannot
 * offer HTTP/2 or trust a given CA fails it too (option `http2`, `ca`)
 * rather than send without them.
 *
 * **Gotchas**: provide it only with the client it serves. A program that
 * provides another `HttpClient` over it (not middleware around it, a
 * different client) keeps the service, and that client ignores the route
 * and the deadline: attempts go unbounded and around the proxy.
 *
 * @since 1.0.0
 * @category services
 */
export class Transport extends Context.Service<Transport, {
  readonly lease: (settings: LeaseSettings) => Effect.Effect<Lease, InvalidOptionsError>
}>()("@loamy/core/Transport") {}

/**
 * The route of the call the calling fiber runs for; undefined outside one
 * (the transport then sends on its default, uncapped sockets). Provided by
 * the engine once per call; a door that leases for several calls (loamy's
 * sync worker) may provide it itself, and calls with the same settings use
 * it as it is.
 *
 * @since 1.0.0
 * @category references
 */
export const CurrentRoute: Context.Reference<Route | undefined> = Context.Reference<Route | undefined>(
  "@loamy/core/Transport/CurrentRoute",
  { defaultValue: () => undefined }
)

/**
 * The `performance.now()` time by which the current attempt must be done,
 * headers and body (redirects included), when a `Transport` is present and
 * the call has a `timeout`; undefined: no bound. The engine gives it in whole
 * milliseconds (the attempt's start plus the timeout, rounded down), so that
 * attempts started within one millisecond share one context. Past it the transport
 * aborts the exchange (or destroys the body) and fails with an
 * `HttpClientError` whose `cause` is an `AttemptTimeoutError`.
 *
 * A time, not a duration, so that middleware which queues a request before
 * the transport (a shared rate limit) can move it by the time waited, since
 * queueing does not count against the timeout:
 * `HttpClient.transform(client, (effect) => Effect.flatMap(wait, (waited) =>
 * Effect.updateService(effect, AttemptDeadline, (end) => end === undefined ? end : end + waited)))`.
 *
 * @since 1.0.0
 * @category references
 */
export const AttemptDeadline: Context.Reference<number | undefined> = Context.Reference<number | undefined>(
  "@loamy/core/Transport/AttemptDeadline",
  { defaultValue: () => undefined }
)

/**
 * The `cause` of the `HttpClientError` a transport fails with when the
 * `AttemptDeadline` passes, before the headers or during the body. The
 * engine turns it into the response's `TimeoutError`, keeping the status
 * and headers when they had arrived.
 *
 * @since 1.0.0
 * @category errors
 */
export class AttemptTimeoutError extends Data.TaggedError("AttemptTimeoutError")<{}> {
  override get message(): string {
    return "the attempt's deadline passed"
  }
}

/**
 * Whether an `HttpClientError` is a transport's report that the attempt's
 * deadline passed.
 *
 * @since 1.0.0
 * @category refinements
 */
export const isAttemptTimeout = (error: HttpClientError.HttpClientError): boolean =>
  error.cause instanceof AttemptTimeoutError

/**
 * A read's place in the call's body budget (see `BodyBudget.wait`).
 *
 * @since 1.0.0
 * @category models
 */
export interface BudgetWaiter {
  readonly ticket: number
  /** Undefined once the read was resumed or cancelled; set by the budget only. */
  resume: (() => void) | undefined
}

/**
 * The call's body budget (its `bodyBudget` option): bytes of bodies held at
 * once by the call's reads. A read `open`s a ticket, `take`s each chunk's
 * bytes as it holds them (and, told `false`, stops reading and `wait`s until
 * resumed), and `release`s all it took when it ends, however it ends; a read
 * that ends while waiting `cancel`s its waiter first. A transport may take
 * more than the body (a decoder's window) under the same ticket.
 *
 * @since 1.0.0
 * @category models
 */
export interface BodyBudget {
  readonly open: () => number
  readonly take: (ticket: number, bytes: number) => boolean
  readonly wait: (ticket: number, resume: () => void) => BudgetWaiter
  readonly cancel: (waiter: BudgetWaiter) => void
  readonly release: (ticket: number, bytes: number) => void
}

/**
 * @since 1.0.0
 * @category type ids
 */
export const BoundedResponseTypeId = "~@loamy/core/Transport/BoundedResponse" as const

/**
 * @since 1.0.0
 * @category type ids
 */
export type BoundedResponseTypeId = typeof BoundedResponseTypeId

/**
 * The body reads a transport's response offers the engine: cheaper than an
 * Effect stream, and bounded. The response may be its own `BoundedBody`
 * (`get [BoundedResponseTypeId]() { return this }`), so that offering it
 * costs nothing per response.
 *
 * @since 1.0.0
 * @category models
 */
export interface BoundedBody {
  /**
   * The whole body, decoded, when the transport read it before handing the
   * response over (small bodies); undefined when it is still to be read.
   */
  readonly bufferedBody: Uint8Array | undefined
  /**
   * The response's headers as a `RequestResponse` gives them, when the
   * transport has them so: a record without a prototype, names lower-case,
   * `set-cookie` an array of its values, any other repeated header joined
   * with ", ". The engine takes this record as it is instead of copying
   * `headers`; it must be the response's own (a new record per response).
   * Optional: without it the engine copies `headers`.
   *
   * @since 1.1.0
   */
  readonly responseHeaders?: ResponseHeaders | undefined
  /**
   * Reads the body (decoded) up to `maxBytes`: the bytes, or undefined when
   * it is larger (the rest is abandoned and the connection closed). Counts
   * what it holds against `budget` and waits, not reading, when told to.
   * Fails with an `HttpClientError` (cause `AttemptTimeoutError` when the
   * attempt's deadline passed).
   */
  readonly readUpTo: (
    maxBytes: number,
    budget: BodyBudget
  ) => Effect.Effect<Uint8Array | undefined, HttpClientError.HttpClientError>
  /**
   * Hands the body (decoded) to `write` chunk by chunk, as it arrives, not
   * reading on until the promise `write` gives back settles: `true` to go
   * on, `false` to stop (the rest is abandoned and the connection closed).
   * `write` does not reject. Ends when the body does, or when told to stop;
   * fails as `readUpTo` does. Optional: without it the engine writes a
   * download from the response's `stream`. The response's chunks go
   * straight to the file, without an Effect per chunk (the download path's
   * memory is mostly chunks waiting to be collected).
   *
   * @since 1.0.0
   */
  readonly writeTo?: (
    write: (chunk: Uint8Array) => Promise<boolean>
  ) => Effect.Effect<void, HttpClientError.HttpClientError>
}

/**
 * A response that offers bounded reads. Middleware that returns the
 * transport's response object as it is keeps the capability; one that
 * rebuilds the response drops it, and the engine reads through the stock
 * `HttpClientResponse` interface instead.
 *
 * @since 1.0.0
 * @category models
 */
export interface BoundedResponse extends HttpClientResponse.HttpClientResponse {
  readonly [BoundedResponseTypeId]: BoundedBody
}

/**
 * @since 1.0.0
 * @category refinements
 */
export const isBoundedResponse = (response: HttpClientResponse.HttpClientResponse): response is BoundedResponse =>
  BoundedResponseTypeId in response
