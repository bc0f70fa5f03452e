/**
 * HTTP/2 on undici agents (`allowH2`, the `http2` option): what it takes for
 * one connection to carry many requests to an origin that speaks it.
 *
 * undici learns an origin's protocol only when a connection is made (ALPN),
 * and until then its pool takes a connecting client for a busy one: a burst
 * of requests to a new origin opens a connection per request, each of which
 * then speaks HTTP/2 on its own. And a client that learnt it speaks HTTP/2
 * still runs one request at a time unless its `pipelining` says more. So an
 * agent made for HTTP/2 here
 * - makes clients that raise their `pipelining` once their connection turned
 *   out to be HTTP/2 (an HTTP/1.1 connection keeps one request at a time:
 *   pipelining HTTP/1.1 is not what anyone asked for), and
 * - has an `OriginGate`: the first request to an origin with no connection
 *   goes at once and the others wait until that connection is made (or
 *   fails, or that request ends), then go together: over the one HTTP/2
 *   connection, or over as many HTTP/1.1 connections as the cap allows.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import { Agent, type buildConnector, Client, Pool } from "undici"

type Resume = (effect: Effect.Effect<void>) => void

/**
 * Per origin: connections open (a number), or the requests waiting for the
 * first connection (an array). Absent: no connection and none being made.
 *
 * @internal
 */
export class OriginGate {
  private readonly origins = new Map<string, number | Array<Resume>>()

  constructor(agent: Agent) {
    agent.on("connect", (origin) => this.connected(origin.origin))
    agent.on("disconnect", (origin) => this.disconnected(origin.origin))
    agent.on("connectionError", (origin) => this.open(origin.origin, 0))
  }

  /**
   * Runs `send` at once when `origin` has a connection, or when it is the
   * first request to it (it makes the connection); otherwise once the first
   * has one. `done` is called when the first request has its answer (or
   * failed, or was interrupted): whatever happened, the others then go.
   */
  through<A, E>(origin: string, send: (done: (() => void) | undefined) => Effect.Effect<A, E>): Effect.Effect<A, E> {
    const state = this.origins.get(origin)
    if (typeof state === "number") return send(undefined)
    if (state === undefined) {
      this.origins.set(origin, [])
      return send(() => this.open(origin, 0))
    }
    return Effect.andThen(this.wait(state), Effect.suspend(() => this.through(origin, send)))
  }

  private wait(waiting: Array<Resume>): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      waiting.push(resume)
      return Effect.sync(() => {
        const at = waiting.indexOf(resume)
        if (at >= 0) waiting.splice(at, 1)
      })
    })
  }

  private connected(origin: string): void {
    const state = this.origins.get(origin)
    if (typeof state === "number") return void this.origins.set(origin, state + 1)
    this.open(origin, 1)
  }

  private disconnected(origin: string): void {
    const state = this.origins.get(origin)
    if (typeof state !== "number") return
    // No connection left: the next burst waits for a first connection again.
    if (state <= 1) this.origins.delete(origin)
    else this.origins.set(origin, state - 1)
  }

  /** The waiting requests go; `connections` open (0 when the first attempt failed or ended without one). */
  private open(origin: string, connections: number): void {
    const state = this.origins.get(origin)
    if (typeof state === "number") return
    if (connections === 0) this.origins.delete(origin)
    else this.origins.set(origin, connections)
    // On the next turn: undici marks the new connection's client ready to take more (its `drain`) after the
    // `connect` event, and a request that came before would open a connection of its own.
    if (state !== undefined && state.length > 0) setImmediate(() => {
      for (const resume of state) resume(Effect.void)
    })
  }
}

const gates = new WeakMap<object, OriginGate>()

/** The gate of an agent made for HTTP/2, if it is one. @internal */
export const gateOf = (agent: object): OriginGate | undefined => gates.get(agent)

/**
 * The `factory` of an agent for HTTP/2: a pool per origin whose clients run
 * up to `streams` requests at once on an HTTP/2 connection. `connect` is the
 * agent's connector.
 */
const factory = (streams: number) => (origin: URL | string, options: object): Pool =>
  new Pool(origin, { ...options, factory: (at: URL | string, clientOptions: Client.Options) => client(at, clientOptions, streams) })

const client = (origin: URL | string, options: Client.Options, streams: number): Client => {
  const connect = options.connect
  // A pool hands its clients its connector (made from the agent's `connect`).
  if (typeof connect !== "function") return new Client(origin, options)
  let h2 = false
  const base: buildConnector.connector = connect
  const made = new Client(origin, {
    ...options,
    connect: (connectOptions, callback) =>
      base(connectOptions, (...args) => {
        const socket = args[0] === null ? args[1] : undefined
        h2 = socket != null && "alpnProtocol" in socket && socket.alpnProtocol === "h2"
        callback(...args)
      })
  })
  made.on("connect", () => {
    if (h2) made.pipelining = streams
  })
  return made
}

/**
 * An agent that offers HTTP/2 (see the module's comment), with its gate.
 * `connections` is its cap per origin: the requests one HTTP/2 connection
 * carries at once.
 *
 * @internal
 */
export const makeH2Agent = (options: Agent.Options, connections: number | undefined): Agent => {
  const streams = connections === undefined || !Number.isFinite(connections) ? 1000 : Math.max(1, connections)
  const agent = new Agent({ ...options, allowH2: true, factory: factory(streams) })
  gates.set(agent, new OriginGate(agent))
  return agent
}
