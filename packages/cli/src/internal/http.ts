/**
 * The one place the CLI picks its HTTP client: loamy's lean undici layer.
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Effect from "effect/Effect"
import * as UndiciHttpClient from "loamy/UndiciHttpClient"

/**
 * Provides the HTTP client, opening at most `connections` sockets per origin
 * (the run's concurrency: more would only sit idle). Trace propagation is
 * off: a batch tool should not add `traceparent`/`b3` headers the user did
 * not write.
 *
 * @internal
 */
export const provide = <A, E>(
  effect: Effect.Effect<A, E, HttpClient.HttpClient>,
  connections: number | undefined
): Effect.Effect<A, E> =>
  effect.pipe(
    Effect.locally(HttpClient.currentTracerPropagation, false),
    Effect.provide(
      connections !== undefined && Number.isSafeInteger(connections) && connections > 0
        ? UndiciHttpClient.layerWith({ connections })
        : UndiciHttpClient.layer
    )
  )
