/**
 * Vitest setup file (every project's `setupFiles`): installs the DNS guard in the
 * test process, hands it to child processes and worker threads via NODE_OPTIONS,
 * and fails any test during which a non-loopback, non-`.invalid` name was resolved
 * (even if the client under test folded the guard's error into a result).
 */
import { afterEach } from "vitest"
import { BroadcastChannel } from "node:worker_threads"
import { channelName, forbidden } from "./dns-guard.mjs"

const preload = `--import=${new URL("./dns-guard.mjs", import.meta.url).href}`
const current = process.env.NODE_OPTIONS ?? ""
if (!current.includes(preload)) process.env.NODE_OPTIONS = `${current} ${preload}`.trim()

// Names refused in worker threads (the sync door's worker) count as this test's too.
const channel = new BroadcastChannel(channelName)
channel.onmessage = (event) => forbidden.push(String(event.data))
channel.unref()

afterEach(() => {
  if (forbidden.length > 0) {
    const names = forbidden.splice(0)
    throw new Error(`This test tried to resolve ${names.map((n) => JSON.stringify(n)).join(", ")}: tests must not leave the machine`)
  }
})
