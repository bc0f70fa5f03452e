// `npm run bench`: loamy against its peers on loopback. The test server runs in a process of its own,
// and so does every scenario. Bounded: each scenario gets at most 120 s.
import { startProcess } from "@loamy/test-server"
import { execFile, execFileSync } from "node:child_process"
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
// `node bench/run.js [throughput] [latency] [first]`: only those sections (default: all of them).
const sections = process.argv.slice(2)
for (const section of sections) {
  if (!["throughput", "latency", "first"].includes(section)) {
    console.error(`bench/run.js: unknown section ${section} (throughput, latency, first)`)
    process.exit(2)
  }
}
const runs = (section) => sections.length === 0 || sections.includes(section)
// $BENCH_BEFORE: another checkout of the repository (installed and built), whose sendRequestsSync gets a latency
// row and first-call rows of its own in the same run, for before/after comparisons.
const before = process.env.BENCH_BEFORE
const scenario = fileURLToPath(new URL("./scenario.js", import.meta.url))

// The test server in a process of its own (it exits with this one).
const server = await startProcess()
const url = server.url

const run = (...args) => runWith({}, ...args)
const runWith = (env, ...args) =>
  new Promise((resolve) => {
    execFile(process.execPath, [scenario, ...args], { cwd: root, env: { ...process.env, ...env, BENCH_URL: url }, timeout: 120_000 }, (error, stdout, stderr) => {
      if (error) {
        process.stderr.write(`${args.join(" ")} failed: ${error.message}\n${stderr}`)
        return resolve(undefined)
      }
      resolve(JSON.parse(stdout.trim().split("\n").pop()))
    })
  })

const labels = {
  undici: "undici.request (raw)",
  fetch: "fetch",
  axios: "axios",
  got: "got",
  stock: "core on NodeHttpClient.layerUndici",
  layer: "core on loamy/UndiciHttpClient",
  promise: "loamy sendRequests (Promise door)",
  sync: "loamy sendRequestsSync (one 10k call)"
}
const pad = (s, n) => String(s).padEnd(n)
const num = (x, digits = 0) => (x === undefined ? "-" : x.toFixed(digits)).padStart(8)

// Throughput in rounds: each round runs every client once (one measured run after a warm-up, in a process of
// its own), so that a client's ratio to raw undici compares runs made minutes apart at most, not a whole
// section apart; this VM's speed drifts by a third within minutes. $BENCH_ROUNDS, default 3.
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
if (runs("throughput")) console.log(`loopback server ${url}, Node ${process.version}, 10,000 GETs of a small JSON body per run, ${rounds} rounds of every client (medians; × raw is the median of the rounds' ratios)\n`)
else console.log(`loopback server ${url}, Node ${process.version}\n`)
const median = (xs) => {
  const sorted = xs.filter((x) => x !== undefined).sort((a, b) => a - b)
  return sorted.length === 0 ? undefined : sorted[Math.floor(sorted.length / 2)]
}
for (const concurrency of runs("throughput") ? [64, 256] : []) {
  const results = Object.fromEntries(Object.keys(labels).map((name) => [name, []]))
  for (let round = 0; round < rounds; round++) {
    for (const name of Object.keys(labels)) {
      results[name].push(await runWith({ BENCH_REPS: "1" }, "throughput", name, String(concurrency)))
    }
  }
  console.log(`concurrency ${concurrency}`)
  console.log(`${pad("client", 40)}${"req/s".padStart(8)}${"× raw".padStart(8)}${"CPU µs/req".padStart(12)}${"peak RSS MB".padStart(13)}  × raw by round`)
  for (const name of Object.keys(labels)) {
    const rows = results[name]
    const ratios = rows.map((row, i) => (row && results.undici[i] ? row.rps / results.undici[i].rps : undefined))
    const peak = Math.max(...rows.map((row) => row?.peakRssMB ?? 0))
    console.log(
      `${pad(labels[name], 40)}${num(median(rows.map((row) => row?.rps)))}${num(median(ratios), 2)}` +
        `${num(median(rows.map((row) => row?.cpuUs)), 1).padStart(12)}${num(peak || undefined, 1).padStart(13)}  ` +
        ratios.map((ratio) => (ratio === undefined ? "-" : ratio.toFixed(2))).join(" ")
    )
  }
  console.log("")
}

