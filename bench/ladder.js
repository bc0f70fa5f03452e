// `node bench/ladder.js`: where the time between raw undici and loamy's doors goes, one layer at a time.
// Every rung runs in a fresh process of its own against the loopback test server (started here, in a
// process of its own too): 10,000 GETs at concurrency 64 and 256 after a 2,000-request warm-up, the
// median of 3 runs. Ratios are to rung 1 measured in the same run. Each rung is killed after 120 s.
//
//   node bench/ladder.js                     all rungs, both concurrencies
//   node bench/ladder.js 3 4                 only these rungs (rung 1 always runs: it is the baseline)
//   BENCH_PROF=dir node bench/ladder.js 3 4  also write a .cpuprofile per rung and concurrency to dir
//                                            (summarise with `node bench/profile-summary.js dir/*.cpuprofile`)
//   BENCH_C=256 node bench/ladder.js 4 5     only these concurrencies (default 64,256)
//   BENCH_ALLOC=1 node bench/ladder.js 3 4   bytes allocated per request instead of speed: V8's sampling heap
//                                            profiler over one 10,000-request run after the warm-up, counting what
//                                            minor and major GCs collected too; BENCH_ALLOC=dir also writes a
//                                            .heapprofile per rung (summarise with `node bench/alloc-summary.js`)
import { execFile, spawn } from "node:child_process"
import { mkdirSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { pool } from "./pool.js"

const rungs = {
  1: "undici.request (promise API)",
  2: "Effect.callback around dispatcher.request",
  3: "UndiciHttpClient.make(agent).execute + body",
  4: "Clump.send on the layer (provided once)",
  5: "sendRequests (Promise door)",
  6: "sendRequestsSync (one 10k call)",
  7: "Clump.stream on the layer (beside rung 4)",
  8: "Clump.send on layerWith({ connections: C })",
  9: "rung 8 with timeout: Infinity (no bound)"
}

if (process.argv[2] === "--child") {
  await child(Number(process.argv[3]), Number(process.argv[4]))
} else {
  await parent(process.argv.slice(2).map(Number))
}

async function parent(only) {
  const root = fileURLToPath(new URL("..", import.meta.url))
  const self = fileURLToPath(import.meta.url)
  const prof = process.env.BENCH_PROF
  const concurrencies = (process.env.BENCH_C ?? "64,256").split(",").map(Number)
  if (prof) mkdirSync(prof, { recursive: true })
  const alloc = process.env.BENCH_ALLOC
  if (alloc && alloc !== "1") mkdirSync(alloc, { recursive: true })
  const server = spawn(process.execPath, ["packages/test-server/dist/main.js"], { cwd: root, stdio: ["pipe", "pipe", "inherit"] })
  try {
    const url = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("test server did not start")), 10_000)
      server.stdout.once("data", (data) => {
        clearTimeout(timer)
        resolve(JSON.parse(String(data)).url)
      })
    })
    const run = (rung, concurrency) =>
      new Promise((resolve) => {
        const flags = prof ? ["--cpu-prof", "--cpu-prof-dir", prof, "--cpu-prof-name", `rung${rung}-c${concurrency}.cpuprofile`] : []
        execFile(process.execPath, [...flags, self, "--child", String(rung), String(concurrency)], {
          cwd: root,
          env: { ...process.env, BENCH_URL: url },
          timeout: 120_000
        }, (error, stdout, stderr) => {
          if (error) {
            process.stderr.write(`rung ${rung} at ${concurrency} failed: ${error.message}\n${stderr}`)
            return resolve(undefined)
          }
          resolve(JSON.parse(stdout.trim().split("\n").pop()))
        })
      })
    const selected = Object.keys(rungs).map(Number).filter((r) => only.length === 0 || r === 1 || only.includes(r))
    const pad = (s, n) => String(s).padEnd(n)
    const num = (x, digits = 0) => (x === undefined ? "-" : x.toFixed(digits)).padStart(9)
    if (alloc) {
      console.log(`loopback server ${url}, Node ${process.version}, bytes allocated per request over 10,000 GETs (after a 2,000 warm-up)\n`)
      for (const concurrency of concurrencies) {
        console.log(`concurrency ${concurrency}`)
        console.log(`${pad("rung", 50)}${"KB/req".padStart(9)}${"− rung 1".padStart(10)}`)
        let base
        for (const rung of selected) {
          const result = await run(rung, concurrency)
          if (rung === 1) base = result
          const kb = result === undefined ? undefined : result.bytes / 1024
          const delta = result && base ? (result.bytes - base.bytes) / 1024 : undefined
          console.log(`${pad(`${rung}. ${rungs[rung]}`, 50)}${num(kb, 1)}${num(delta, 1).padStart(10)}`)
        }
        console.log("")
      }
      return
    }
    console.log(`loopback server ${url}, Node ${process.version}, 10,000 GETs per run (median of 3, after a 2,000 warm-up)\n`)
    for (const concurrency of concurrencies) {
      console.log(`concurrency ${concurrency}`)
      console.log(`${pad("rung", 50)}${"req/s".padStart(9)}${"× rung 1".padStart(9)}${"CPU µs/req".padStart(12)}${"× rung 1 CPU".padStart(14)}`)
      let base
      for (const rung of selected) {
        const result = await run(rung, concurrency)
        if (rung === 1) base = result
        console.log(
          `${pad(`${rung}. ${rungs[rung]}`, 50)}${num(result?.rps)}${num(result && base ? result.rps / base.rps : undefined, 2)}` +
            `${num(result?.cpuUs, 1).padStart(12)}${num(result && base ? result.cpuUs / base.cpuUs : undefined, 2).padStart(14)}`
        )
      }
      console.log("")
    }
  } finally {
    server.kill()
  }
}

