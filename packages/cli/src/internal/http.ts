/**
 * The one place the CLI picks its HTTP client: loamy's lean undici layer.
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as UndiciHttpClient from "loamy/UndiciHttpClient"

/**
 * The `code` of the error every request in flight fails with once `Abort`
 * is called (requests started after it fail with undici's
 * `UND_ERR_DESTROYED`).
 *
 * @internal
 */
export const abortedCode = "LOAMY_INTERRUPTED"

/**
 * Stops the client for good: every request in flight fails at once (a
 * `TransportError` with code `LOAMY_INTERRUPTED` or `UND_ERR_DESTROYED`) and
 * nothing more is sent. `loamy send` calls it on SIGINT or SIGTERM, so that
 * the run ends at once with every response already received.
 *
 * @internal
 */
export class Abort extends Context.Tag("@loamy/cli/http/Abort")<Abort, () => void>() {}

/**
 * Provides the HTTP client, opening at most `connections` sockets per origin
 * (the run's concurrency: more would only sit idle), and `Abort`. Trace
 * propagation is off: a batch tool should not add `traceparent`/`b3` headers
 * the user did not write.
 *
 * @internal
 */
export const provide = <A, E>(
  effect: Effect.Effect<A, E, HttpClient.HttpClient | Abort>,
  connections: number | undefined
): Effect.Effect<A, E> => {
  const untraced = Effect.locally(effect, HttpClient.currentTracerPropagation, false)
  if (connections === undefined || !Number.isSafeInteger(connections) || connections <= 0) {
    // Each call of the core on sockets capped at its concurrency; nothing to abort but by interrupting.
    return Effect.provide(Effect.provideService(untraced, Abort, () => {}), UndiciHttpClient.layer)
  }
  // `layerWith({ connections })`'s client, made here so that its dispatchers can be destroyed early.
  return Effect.acquireUseRelease(
    Effect.sync(() => {
      const agent = UndiciHttpClient.unsafeMakeAgent({ connections })
      const proxies = UndiciHttpClient.unsafeMakeProxies({ connections })
      return { agent, proxies, client: UndiciHttpClient.unsafeMakeWithProxies(agent, proxies) }
    }),
    ({ agent, client, proxies }) => {
      const abort = () => {
        const error = Object.assign(new Error("loamy was interrupted"), { code: abortedCode })
        void agent.destroy(error).catch(() => undefined)
        void proxies.close()
      }
      return untraced.pipe(Effect.provideService(HttpClient.HttpClient, client), Effect.provideService(Abort, abort))
    },
    ({ agent, proxies }) =>
      Effect.promise(() => Promise.all([agent.destroy().catch(() => undefined), proxies.close()]))
  )
}