if (runs("latency")) {
  console.log("one request at a time (1,000 sequential calls; sync-fetch: 15)")
  console.log(`${pad("client", 40)}${"median µs".padStart(10)}${"mean µs".padStart(10)}${"× undici".padStart(10)}${"× synckit".padStart(10)}`)
  const results = {}
  for (const name of ["undici", "sync", "promise", "synckit", "sync-fetch"]) results[name] = await run("latency", name)
  if (before) results["sync-before"] = await runWith({ BENCH_LOAMY: join(before, "packages/loamy") }, "latency", "sync")
  const base = results.undici?.medianUs
  const hop = results.synckit?.medianUs
  for (const [name, result] of Object.entries(results)) {
    const label = { undici: "undici.request (async)", sync: "loamy sendRequestsSync", promise: "loamy sendRequests", synckit: "synckit + undici", "sync-fetch": "sync-fetch", "sync-before": "sendRequestsSync, $BENCH_BEFORE" }[name]
    console.log(`${pad(label, 40)}${num(result?.medianUs).padStart(10)}${num(result?.meanUs).padStart(10)}${num(result && base ? result.medianUs / base : undefined, 2).padStart(10)}${num(result && hop ? result.medianUs / hop : undefined, 2).padStart(10)}`)
  }
}

// The packed package ships the worker as one bundled file (packages/loamy/scripts/bundle-worker.js);
// the repository's dist does not, so measure both layouts.
if (runs("first")) {
  const bundleDir = mkdtempSync(join(tmpdir(), "loamy-bench-"))
  copyFileSync(join(root, "packages/loamy/dist/internal/worker.js"), join(bundleDir, "worker.js"))
  execFileSync(process.execPath, [join(root, "packages/loamy/scripts/bundle-worker.js"), join(bundleDir, "worker.bundle.js")], { stdio: "ignore", timeout: 60_000 })
  const bare = []
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now()
    execFileSync(process.execPath, ["-e", "0"], { stdio: "ignore" })
    bare.push(performance.now() - t0)
  }
  console.log(`\nfirst sync call in a fresh process (3 processes each; \`node -e 0\` here: ${bare.map((ms) => ms.toFixed(0)).join(", ")} ms)`)
  const layouts = [["worker from dist's modules", {}], ["worker bundled (as packed)", { BENCH_WORKER_URL: pathToFileURL(join(bundleDir, "worker.js")).href }]]
  if (before) {
    const beforeDir = join(bundleDir, "before")
    mkdirSync(beforeDir)
    copyFileSync(join(before, "packages/loamy/dist/internal/worker.js"), join(beforeDir, "worker.js"))
    execFileSync(process.execPath, [join(before, "packages/loamy/scripts/bundle-worker.js"), join(beforeDir, "worker.bundle.js")], { stdio: "ignore", timeout: 60_000 })
    layouts.push(["before: bundled (as packed)", { BENCH_WORKER_URL: pathToFileURL(join(beforeDir, "worker.js")).href, BENCH_LOAMY: join(before, "packages/loamy") }])
  }
  for (const [label, env] of layouts) {
    for (let i = 0; i < 3; i++) {
      const result = await runWith(env, "first", "sync")
      console.log(`  ${pad(label, 28)} import loamy ${num(result?.importMs, 1)} ms, first sendRequestsSync ${num(result?.firstCallMs, 1)} ms`)
    }
  }
  rmSync(bundleDir, { recursive: true, force: true })
}

await server.close()
