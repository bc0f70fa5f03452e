import { FetchHttpClient, type HttpClient } from "effect/http"
import { NodeHttpClient } from "@effect/platform-node"
import type { TestServer } from "@loamy/test-server"
import { Clock, Duration, Effect, type Layer } from "effect"
import { sleep, waitUntil } from "@loamy/test-kit"

/** The two platform layers the core must work on unchanged. */
export const clients: ReadonlyArray<readonly [string, Layer.Layer<HttpClient.HttpClient>]> = [
  ["FetchHttpClient.layer", FetchHttpClient.layer],
  ["NodeHttpClient.layerUndici", NodeHttpClient.layerUndici]
]

/** `waitUntil` as an Effect that runs on the real clock, whatever clock the test has. */
export const waitUntilLive = (check: () => boolean, ms = 5_000) => Effect.promise(() => waitUntil(check, ms))

/** Real time, whatever clock the test has. */
export const sleepLive = (ms: number) => Effect.promise(() => sleep(ms))

/** Arrival times (ms since the server started) of the requests whose path and query start with `prefix`. */
export const arrivalsOf = (server: TestServer, prefix: string): Array<number> =>
  server.stats.arrivals.filter((_, i) => server.stats.arrivalPaths[i]!.startsWith(prefix))

/**
 * The sleeps an effect is waiting on, for tests on `TestClock`: `provide`
 * gives the effect a clock that is the test's own but notes each sleep's
 * length (milliseconds) while it is pending, so a test can wait until the
 * engine sleeps (Effect 4's `TestClock` keeps its pending sleeps to itself).
 */
export const sleepRecorder = Effect.map(Clock.Clock, (clock) => {
  const pending: Array<number> = []
  const recording: Clock.Clock = {
    ...clock,
    sleep: (duration) =>
      Effect.suspend(() => {
        const ms = Duration.toMillis(duration)
        pending.push(ms)
        return Effect.ensuring(clock.sleep(duration), Effect.sync(() => void pending.splice(pending.indexOf(ms), 1)))
      })
  }
  return {
    pending,
    provide: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provideService(effect, Clock.Clock, recording)
  }
})
