/**
 * How the `proxy` option reaches the client: the core opens no sockets, so
 * it asks the client in use for a client that sends through the proxy, once
 * per call. A client that can do it (loamy's undici layer) carries a function
 * under `proxyClient`; with any other the call fails, since ignoring the
 * option would send the requests around the proxy.
 *
 * A client rather than a tag on each request: the proxy is a property of the
 * connections, redirects go through the same client without carrying anything
 * over, and a call without a proxy does nothing at all per request.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Either from "effect/Either"
import { InvalidOptionsError } from "../LoamyError.js"

/**
 * On a client that can route through proxies: `(proxy: string) => HttpClient`,
 * given `"env"` or an http(s) URL (already checked), returning the client that
 * sends through it. It may throw an `Error` whose message says why it cannot
 * (an environment variable that is not a URL); the message must not hold
 * credentials.
 *
 * @internal
 */
export const proxyClient: unique symbol = Symbol.for("@loamy/core/proxyClient")

/** @internal */
export const viaProxy = (
  client: HttpClient.HttpClient,
  proxy: string
): Either.Either<HttpClient.HttpClient, InvalidOptionsError> => {
  const through = (client as unknown as Record<symbol, unknown>)[proxyClient]
  if (typeof through !== "function") {
    return Either.left(
      new InvalidOptionsError({
        option: "proxy",
        detail: "the HttpClient in use cannot route through a proxy: provide loamy's UndiciHttpClient layer " +
          "(loamy/UndiciHttpClient), or leave proxy unset and configure the client's own proxy"
      })
    )
  }
  try {
    return Either.right((through as (proxy: string) => HttpClient.HttpClient).call(client, proxy))
  } catch (error) {
    return Either.left(
      new InvalidOptionsError({
        option: "proxy",
        detail: error instanceof Error ? error.message : "the client could not make a proxy connection pool"
      })
    )
  }
}
