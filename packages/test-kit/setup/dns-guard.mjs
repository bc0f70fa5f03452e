/**
 * Tests never leave the machine: this module replaces name resolution in the
 * process (or worker thread) that loads it.
 *
 * - names ending in `.invalid` fail the way the system resolver fails them
 *   (`ENOTFOUND`, `errno`, `syscall: "getaddrinfo"`, `hostname`), without a query;
 * - loopback addresses (`127.x.x.x`, `::1`) resolve normally (no query is made for an
 *   address), and `localhost` is answered here (127.0.0.1, then ::1), never asking
 *   the system's resolver, which could ask the network when /etc/hosts lacks it;
 * - any other name throws: a test tried to resolve it, and it must not.
 *
 * It patches `dns.lookup` and `dns.promises.lookup` on the built-in modules
 * (net, http and undici call `dns.lookup` at connect time) and re-syncs the
 * ESM named exports. Loaded three ways, always this file:
 * - in Vitest's test processes by `dns-guard-setup.mjs` beside it (every project's `setupFiles`),
 * - in child processes and worker threads by `NODE_OPTIONS=--import <this file>`,
 *   which that setup file puts in `process.env` (children inherit it, and a
 *   worker thread reads `NODE_OPTIONS` from its env even when started with
 *   `execArgv: []`, as the sync door's worker is).
 */
import dns from "node:dns"
import dnsPromises from "node:dns/promises"
import { isIP } from "node:net"
import { syncBuiltinESMExports } from "node:module"
import { BroadcastChannel, isMainThread } from "node:worker_threads"

const installed = Symbol.for("loamy.dnsGuard")

/** Every name a test tried to resolve that is neither loopback nor `.invalid`, in order. */
export const forbidden = globalThis[installed]?.forbidden ?? []

/** Worker threads report the names they refused on this channel. */
export const channelName = "loamy.dnsGuard.forbidden"

/** @param {string} hostname */
export const classify = (hostname) => {
  const name = String(hostname).toLowerCase().replace(/\.$/, "")
  if (name === "localhost") return "localhost"
  if (name === "::1" || name === "0:0:0:0:0:0:0:1") return "loopback"
  if (isIP(name) === 4 && name.startsWith("127.")) return "loopback"
  if (name === "invalid" || name.endsWith(".invalid")) return "invalid"
  return "forbidden"
}

/** The error getaddrinfo gives for a name that does not exist (libuv's UV_EAI_NONAME). */
export const notFound = (hostname) =>
  Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {
    errno: -3008,
    code: "ENOTFOUND",
    syscall: "getaddrinfo",
    hostname
  })

const refuse = (hostname) => {
  const error = new Error(
    `A test tried to resolve ${JSON.stringify(hostname)}: tests must not leave the machine ` +
      `(use 127.0.0.1, localhost or a name ending in .invalid)`
  )
  forbidden.push(String(hostname))
  // From a worker thread, tell the test process too (the setup file listens), so the test fails.
  if (!isMainThread) {
    const channel = new BroadcastChannel(channelName)
    channel.postMessage(String(hostname))
    channel.close()
  }
  process.stderr.write(`[dns-guard] ${error.message}\n`)
  return error
}

/** What `localhost` resolves to for these lookup options (a family number or an options object). */
const localhostAnswer = (options) => {
  const family = typeof options === "number" ? options : options?.family === "IPv4" ? 4 : options?.family === "IPv6" ? 6 : options?.family ?? 0
  const all = typeof options === "object" && options !== null && options.all === true
  const addresses = [{ address: "127.0.0.1", family: 4 }, { address: "::1", family: 6 }].filter(
    (a) => family === 0 || a.family === family
  )
  return { all, addresses }
}

if (globalThis[installed] === undefined) {
  const realLookup = dns.lookup
  const realPromisesLookup = dnsPromises.lookup

  const guardedLookup = function lookup(hostname, options, callback) {
    const cb = typeof options === "function" ? options : callback
    const kind = typeof hostname === "string" && hostname !== "" ? classify(hostname) : "loopback"
    if (kind === "loopback") return realLookup.apply(this, arguments)
    if (typeof cb !== "function") return realLookup.apply(this, arguments) // let Node report the misuse
    if (kind === "forbidden") throw refuse(hostname)
    if (kind === "localhost") {
      const answer = localhostAnswer(typeof options === "function" ? undefined : options)
      process.nextTick(() => (answer.all ? cb(null, answer.addresses) : cb(null, answer.addresses[0].address, answer.addresses[0].family)))
      return {}
    }
    const error = notFound(hostname)
    process.nextTick(() => cb(error))
    return {}
  }
  const guardedPromisesLookup = function lookup(hostname, options) {
    const kind = typeof hostname === "string" && hostname !== "" ? classify(hostname) : "loopback"
    if (kind === "loopback") return realPromisesLookup.call(this, hostname, options)
    if (kind === "forbidden") return Promise.reject(refuse(hostname))
    if (kind === "localhost") {
      const answer = localhostAnswer(options)
      return Promise.resolve(answer.all ? answer.addresses : answer.addresses[0])
    }
    return Promise.reject(notFound(hostname))
  }

  dns.lookup = guardedLookup
  dnsPromises.lookup = guardedPromisesLookup
  if (dns.promises !== dnsPromises) dns.promises.lookup = guardedPromisesLookup
  syncBuiltinESMExports()
  globalThis[installed] = { forbidden }
}