async function child(rung, concurrency) {
  const target = `${process.env.BENCH_URL}/`
  const N = Number(process.env.BENCH_N ?? 10_000)
  const batch = (n) => Array.from({ length: n }, () => ({ url: target, httpOp: "GET" }))
  const makers = {
    async 1() {
      const { Agent, request } = await import("undici")
      const dispatcher = new Agent()
      return (n) => pool(concurrency, n, async () => (await request(target, { dispatcher })).body.json())
    },
    async 2() {
      const { Agent } = await import("undici")
      const { Effect } = await import("effect")
      const dispatcher = new Agent()
      const { origin, pathname } = new URL(target)
      const one = Effect.callback((resume) => {
        dispatcher.request({ origin, path: pathname, method: "GET" }, (error, data) => {
          if (error) return resume(Effect.fail(error))
          data.body.json().then((value) => resume(Effect.succeed(value)), (cause) => resume(Effect.fail(cause)))
        })
      })
      return (n) => Effect.runPromise(Effect.forEach(Array.from({ length: n }), () => one, { concurrency, discard: true }))
    },
    async 3() {
      const { Agent } = await import("undici")
      const { Effect } = await import("effect")
      const { HttpClientRequest } = await import("effect/http")
      const UndiciHttpClient = await import("loamy/UndiciHttpClient")
      const client = UndiciHttpClient.make(new Agent())
      const one = Effect.flatMap(client.execute(HttpClientRequest.get(target)), (response) => response.json)
      return (n) =>
        Effect.runPromise(Effect.withTracerEnabled(Effect.forEach(Array.from({ length: n }), () => one, { concurrency, discard: true }), false))
    },
    async 4() {
      const { Clump } = await import("@loamy/core")
      const { ManagedRuntime } = await import("effect")
      const UndiciHttpClient = await import("loamy/UndiciHttpClient")
      const runtime = ManagedRuntime.make(UndiciHttpClient.layer)
      return (n) => runtime.runPromise(Clump.send(Clump.make(batch(n), { concurrency })))
    },
    async 5() {
      const { sendRequests } = await import("loamy")
      return (n) => sendRequests(batch(n), { concurrency })
    },
    async 6() {
      const { sendRequestsSync } = await import("loamy")
      return async (n) => sendRequestsSync(batch(n), { concurrency })
    },
    async 7() {
      const { Clump } = await import("@loamy/core")
      const { ManagedRuntime, Stream } = await import("effect")
      const UndiciHttpClient = await import("loamy/UndiciHttpClient")
      const runtime = ManagedRuntime.make(UndiciHttpClient.layer)
      return (n) => runtime.runPromise(Stream.runDrain(Clump.stream(Clump.make(batch(n), { concurrency }))))
    },
    async 8() {
      const { Clump } = await import("@loamy/core")
      const { ManagedRuntime } = await import("effect")
      const UndiciHttpClient = await import("loamy/UndiciHttpClient")
      const runtime = ManagedRuntime.make(UndiciHttpClient.layerWith({ connections: concurrency }))
      return (n) => runtime.runPromise(Clump.send(Clump.make(batch(n), { concurrency })))
    },
    async 9() {
      const { Clump } = await import("@loamy/core")
      const { ManagedRuntime } = await import("effect")
      const UndiciHttpClient = await import("loamy/UndiciHttpClient")
      const runtime = ManagedRuntime.make(UndiciHttpClient.layerWith({ connections: concurrency }))
      return (n) => runtime.runPromise(Clump.send(Clump.make(batch(n), { concurrency, timeout: Infinity })))
    }
  }
  const run = await makers[rung]()
  const cpu = () => {
    const { user, system } = process.cpuUsage()
    return user + system
  }
  await run(Math.min(2_000, N))
  const alloc = process.env.BENCH_ALLOC
  if (alloc) {
    const { Session } = await import("node:inspector/promises")
    const { writeFileSync } = await import("node:fs")
    const session = new Session()
    session.connect()
    await session.post("HeapProfiler.startSampling", {
      samplingInterval: 1024,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true
    })
    await run(N)
    const { profile } = await session.post("HeapProfiler.stopSampling")
    session.disconnect()
    const sum = (node) => node.selfSize + node.children.reduce((total, child) => total + sum(child), 0)
    if (alloc !== "1") writeFileSync(`${alloc}/rung${rung}-c${concurrency}.heapprofile`, JSON.stringify(profile))
    console.log(JSON.stringify({ rung, concurrency, bytes: sum(profile.head) / N }))
    process.exitCode = 0
    return
  }
  const runs = []
  for (let i = 0; i < 3; i++) {
    const c0 = cpu()
    const t0 = performance.now()
    await run(N)
    const ms = performance.now() - t0
    runs.push({ rps: (N / ms) * 1000, cpuUs: (cpu() - c0) / N })
  }
  runs.sort((a, b) => a.rps - b.rps)
  console.log(JSON.stringify({ rung, concurrency, ...runs[1] }))
  // Let the doors' beforeExit hooks close their agents; a profile is written at exit.
  process.exitCode = 0
}
