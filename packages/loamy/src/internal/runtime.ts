/**
 * The one Effect runtime per thread that the plain-function doors run on:
 * loamy's undici layer (its client and its `Transport`), kept alive between
 * calls, closed when the process is about to exit (or when `dispose` is
 * called).
 *
 * A call opens at most as many sockets per origin as its concurrency: the
 * engine leases each call an agent capped at it from the layer's transport
 * (a few of them are kept, the least recently used is closed once its
 * requests are done). Calls of the same concurrency share an agent and its
 * keep-alive sockets.
 *
 * @internal
 */
import { Clump, type Options, type RequestMap, type RequestResponse } from "@loamy/core"
import * as Effect from "effect/Effect"
import type * as HttpClient from "effect/http/HttpClient"
import type * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as UndiciHttpClient from "../UndiciHttpClient.js"

type Services = typeof UndiciHttpClient.layer extends Layer.Layer<infer A> ? A : never

type Runtime = ManagedRuntime.ManagedRuntime<Services, never>

let current: Runtime | undefined
let hooked = false

const hook = (): void => {
  if (hooked) return
  hooked = true
  // Idle sockets do not hold the process open, so this runs once the caller is done; it closes the agents.
  process.on("beforeExit", () => {
    void dispose()
  })
}

/** @internal */
export const runtime = (): Runtime => {
  if (current === undefined) {
    current = ManagedRuntime.make(UndiciHttpClient.layer)
    hook()
  }
  return current
}

/** @internal */
export const dispose = async (): Promise<void> => {
  const closing = current
  current = undefined
  await closing?.dispose()
}

/**
 * The batch as the doors run it: the core leases it an agent capped at the
 * call's concurrency from the layer's transport. Effect's tracer is off:
 * callers of these doors cannot install one, so spans would be built for
 * nobody.
 *
 * @internal
 */
export const send = (
  requests: Iterable<RequestMap.RequestMapInput>,
  options: Clump.Options | Options.Resolved
): Effect.Effect<ReadonlyArray<RequestResponse.RequestResponse>, unknown, HttpClient.HttpClient> =>
  Effect.withTracerEnabled(Clump.send(Clump.make(requests, options)), false)
