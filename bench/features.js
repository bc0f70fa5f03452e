// `npm run bench:features`: what progress reports and per-origin bounds cost. The Promise door sends 10,000
// GETs over the loopback test server's two origins (in a process of its own), in rounds that alternate the
// variants so that drift of the machine hits them alike: plain, with `onProgress` (every 100 ms), and with
// `concurrencyPerOrigin` at half the concurrency (each origin at its bound, the pool full). Prints the median
// throughput and CPU per request of each, and the ratios to plain; the goal is a cost under 3 %.
import { spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const server = spawn(process.execPath, ["packages/test-server/dist/main.js", "--exit-with-stdin"], {
  cwd: root,
  stdio: ["pipe", "pipe", "inherit"]
})
const { url, otherUrl } = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("test server did not start")), 10_000)
  server.stdout.once("data", (data) => {
    clearTimeout(timer)
    resolve(JSON.parse(String(data)))
  })
})

const { sendRequests, close } = await import("loamy")
const N = Number(process.env.BENCH_N ?? 10_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7)
const batch = Array.from({ length: N }, (_, i) => ({ url: `${i % 2 === 0 ? url : otherUrl}/`, httpOp: "GET" }))

const variants = {
  plain: (concurrency) => ({ concurrency }),
  onProgress: (concurrency) => {
    let reports = 0
    return { concurrency, progressInterval: 100, onProgress: () => void reports++ }
  },
  concurrencyPerOrigin: (concurrency) => ({ concurrency, concurrencyPerOrigin: concurrency / 2 })
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

console.log(`Node ${process.version}, ${N} GETs over 2 origins per run, ${ROUNDS} rounds alternating the variants (median)\n`)
for (const concurrency of [64, 256]) {
  const results = Object.fromEntries(Object.keys(variants).map((name) => [name, { rps: [], cpuUs: [] }]))
  // Warm-up: every variant once.
  for (const make of Object.values(variants)) await sendRequests(batch, make(concurrency))
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order each round as well.
    const names = Object.keys(variants)
    const order = names.map((_, i) => names[(i + round) % names.length])
    for (const name of order) {
      const cpu = process.cpuUsage()
      const start = performance.now()
      const responses = await sendRequests(batch, variants[name](concurrency))
      const ms = performance.now() - start
      const used = process.cpuUsage(cpu)
      const failed = responses.filter((r) => r.error !== undefined).length
      if (failed > 0) throw new Error(`${name}: ${failed} requests failed`)
      results[name].rps.push((N * 1000) / ms)
      results[name].cpuUs.push((used.user + used.system) / N)
    }
  }
  console.log(`concurrency ${concurrency}`)
  console.log(`${"variant".padEnd(24)}${"req/s".padStart(9)}${"× plain".padStart(9)}${"CPU µs/req".padStart(12)}${"× plain".padStart(9)}`)
  const base = { rps: median(results.plain.rps), cpuUs: median(results.plain.cpuUs) }
  for (const [name, r] of Object.entries(results)) {
    const rps = median(r.rps)
    const cpuUs = median(r.cpuUs)
    console.log(
      `${name.padEnd(24)}${rps.toFixed(0).padStart(9)}${(rps / base.rps).toFixed(3).padStart(9)}` +
        `${cpuUs.toFixed(1).padStart(12)}${(cpuUs / base.cpuUs).toFixed(3).padStart(9)}`
    )
  }
  console.log("")
}
await close()
server.stdin.end()
