// `npm run bench:young-gen`: what V8's young generation size does to loamy at many requests in flight. Each run is
// a fresh process (`node --max-semi-space-size=S`) that sends 3 × 10,000 GETs through the Promise door (after a
// 10,000-request warm-up) to the test server in a process of its own, next to raw `undici.request` at the same
// concurrency in the same process set-up; sizes and clients alternate in rounds so drift hits them alike.
// Prints the median req/s, CPU µs per request and peak RSS of each, and each door's ratio to raw undici at the
// same size.
//
//   npm run bench:young-gen
//   ROUNDS=3 SIZES=16,32 CONCURRENCY=256 node bench/young-gen.js
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"

const self = fileURLToPath(import.meta.url)
const root = fileURLToPath(new URL("..", import.meta.url))

if (process.argv[2] === "--child") {
  const [client, concurrency] = [process.argv[3], Number(process.argv[4])]
  const url = process.env.BENCH_URL
  const N = 10_000
  let send
  if (client === "undici") {
    const { Agent, request } = await import("undici")
    const dispatcher = new Agent({ connections: concurrency })
    send = async () => {
      let next = 0
      const loop = async () => {
        while (next++ < N) await (await request(`${url}/`, { dispatcher })).body.json()
      }
      await Promise.all(Array.from({ length: concurrency }, loop))
    }
  } else {
    const { sendRequests } = await import("loamy")
    const batch = Array.from({ length: N }, () => ({ url: `${url}/`, httpOp: "GET" }))
    send = () => sendRequests(batch, { concurrency })
  }
  await send()
  const cpu = process.cpuUsage()
  const started = performance.now()
  for (let i = 0; i < 3; i++) await send()
  const ms = performance.now() - started
  const used = process.cpuUsage(cpu)
  const { readFileSync } = await import("node:fs")
  const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))
  console.log(JSON.stringify({ rps: (3 * N * 1000) / ms, cpuUs: (used.user + used.system) / (3 * N), rssMb: hwm ? Number(hwm[1]) / 1024 : undefined }))
  process.exit(0)
}

const { startProcess } = await import("@loamy/test-server")
const server = await startProcess()
const rounds = Number(process.env.ROUNDS ?? 5)
const sizes = (process.env.SIZES ?? "16,32,64").split(",").map(Number)
const concurrencies = (process.env.CONCURRENCY ?? "64,256").split(",").map(Number)
const clients = ["undici", "loamy"]
const run = (client, concurrency, semi) =>
  new Promise((resolve, reject) =>
    execFile(process.execPath, [`--max-semi-space-size=${semi}`, self, "--child", client, String(concurrency)], {
      cwd: root,
      env: { ...process.env, BENCH_URL: server.url },
      timeout: 120_000
    }, (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(JSON.parse(stdout))))
  )
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
try {
  console.log(`Node ${process.version}, ${rounds} rounds, 3 × 10,000 GETs per run (median)\n`)
  for (const concurrency of concurrencies) {
    const results = new Map()
    for (let round = 0; round < rounds; round++) {
      for (const semi of round % 2 === 0 ? sizes : [...sizes].reverse()) {
        for (const client of round % 2 === 0 ? clients : [...clients].reverse()) {
          const key = `${client} ${semi}`
          if (!results.has(key)) results.set(key, [])
          results.get(key).push(await run(client, concurrency, semi))
        }
      }
    }
    console.log(`concurrency ${concurrency}`)
    console.log(`${"client".padEnd(10)}${"semi MB".padStart(8)}${"req/s".padStart(9)}${"CPU µs/req".padStart(12)}${"peak RSS MB".padStart(13)}${"× undici".padStart(10)}`)
    for (const semi of sizes) {
      const base = median(results.get(`undici ${semi}`).map((r) => r.rps))
      for (const client of clients) {
        const rs = results.get(`${client} ${semi}`)
        const rps = median(rs.map((r) => r.rps))
        console.log(
          `${client.padEnd(10)}${String(semi).padStart(8)}${rps.toFixed(0).padStart(9)}` +
            `${median(rs.map((r) => r.cpuUs)).toFixed(1).padStart(12)}${median(rs.map((r) => r.rssMb)).toFixed(0).padStart(13)}` +
            `${(rps / base).toFixed(2).padStart(10)}`
        )
      }
    }
    console.log("")
  }
} finally {
  await server.close()
}
