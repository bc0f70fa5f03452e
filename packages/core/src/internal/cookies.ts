/**
 * The `cookies` option: one cookie jar for the call, shared by its requests
 * and their redirects. The jar is tough-cookie's (RFC 6265: domain, path,
 * `Secure`, `Max-Age`/`Expires`, the public suffix list), loaded only by a
 * call that asks for a jar (`cookieJar.ts`); the client the engine sends
 * through is wrapped (`withJar`) only then, so a call without cookies runs
 * exactly as before.
 *
 * Every exchange (each redirect included, since the redirect follower sends
 * through the same client) asks the jar for the cookies of its URL before
 * it is sent, and gives the jar the response's `Set-Cookie` values as soon as
 * the headers arrive. A `Cookie` header the caller set is kept and comes
 * first; the jar adds the cookies whose names it does not hold.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as Predicate from "effect/Predicate"
import { discard, setCookieValues } from "./body.js"

/**
 * A cookie jar as the `cookies` option takes it: a tough-cookie `CookieJar`,
 * or anything with its two promise-returning methods (another copy or
 * version of tough-cookie, a wrapper around one).
 *
 * (Not `@internal`: `Options` re-exports it.)
 */
export interface CookieJar {
  /** The `Cookie` header value for a request to `url` (`""`: none). */
  getCookieString(url: string): Promise<string>
  /** Stores one `Set-Cookie` value received from `url`; a cookie the rules refuse is dropped, not thrown. */
  setCookie(cookie: string, url: string, options: { readonly ignoreError: boolean }): Promise<unknown>
}

/** Whether `u` is a cookie jar (see `CookieJar`). @internal */
export const isCookieJar = (u: unknown): u is CookieJar =>
  Predicate.hasProperty(u, "getCookieString") && typeof u.getCookieString === "function" &&
  Predicate.hasProperty(u, "setCookie") && typeof u.setCookie === "function"

// tough-cookie and its public suffix list load with the first call that asks for a jar, not with the core.
const loadJar = Effect.promise(() => import("./cookieJar.js"))

/**
 * The jar of a call: a new one for `true`, the caller's own as it is.
 *
 * @internal
 */
export const jarFor = (cookies: true | CookieJar): Effect.Effect<CookieJar> =>
  cookies === true ? Effect.map(loadJar, (module) => module.make()) : Effect.succeed(cookies)

/**
 * `client`, sending each request with the jar's cookies for its URL and
 * keeping the `Set-Cookie` values of each response in the jar.
 *
 * @internal
 */
export const withJar = (client: HttpClient.HttpClient, jar: CookieJar): HttpClient.HttpClient =>
  HttpClient.makeWith<never, never, HttpClientError.HttpClientError, never>(
    (request) => Effect.flatMap(request, (request) => exchange(client, jar, request)),
    Effect.succeed
  )

const exchange = (
  client: HttpClient.HttpClient,
  jar: CookieJar,
  request: HttpClientRequest.HttpClientRequest
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> => {
  const url = request.url
  return Effect.flatMap(
    fromJar(request, "could not give the cookies for the request", () => jar.getCookieString(url)),
    (stored) =>
      Effect.flatMap(client.execute(withCookies(request, stored)), (response) => {
        const values = setCookieValues(response)
        if (values.length === 0) return Effect.succeed(response)
        const kept = fromJar(request, "could not keep the response's cookies", async () => {
          // One after the other: a jar with a store of its own may not take two writes at once.
          for (const value of values) await jar.setCookie(value, url, { ignoreError: true })
        })
        return Effect.matchEffect(kept, {
          onFailure: (error) => Effect.andThen(discard(response), Effect.fail(error)),
          onSuccess: () => Effect.succeed(response)
        })
      })
  )
}

/** A jar's promise as an exchange's step: its failure is the request's transport error, saying it was the jar. */
const fromJar = <A>(
  request: HttpClientRequest.HttpClientRequest,
  what: string,
  run: () => Promise<A>
): Effect.Effect<A, HttpClientError.HttpClientError> =>
  Effect.tryPromise({
    try: run,
    catch: (cause) =>
      new HttpClientError.HttpClientError({
        reason: new HttpClientError.TransportError({
          request,
          // The message alone (the engine reports the innermost cause's): a jar's own error names no cookie value.
          cause: new Error(`the cookie jar ${what}: ${cause instanceof Error ? cause.message : String(cause)}`),
          description: "cookie jar"
        })
      })
  })

/**
 * The request with the jar's cookies: after a `Cookie` header the caller set
 * (on the request or in the call's `headers`), without the names it holds.
 */
const withCookies = (
  request: HttpClientRequest.HttpClientRequest,
  stored: string
): HttpClientRequest.HttpClientRequest => {
  if (stored === "") return request
  const own = request.headers["cookie"]
  return HttpClientRequest.setHeader(request, "cookie", own === undefined || own.trim() === "" ? stored : combine(own, stored))
}

const nameOf = (pair: string): string => {
  const equals = pair.indexOf("=")
  return (equals < 0 ? "" : pair.slice(0, equals)).trim()
}

/** `own`, then the pairs of `stored` whose names `own` does not hold. @internal */
export const combine = (own: string, stored: string): string => {
  const names = new Set(own.split(";").map(nameOf))
  let out = own.trim().replace(/;$/, "")
  for (const pair of stored.split(";")) {
    const trimmed = pair.trim()
    if (trimmed !== "" && !names.has(nameOf(trimmed))) out += `; ${trimmed}`
  }
  return out
}
