/**
 * Redirects: loamy follows them itself (the underlying client must not: see
 * `manualRedirects`) to count them, spot loops, turn 301/302/303 into GET
 * the way browsers do, and drop credentials when a redirect leaves the
 * origin. The engine hands a redirect response to the follower; a response
 * that is not one costs nothing (no middleware around every exchange).
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as Headers from "effect/http/Headers"
import type * as HttpClient from "effect/http/HttpClient"
import type * as HttpClientError from "effect/http/HttpClientError"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as HttpMethod from "effect/http/HttpMethod"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as Option from "effect/Option"
import { RedirectError } from "../LoamyError.js"
import { discard } from "./body.js"

/**
 * Every option `HttpClientRequest.make` reads, given as absent: it reads them
 * through the prototype, so an option left out would be taken from a polluted
 * `Object.prototype` (and kept in the cached blank request for good).
 *
 * @internal
 */
export const noRequestOptions: HttpClientRequest.Options.NoUrl = {
  headers: undefined,
  urlParams: undefined,
  hash: undefined,
  body: undefined,
  accept: undefined,
  acceptJson: undefined
}

const redirectStatuses: ReadonlySet<number> = new Set([301, 302, 303, 307, 308])

/** Whether a response asks to be followed: a redirect status with a `Location`. @internal */
export const isRedirect = (response: HttpClientResponse.HttpClientResponse): boolean =>
  redirectStatuses.has(response.status) && response.headers["location"] !== undefined

/**
 * Follows a redirect response of `original` through `client` (the one that
 * sent it, which does not follow redirects itself), and the redirects after
 * it, up to `maxRedirects`.
 *
 * @internal
 */
export type Follow = (
  response: HttpClientResponse.HttpClientResponse,
  original: HttpClientRequest.HttpClientRequest
) => Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError | RedirectError>

/**
 * What follows redirects; the engine calls it on an `isRedirect` response.
 * Fails with a
 * `RedirectError` (naming the original request) on a loop, past the limit,
 * or for a location that is not an http(s) URL.
 *
 * @internal
 */
export const redirectFollower = (
  client: HttpClient.HttpClient,
  maxRedirects: number,
  /** Not forwarded when a redirect leaves the origin. */
  sensitiveHeaders: ReadonlyArray<string>
): Follow => {
  // A hand-set `Host` names the origin it was set for: it must not follow the request to another one.
  const dropped = [...sensitiveHeaders, "host"]
  return (response, original) => followFrom(client, maxRedirects, dropped, response, original)
}

const followFrom = (
  client: HttpClient.HttpClient,
  maxRedirects: number,
  dropped: ReadonlyArray<string>,
  response: HttpClientResponse.HttpClientResponse,
  original: HttpClientRequest.HttpClientRequest
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError | RedirectError> => {
  const method = original.method
  const url = original.url
  const follow = (
    response: HttpClientResponse.HttpClientResponse,
    previous: HttpClientRequest.HttpClientRequest,
    redirects: number,
    visited: Set<string> | undefined
  ): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError | RedirectError> => {
    const statusCode = response.status
    if (!redirectStatuses.has(statusCode)) return Effect.succeed(response)
    const location = response.headers["location"]
    if (location === undefined) return Effect.succeed(response)
    let next: URL
    try {
      next = new URL(location, previous.url)
    } catch {
      return Effect.andThen(
        discard(response),
        Effect.fail(new RedirectError({ method, url, reason: "InvalidLocation", redirects, location }))
      )
    }
    if (next.protocol !== "http:" && next.protocol !== "https:") {
      return Effect.andThen(
        discard(response),
        Effect.fail(new RedirectError({ method, url, reason: "InvalidLocation", redirects, location }))
      )
    }
    if (redirects + 1 > maxRedirects) {
      return Effect.andThen(
        discard(response),
        Effect.fail(new RedirectError({ method, url, reason: "TooMany", redirects: maxRedirects }))
      )
    }
    const seen = visited ?? new Set([`${previous.method} ${previous.url}`])
    // 303, and 301/302 after a POST, turn into a GET without a body (what browsers and fetch do).
    const toGet = statusCode === 303 || ((statusCode === 301 || statusCode === 302) && previous.method === "POST")
    const previousMethod = previous.method
    // Always one of ours (the engine's requests and the ones made here); anything else is not followed.
    if (!HttpMethod.isHttpMethod(previousMethod)) return Effect.succeed(response)
    const nextMethod = toGet && previousMethod !== "HEAD" ? "GET" : previousMethod
    const nextUrl = next.toString()
    const key = `${nextMethod} ${nextUrl}`
    if (seen.has(key)) {
      return Effect.andThen(
        discard(response),
        Effect.fail(new RedirectError({ method, url, reason: "Loop", redirects: redirects + 1, location: nextUrl }))
      )
    }
    seen.add(key)
    let headers = previous.headers
    if (nextMethod !== previous.method) headers = Headers.removeMany(headers, ["content-type", "content-length"])
    if (next.origin !== new URL(previous.url).origin) headers = Headers.removeMany(headers, dropped)
    // `modify`/`setHeaders` merge into the headers there are, so they cannot drop one: the request is rebuilt.
    let nextRequest = HttpClientRequest.make(nextMethod)(nextUrl, { ...noRequestOptions, headers })
    if (nextMethod === previous.method) nextRequest = HttpClientRequest.setBody(nextRequest, previous.body)
    return Effect.andThen(
      discard(response),
      Effect.flatMap(client.execute(nextRequest), (nextResponse) => follow(nextResponse, nextRequest, redirects + 1, seen))
    )
  }
  return follow(response, original, 0, undefined)
}

/**
 * Whether the context already tells a fetch-based client not to follow
 * redirects (so `manualRedirects` has nothing to add).
 *
 * @internal
 */
export const asksManualRedirects: Effect.Effect<boolean> = Effect.map(
  Effect.serviceOption(FetchHttpClient.RequestInit),
  (init) => Option.isSome(init) && init.value.redirect === "manual"
)

/**
 * Redirects are followed by `redirectFollower`, so a fetch-based client must
 * not follow them itself. Other clients ignore `RequestInit`. Provided once
 * per call: a context change per request is measurable.
 *
 * @internal
 */
export const manualRedirects = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.serviceOption(FetchHttpClient.RequestInit), (init) =>
    Effect.provideService(self, FetchHttpClient.RequestInit, manualInit(Option.getOrUndefined(init))))

/**
 * `init` with `redirect: "manual"`. `headers` is always an own property, so
 * that a polluted `Object.prototype.headers` is not read as default headers
 * by the fetch client: `undefined` is not a `HeadersInit`, so an absent one
 * is set after the object is made.
 */
const manualInit = (init: globalThis.RequestInit | undefined): globalThis.RequestInit => {
  const out: globalThis.RequestInit = { ...init, redirect: "manual" }
  if (!Object.hasOwn(out, "headers")) Object.defineProperty(out, "headers", { value: undefined, enumerable: true })
  return out
}
