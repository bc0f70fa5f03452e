// `npm run bench:paired`: the doors and raw undici in one process, in rounds that alternate them (the order
// rotated each round), so that this VM's drift (a third within minutes) hits them alike. 10,000 GETs of the
// loopback test server's small JSON body per run (the server in a process of its own), at concurrency 64 and
// 256, after a warm-up run of each. Prints each variant's median throughput and CPU per request, and the
// median of its per-round ratios to raw undici in the same round ("paired"). `bench/run.js` measures each
// client in a process of its own instead (peak RSS too); this one is the steadier ratio.
//
//   BENCH_ROUNDS=9 node bench/paired.js       more rounds (default 7)
import { startProcess } from "@loamy/test-server"
import { pool } from "./pool.js"

const server = await startProcess()
const target = `${server.url}/`
const N = Number(process.env.BENCH_N ?? 10_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7)

const { Agent, request } = await import("undici")
const { Effect, ManagedRuntime, Stream } = await import("effect")
const { Clump } = await import("@loamy/core")
const UndiciHttpClient = await import("loamy/UndiciHttpClient")
const { sendRequests, sendRequestsSync, close } = await import("loamy")

const batch = Array.from({ length: N }, () => ({ url: target, httpOp: "GET" }))
const runtime = ManagedRuntime.make(UndiciHttpClient.layer)
const rawAgent = new Agent()

/** Each variant sends the batch once and resolves with how many responses failed. */
const variants = {
  "undici.request (raw)": async (concurrency) => {
    await pool(concurrency, N, async () => (await request(target, { dispatcher: rawAgent })).body.json())
    return 0
  },
  "Clump.send (layer)": async (concurrency) =>
    (await runtime.runPromise(Clump.send(Clump.make(batch, { concurrency })))).filter((r) => r.error).length,
  "Clump.stream (layer)": async (concurrency) => {
    let failed = 0
    // Consumed a chunk at a time: an effect per element would measure the consumer, not the stream.
    await runtime.runPromise(
      Stream.runForEachArray(Clump.stream(Clump.make(batch, { concurrency })), (chunk) =>
        Effect.sync(() => {
          for (const { response } of chunk) if (response.error) failed++
        }))
    )
    return failed
  },
  "sendRequests (Promise)": async (concurrency) =>
    (await sendRequests(batch, { concurrency })).filter((r) => r.error).length,
  "sendRequestsSync (10k call)": async (concurrency) =>
    sendRequestsSync(batch, { concurrency }).filter((r) => r.error).length
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const names = Object.keys(variants)
const raw = names[0]

console.log(`Node ${process.version}, ${N} GETs per run, ${ROUNDS} rounds alternating the variants (medians)\n`)
try {
  for (const concurrency of [64, 256]) {
    const results = Object.fromEntries(names.map((name) => [name, { rps: [], cpuUs: [] }]))
    for (const name of names) await variants[name](concurrency)
    for (let round = 0; round < ROUNDS; round++) {
      const order = names.map((_, i) => names[(i + round) % names.length])
      for (const name of order) {
        const cpu = process.cpuUsage()
        const start = performance.now()
        const failed = await variants[name](concurrency)
        const ms = performance.now() - start
        const used = process.cpuUsage(cpu)
        if (failed > 0) throw new Error(`${name}: ${failed} requests failed`)
        results[name].rps.push((N * 1000) / ms)
        results[name].cpuUs.push((used.user + used.system) / N)
      }
    }
    console.log(`concurrency ${concurrency}`)
    console.log(`${"variant".padEnd(30)}${"req/s".padStart(9)}${"paired".padStart(9)}${"CPU µs/req".padStart(12)}${"paired".padStart(9)}`)
    for (const name of names) {
      const r = results[name]
      const rps = median(r.rps.map((x, i) => x / results[raw].rps[i]))
      const cpu = median(r.cpuUs.map((x, i) => x / results[raw].cpuUs[i]))
      console.log(
        `${name.padEnd(30)}${median(r.rps).toFixed(0).padStart(9)}${rps.toFixed(2).padStart(9)}` +
          `${median(r.cpuUs).toFixed(1).padStart(12)}${cpu.toFixed(2).padStart(9)}`
      )
    }
    console.log("")
  }
} finally {
  await runtime.dispose()
  await rawAgent.close()
  await close()
  await server.close()
}
