/**
 * undici agents: how one is made from the layer's options, and the agents
 * capped at a call's concurrency that the transport leases to each call.
 *
 * @internal
 */
import { Agent } from "undici"
import type { AgentOptions } from "../UndiciHttpClient.js"
import { skippingContinue } from "./continue.js"
import { makeH2Agent } from "./http2.js"
import { Proxies } from "./proxies.js"

/**
 * An agent with keep-alive whose sockets skip an unsolicited `100 Continue`.
 * Timeouts are left to Effect and the engine (`timeout`, `deadline`), so
 * undici's own header and body timeouts are off. The caller closes it.
 * With `allowH2`, an agent that makes one HTTP/2 connection carry the
 * requests to an origin that speaks it (see `http2.ts`).
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
    connect: skippingContinue(withCa(options), allowH2)
  }
  if (options.connections !== undefined) agentOptions.connections = options.connections
  if (options.pipelining !== undefined) agentOptions.pipelining = options.pipelining
  return allowH2 ? makeH2Agent(agentOptions, options.connections) : new Agent(agentOptions)
}

/** The agent's `connect` with its `ca` in it: `ca` wins over `connect.ca`; a connector of the caller's is kept as it is. */
export const withCa = (options: AgentOptions): AgentOptions["connect"] => {
  const { ca, connect } = options
  if (ca === undefined || typeof connect === "function") return connect
  return connect === undefined || connect === null ? { ca } : { ...connect, ca }
}

/**
 * What makes a call's agent differ from the layer's, besides its cap: HTTP/2
 * and the CAs to trust.
 *
 * @internal
 */
export interface Variant {
  readonly http2: boolean
  readonly ca: string | undefined
}

/** The layer's own settings: no variant. @internal */
export const plain: Variant = { http2: false, ca: undefined }

/**
 * An agent capped at one concurrency, and the dispatchers through proxies
 * capped alike.
 *
 * @internal
 */
export interface Capped {
  /** Its key among the capped agents: the cap, with the variant when there is one. */
  readonly key: number | string
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
  /** By key (the cap, and the variant when there is one), least recently used first. */
  private readonly entries = new Map<number | string, Capped>()
  private closed = false
  constructor(private readonly options: AgentOptions, private readonly max = 4) {}

  /**
   * The agent that opens at most `connections` sockets per origin (with
   * HTTP/2 and the CAs of `variant`), in use until `release`; undefined once
   * closed.
   */
  acquire(connections: number, variant: Variant = plain): Capped | undefined {
    // The common case keys by the number alone: nothing made per call.
    const key = variant === plain ? connections : `${connections}\n${variant.http2}\n${variant.ca ?? ""}`
    let entry = this.entries.get(key)
    if (entry !== undefined) {
      this.entries.delete(key)
    } else {
      if (this.closed) return undefined
      const options: AgentOptions = variant === plain
        ? { ...this.options, connections }
        : { ...this.options, connections, allowH2: variant.http2 || this.options.allowH2, ...caOf(variant) }
      entry = { key, connections, agent: makeAgentUnsafe(options), proxies: new Proxies(options), active: 0 }
      // Too many kept: close the least recently used that no call is running on.
      for (const other of this.entries.values()) {
        if (this.entries.size < this.max) break
        if (other.active === 0) {
          this.entries.delete(other.key)
          void other.agent.close().catch(() => undefined)
          void other.proxies.close()
        }
      }
    }
    this.entries.set(key, entry)
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

/** A variant's CAs as agent options: none when it has none (the layer's own stay). */
const caOf = (variant: Variant): { readonly ca?: string } => (variant.ca === undefined ? {} : { ca: variant.ca })
