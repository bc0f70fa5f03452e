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
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import type { Dispatcher } from "undici"
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

const cappedAgents = (): UndiciHttpClient.CappedAgents => {
  hook()
  return agents ??= new UndiciHttpClient.CappedAgents({})
}

/**
 * The runtime's client: each call of the core runs on an agent capped at
 * its concurrency, as on `UndiciHttpClient.layer` (the core decides the cap);
 * anything else on an agent of the default concurrency.
 */
const layer = Layer.scopedContext(Effect.gen(function*() {
  const agent = yield* UndiciHttpClient.makeAgent({ connections: defaultConcurrency })
  const proxies = yield* Effect.acquireRelease(
    Effect.sync(() => UndiciHttpClient.unsafeMakeProxies({ connections: defaultConcurrency })),
    (proxies) => Effect.promise(() => proxies.close())
  )
  const client = UndiciHttpClient.unsafeMakeOnCapped(agent, proxies, cappedAgents())
  return Context.make(UndiciHttpClient.UndiciDispatcher, agent as Dispatcher).pipe(
    Context.add(HttpClient.HttpClient, client)
  )
}))

/** @internal */
export const runtime = (): Runtime => {
  if (current === undefined) {
    current = ManagedRuntime.make(layer)
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
export const acquire = (concurrency: number): Capped => cappedAgents().acquire(concurrency)

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

/**
 * The batch as the doors run it: the core runs it on an agent capped at the
 * call's concurrency (see `layer`). Effect's tracer is off: callers of these
 * doors cannot install one, so spans would be built for nobody.
 *
 * @internal
 */
export const send = (
  requests: Iterable<unknown>,
  options: Clump.Options | Options.Resolved
): Effect.Effect<ReadonlyArray<RequestResponse.RequestResponse>, unknown, HttpClient.HttpClient> =>
  Effect.withTracerEnabled(Clump.send(Clump.make(requests as Iterable<RequestMap.RequestMapInput>, options)), false)
