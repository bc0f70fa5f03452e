/**
 * The one Effect runtime per thread that the plain-function doors run on: an
 * undici agent kept alive between calls, closed when the process is about to
 * exit (or when `close` is called).
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Clump, type Options, type RequestMap, type RequestResponse } from "@loamy/core"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as UndiciHttpClient from "../UndiciHttpClient.js"

type Runtime = ManagedRuntime.ManagedRuntime<HttpClient.HttpClient | UndiciHttpClient.UndiciDispatcher, never>

let current: Runtime | undefined
let hooked = false

/** @internal */
export const runtime = (): Runtime => {
  if (current === undefined) {
    current = ManagedRuntime.make(UndiciHttpClient.layer)
    if (!hooked) {
      hooked = true
      // Idle sockets do not hold the process open, so this runs once the caller is done; it closes the agent.
      process.on("beforeExit", () => {
        void dispose()
      })
    }
  }
  return current
}

/** @internal */
export const dispose = async (): Promise<void> => {
  const runtime = current
  current = undefined
  if (runtime !== undefined) await runtime.dispose()
}

/**
 * The batch as the doors run it. Effect's tracer is off: callers of these
 * doors cannot install one, so spans would be built for nobody.
 *
 * @internal
 */
export const send = (
  requests: Iterable<unknown>,
  options: Clump.Options | Options.Resolved
): Effect.Effect<ReadonlyArray<RequestResponse.RequestResponse>, unknown, HttpClient.HttpClient> =>
  Effect.withTracerEnabled(Clump.send(Clump.make(requests as Iterable<RequestMap.RequestMap>, options)), false)
