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
import type { Agent } from "undici"
import * as UndiciHttpClient from "../UndiciHttpClient.js"

type Runtime = ManagedRuntime.ManagedRuntime<HttpClient.HttpClient | UndiciHttpClient.UndiciDispatcher, never>

/** The core's default concurrency (the original's effective limit). */
const defaultConcurrency = 100

/** How many capped agents a thread keeps at once. */
const maxAgents = 4

let current: Runtime | undefined
let hooked = false

/** @internal */
export interface Capped {
  readonly connections: number
  readonly agent: Agent
  /** The dispatchers through proxies (the `proxy` option), capped alike; made on first use. */
  readonly proxies: UndiciHttpClient.Proxies
  readonly client: HttpClient.HttpClient
  /** Calls running on it: an agent is closed only when none is. */
  active: number
}

/** By connections cap, least recently used first. */
const capped = new Map<number, Capped>()

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
  let entry = capped.get(concurrency)
  if (entry !== undefined) {
    capped.delete(concurrency)
  } else {
    hook()
    const agent = UndiciHttpClient.unsafeMakeAgent({ connections: concurrency })
    const proxies = UndiciHttpClient.unsafeMakeProxies({ connections: concurrency })
    entry = {
      connections: concurrency,
      agent,
      proxies,
      client: UndiciHttpClient.unsafeMakeWithProxies(agent, proxies),
      active: 0
    }
    // Too many kept: close the least recently used that no call is running on.
    for (const other of capped.values()) {
      if (capped.size < maxAgents) break
      if (other.active === 0) {
        capped.delete(other.connections)
        void other.agent.close().catch(() => undefined)
        void other.proxies.close()
      }
    }
  }
  capped.set(concurrency, entry)
  entry.active++
  return entry
}

/** @internal */
export const release = (entry: Capped): void => {
  entry.active--
}

/** @internal */
export const dispose = async (): Promise<void> => {
  const runtime = current
  current = undefined
  const entries = Array.from(capped.values())
  capped.clear()
  await Promise.all([
    runtime?.dispose(),
    ...entries.map((entry) => entry.agent.destroy().catch(() => undefined)),
    ...entries.map((entry) => entry.proxies.close())
  ])
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
