/**
 * undici agents: how one is made from the layer's options, and the agents
 * capped at a call's concurrency that the transport leases to each call.
 *
 * @internal
 */
import { Agent } from "undici"
import type { AgentOptions } from "../UndiciHttpClient.js"
import { skippingContinue } from "./continue.js"
import { Proxies } from "./proxies.js"

/**
 * An agent with keep-alive whose sockets skip an unsolicited `100 Continue`.
 * Timeouts are left to Effect and the engine (`timeout`, `deadline`), so
 * undici's own header and body timeouts are off. The caller closes it.
 *
 * @internal
 */
export const makeAgentUnsafe = (options: AgentOptions): Agent => {
  const allowH2 = options.allowH2 ?? false
  const agentOptions: Agent.Options = {
    headersTimeout: 0,
    bodyTimeout: 0,
    keepAliveTimeout: options.keepAliveTimeout ?? 4_000,
    allowH2,
    connect: skippingContinue(options.connect, allowH2)
  }
  if (options.connections !== undefined) agentOptions.connections = options.connections
  if (options.pipelining !== undefined) agentOptions.pipelining = options.pipelining
  return new Agent(agentOptions)
}

/**
 * An agent capped at one concurrency, and the dispatchers through proxies
 * capped alike.
 *
 * @internal
 */
export interface Capped {
  readonly connections: number
  readonly agent: Agent
  /** The dispatchers through proxies (the `proxy` option), capped alike; made on first use. */
  readonly proxies: Proxies
  /** Calls running on it: an agent is closed only when none is. */
  active: number
}

/**
 * Agents capped at a call's concurrency, one per distinct concurrency, with
 * the same options otherwise. An uncapped agent opens about twice as many
 * sockets as there are requests in flight (a socket is taken for the next
 * request before undici has marked the last one's free), and throughput
 * falls with them. A few are kept; the least recently used is closed once
 * no call runs on it. Calls of one concurrency share an agent and its
 * keep-alive sockets.
 *
 * @internal
 */
export class CappedAgents {
  /** By connections cap, least recently used first. */
  private readonly entries = new Map<number, Capped>()
  private closed = false
  constructor(private readonly options: AgentOptions, private readonly max = 4) {}

  /**
   * The agent that opens at most `connections` sockets per origin, in use
   * until `release`; undefined once closed.
   */
  acquire(connections: number): Capped | undefined {
    let entry = this.entries.get(connections)
    if (entry !== undefined) {
      this.entries.delete(connections)
    } else {
      if (this.closed) return undefined
      const options: AgentOptions = { ...this.options, connections }
      entry = { connections, agent: makeAgentUnsafe(options), proxies: new Proxies(options), active: 0 }
      // Too many kept: close the least recently used that no call is running on.
      for (const other of this.entries.values()) {
        if (this.entries.size < this.max) break
        if (other.active === 0) {
          this.entries.delete(other.connections)
          void other.agent.close().catch(() => undefined)
          void other.proxies.close()
        }
      }
    }
    this.entries.set(connections, entry)
    entry.active++
    return entry
  }

  release(entry: Capped): void {
    entry.active--
  }

  /** Destroys every agent, in use or not. */
  close(): Promise<void> {
    const entries = this.take()
    return Promise.all([
      ...entries.map((entry) => entry.agent.destroy().catch(() => undefined)),
      ...entries.map((entry) => entry.proxies.close())
    ]).then(() => undefined)
  }

  /** Destroys every agent at once, failing the requests they have in flight with `error`. */
  destroy(error: Error): void {
    for (const entry of this.take()) {
      void entry.agent.destroy(error).catch(() => undefined)
      entry.proxies.destroy(error)
    }
  }

  private take(): Array<Capped> {
    this.closed = true
    const entries = Array.from(this.entries.values())
    this.entries.clear()
    return entries
  }
}
