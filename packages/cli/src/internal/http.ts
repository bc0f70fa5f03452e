/**
 * The one place the CLI picks its HTTP client: loamy's lean undici layer.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HttpClient from "effect/http/HttpClient"
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
export class Abort extends Context.Service<Abort, () => void>()("@loamy/cli/http/Abort") {}

/**
 * Provides the HTTP client and `Abort`. Each call of the core runs on
 * sockets capped at its concurrency (more would only sit idle), and `Abort`
 * destroys them all (`UndiciHttpClient.Dispatchers`). Trace propagation is
 * off: a batch tool should not add `traceparent`/`b3` headers the user did
 * not write.
 *
 * @internal
 */
export const provide = <A, E>(effect: Effect.Effect<A, E, HttpClient.HttpClient | Abort>): Effect.Effect<A, E> =>
  Effect.flatMap(UndiciHttpClient.Dispatchers, (dispatchers) =>
    effect.pipe(
      Effect.provideService(HttpClient.TracerPropagationEnabled, false),
      Effect.provideService(
        Abort,
        () => dispatchers.destroy(Object.assign(new Error("loamy was interrupted"), { code: abortedCode }))
      )
    )).pipe(Effect.provide(UndiciHttpClient.layer))
