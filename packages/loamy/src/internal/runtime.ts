/**
 * The one Effect runtime per thread that the plain-function doors run on,
 * and the undici agents it sends through: kept alive between calls, closed
 * when the process is about to exit (or when `dispose` is called).
 *
 * A call opens at most as many sockets per origin as its concurrency: each
 * distinct concurrency gets an agent of its own, capped at it (a few of them
 * are kept, the least recently used is closed once its requests are done).
 * Calls of the same concurrency share an agent and its keep-alive sockets.
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import { Clump, type Options, type RequestMap, type RequestResponse } from "@loamy/core"
import * as Effect from "effect/Effect"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as UndiciHttpClient from "../UndiciHttpClient.js"

type Runtime = ManagedRuntime.ManagedRuntime<HttpClient.HttpClient | UndiciHttpClient.UndiciDispatcher, never>

/** The core's default concurrency (the original's effective limit). */
const defaultConcurrency = 100

let current: Runtime | undefined
let hooked = false

/** The agents the doors send through, each capped at a call's concurrency. */
let agents: UndiciHttpClient.CappedAgents | undefined

/** @internal */
export type Capped = UndiciHttpClient.Capped

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
    current = ManagedRuntime.make(UndiciHttpClient.layerWith({ connections: defaultConcurrency }))
    hook()
  }
  return current
}

/**
 * The agent (and its client) that opens at most `concurrency` sockets per
 * origin, counted as used until `release`.
 *
 * @internal
 */
export const acquire = (concurrency: number): Capped => {
  hook()
  agents ??= new UndiciHttpClient.CappedAgents({})
  return agents.acquire(concurrency)
}

/** @internal */
export const release = (entry: Capped): void => {
  agents?.release(entry)
}

/** @internal */
export const dispose = async (): Promise<void> => {
  const runtime = current
  const closing = agents
  current = undefined
  agents = undefined
  await Promise.all([runtime?.dispose(), closing?.close()])
}

/** The concurrency a call runs at; the core refuses a bad one itself, the default agent serves it meanwhile. */
const concurrencyOf = (options: Clump.Options | Options.Resolved): number => {
  const concurrency = (options as { readonly concurrency?: unknown } | undefined)?.concurrency
  return typeof concurrency === "number" && Number.isSafeInteger(concurrency) && concurrency > 0
    ? concurrency
    : defaultConcurrency
}

/**
 * The batch as the doors run it, on an agent capped at the call's
 * concurrency. Effect's tracer is off: callers of these doors cannot install
 * one, so spans would be built for nobody.
 *
 * @internal
 */
export const send = (
  requests: Iterable<unknown>,
  options: Clump.Options | Options.Resolved
): Effect.Effect<ReadonlyArray<RequestResponse.RequestResponse>, unknown, HttpClient.HttpClient> =>
  onCapped(concurrencyOf(options), Clump.send(Clump.make(requests as Iterable<RequestMap.RequestMapInput>, options)))

const onCapped = <A, E, R>(concurrency: number, self: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const entry = acquire(concurrency)
    return Effect.ensuring(
      Effect.provideService(Effect.withTracerEnabled(self, false), HttpClient.HttpClient, entry.client),
      Effect.sync(() => release(entry))
    )
  })
