/**
 * The one place the CLI picks its HTTP client, so switching to another layer
 * is a one-line change.
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import * as Effect from "effect/Effect"

/**
 * Provides the HTTP client. Trace propagation is off: a batch tool should
 * not add `traceparent`/`b3` headers the user did not write.
 *
 * @internal
 */
export const provide = <A, E, R>(
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, Exclude<R, HttpClient.HttpClient>> =>
  effect.pipe(Effect.locally(HttpClient.currentTracerPropagation, false), Effect.provide(NodeHttpClient.layerUndici))
