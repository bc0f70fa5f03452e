// One benchmark scenario in a process of its own (so peak RSS is the client's own), against the
// loopback test server at $BENCH_URL. Prints one JSON line. Run by bench/run.js.
import http from "node:http"
import { createRequire } from "node:module"
import { pathToFileURL } from "node:url"
import { pool } from "./pool.js"

const [kind, name, concurrencyArg] = process.argv.slice(2)
const url = process.env.BENCH_URL
const concurrency = Number(concurrencyArg ?? 1)
const N = Number(process.env.BENCH_N ?? 10_000)
const target = `${url}/`
const require = createRequire(import.meta.url)
// $BENCH_LOAMY: another checkout's packages/loamy (built), for the latency and first-call rows of an earlier version.
const loamyDir = process.env.BENCH_LOAMY
const loamyEntry = loamyDir ? pathToFileURL(`${loamyDir}/dist/index.js`).href : "loamy"

const throughputClients = {
  async undici() {
    const { Agent, request } = await import("undici")
    const dispatcher = new Agent()
    return (n) => pool(concurrency, n, async () => (await request(target, { dispatcher })).body.json())
  },
  async fetch() {
    return (n) => pool(concurrency, n, async () => (await fetch(target)).json())
  },
  async axios() {
    const axios = (await import("axios")).default
    const httpAgent = new http.Agent({ keepAlive: true, maxSockets: concurrency })
    return (n) => pool(concurrency, n, () => axios.get(target, { httpAgent }))
  },
  async got() {
    const got = (await import("got")).default
    const agent = { http: new http.Agent({ keepAlive: true, maxSockets: concurrency }) }
    return (n) => pool(concurrency, n, () => got(target, { agent }).json())
  },
  async stock() {
    const { Clump } = await import("@loamy/core")
    const { NodeHttpClient } = await import("@effect/platform-node")
    const { ManagedRuntime } = await import("effect")
    const runtime = ManagedRuntime.make(NodeHttpClient.layerUndici)
    return (n) => runtime.runPromise(Clump.send(Clump.make(batch(n), { concurrency })))
  },
  async layer() {
    const { Clump } = await import("@loamy/core")
    const UndiciHttpClient = await import("loamy/UndiciHttpClient")
    const { ManagedRuntime } = await import("effect")
    const runtime = ManagedRuntime.make(UndiciHttpClient.layer)
    return (n) => runtime.runPromise(Clump.send(Clump.make(batch(n), { concurrency })))
  },
  async promise() {
    const { sendRequests } = await import("loamy")
    return (n) => sendRequests(batch(n), { concurrency })
  },
  async sync() {
    const { sendRequestsSync } = await import("loamy")
    return async (n) => sendRequestsSync(batch(n), { concurrency })
  }
}

const batch = (n) => Array.from({ length: n }, () => ({ url: target, httpOp: "GET" }))

const latencyClients = {
  async undici() {
    const { Agent, request } = await import("undici")
    const dispatcher = new Agent()
    return async () => (await request(target, { dispatcher })).body.json()
  },
  async sync() {
    const { sendRequestsSync } = await import(loamyEntry)
    const one = [{ url: target, httpOp: "GET" }]
    return async () => sendRequestsSync(one)
  },
  async promise() {
    const { sendRequests } = await import("loamy")
    const one = [{ url: target, httpOp: "GET" }]
    return () => sendRequests(one)
  },
  async "sync-fetch"() {
    const fetchSync = require("sync-fetch")
    return async () => fetchSync(target).json()
  },
  async synckit() {
    const { createSyncFn } = await import("synckit")
    const get = createSyncFn(new URL("./synckit-worker.mjs", import.meta.url), { timeout: 30_000 })
    return async () => get(target)
  }
}

const cpu = () => {
  const { user, system } = process.cpuUsage()
  return user + system
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const out = { kind, name, concurrency }
if (kind === "throughput") {
  const run = await throughputClients[name]()
  await run(Math.min(2_000, N))
  const runs = []
  const reps = Number(process.env.BENCH_REPS ?? 3)
  for (let i = 0; i < reps; i++) {
    const c0 = cpu()
    const t0 = performance.now()
    await run(N)
    const ms = performance.now() - t0
    runs.push({ rps: (N / ms) * 1000, cpuUs: (cpu() - c0) / N })
  }
  runs.sort((a, b) => a.rps - b.rps)
  Object.assign(out, runs[Math.floor(runs.length / 2)])
} else if (kind === "latency") {
  const one = await latencyClients[name]()
  const iterations = name === "sync-fetch" ? 15 : 1_000
  for (let i = 0; i < Math.min(100, iterations); i++) await one()
  const times = []
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now()
    await one()
    times.push((performance.now() - t0) * 1000)
  }
  out.medianUs = median(times)
  out.meanUs = times.reduce((a, b) => a + b, 0) / times.length
} else if (kind === "first") {
  const t0 = performance.now()
  const { sendRequestsSync } = await import(loamyEntry)
  const t1 = performance.now()
  if (process.env.BENCH_WORKER_URL) {
    // The packed package's layout: the worker entry next to its one-file bundle.
    const { config } = await import(loamyDir ? pathToFileURL(`${loamyDir}/dist/internal/sync.js`).href : "../packages/loamy/dist/internal/sync.js")
    config.workerUrl = new URL(process.env.BENCH_WORKER_URL)
  }
  sendRequestsSync([{ url: target, httpOp: "GET" }])
  out.importMs = t1 - t0
  out.firstCallMs = performance.now() - t1
}
out.peakRssMB = process.resourceUsage().maxRSS / 1024
process.stdout.write(`${JSON.stringify(out)}\n`)
process.exit(0)
