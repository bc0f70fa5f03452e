// `node bench/sync-latency.js [rung...]`: where a one-request synchronous call's time goes, one layer at a
// time, against the test server (in a process of its own). All rungs run in one process, interleaved: 10
// rounds of 100 sequential one-request calls per rung (after 200 warm-up calls each), so that they share the
// machine's mood; the median µs over all calls, its ratio to rung `undici`'s and to rung `hop`'s (a bare
// worker + Atomics round trip around the same undici call), and the median of the rounds' ratios to `hop`.
// `--separate` runs each rung in a fresh process instead (1,000 calls, or $BENCH_CALLS), and `BENCH_PROF=dir`
// then runs each under `node --cpu-prof` (one profile per thread; the door's own worker starts without the
// caller's flags, so it is not profiled: rung hop-prepared runs the same pipeline in a worker that is).
//
//   undici      await undici.request() + body.json(), on the calling thread
//   hop-noop    a bare worker + Atomics round trip whose worker answers at once (the hop alone)
//   hop         the bare hop around undici.request() + body.json() in the worker (what synckit measures)
//   hop-cb      the bare hop around undici's callback API + body.bytes(), with loamy's default headers (the
//               calls the layer makes, without Effect)
//   hop-effect  hop-cb inside one Effect.callback, run with Effect.runPromise (Effect's own cost per call)
//   hop-effect-fiber  the same Effect.callback on one long-lived fiber that takes the calls in turn (how the door's
//               worker runs its jobs): what a fiber per call costs, set beside hop-effect
//   hop-layer   the bare hop around loamy's HttpClient layer alone (execute + json) in the worker
//   hop-prepared the bare hop around the worker's prepared pipeline (Unchecked.unsafePrepare) for one request
//   hop-prepared-inf  hop-prepared with `timeout: Infinity`: no attempt timer (what the default bound costs)
//   hop-core    the bare hop around Unchecked.unsafeSend([one]) on loamy's runtime in the worker
//   door-empty  sendRequestsSync([]): the door's fixed cost without a request
//   door        sendRequestsSync([one])
//   door-before sendRequestsSync([one]) of another checkout, $BENCH_BEFORE (installed and built): only when set
import { startProcess } from "@loamy/test-server"
import { execFile } from "node:child_process"
import { fileURLToPath, pathToFileURL } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const self = fileURLToPath(import.meta.url)
const rungs = ["undici", "hop-noop", "hop", "hop-cb", "hop-effect", "hop-effect-fiber", "hop-layer", "hop-prepared", "hop-prepared-inf", "hop-core", "door-empty", "door"]
if (process.env.BENCH_BEFORE) rungs.push("door-before")

if (process.argv[2] === "--rung") {
  await runRung(process.argv[3], process.env.BENCH_URL)
  process.exit(0)
}
if (process.argv[2] === "--rungs") {
  await runRungs(process.argv.slice(3), process.env.BENCH_URL)
  process.exit(0)
}

const named = process.argv.slice(2).filter((arg) => arg !== "--separate")
const chosen = named.length > 0 ? named : rungs
for (const rung of chosen) {
  if (!rungs.includes(rung)) {
    console.error(`unknown rung ${rung} (${rungs.join(", ")})`)
    process.exit(2)
  }
}
// The test server in a process of its own (it exits with this one).
const server = await startProcess()
const url = server.url
const prof = process.env.BENCH_PROF
const separate = process.argv.includes("--separate")
const runOne = (args) =>
  new Promise((resolve) => {
    const rung = args[0]
    const node = [...(prof && separate ? ["--cpu-prof", "--cpu-prof-dir", `${prof}/${rung}`] : []), self, separate ? "--rung" : "--rungs", ...args]
    execFile(process.execPath, node, { cwd: root, env: { ...process.env, BENCH_URL: url }, timeout: 300_000 }, (error, stdout, stderr) => {
      if (error) {
        process.stderr.write(`${args.join(" ")} failed: ${error.message}\n${stderr}`)
        return resolve(undefined)
      }
      resolve(JSON.parse(stdout.trim().split("\n").pop()))
    })
  })
console.log(`Node ${process.version}, one request at a time against ${url} (${separate ? "a process per rung, 1,000 calls after 200 warm-up" : "one process, 10 interleaved rounds of 100 calls per rung after 200 warm-up"}; median)`)
console.log(`${"rung".padEnd(18)}${"median µs".padStart(10)}${"mean µs".padStart(10)}${"× undici".padStart(10)}${"× hop".padStart(10)}${separate ? "" : "rounds × hop".padStart(14)}`)
const results = {}
if (separate) for (const rung of chosen) results[rung] = await runOne([rung])
else Object.assign(results, await runOne(chosen))
for (const rung of chosen) {
  const r = results?.[rung]
  const ratio = (base) => (r && base ? (r.medianUs / base.medianUs).toFixed(2) : "-").padStart(10)
  const rounds = r?.roundsOverHop === undefined ? "" : r.roundsOverHop.toFixed(2).padStart(14)
  console.log(`${rung.padEnd(18)}${(r ? r.medianUs.toFixed(0) : "-").padStart(10)}${(r ? r.meanUs.toFixed(0) : "-").padStart(10)}${ratio(results.undici)}${ratio(results.hop)}${rounds}`)
}
await server.close()

function median(xs) {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
}

async function runRungs(names, url) {
  const target = `${url}/`
  const calls = {}
  for (const name of names) calls[name] = await setUp(name, target)
  for (const name of names) for (let i = 0; i < 200; i++) await calls[name]()
  const times = Object.fromEntries(names.map((name) => [name, []]))
  const roundMedians = Object.fromEntries(names.map((name) => [name, []]))
  for (let round = 0; round < 10; round++) {
    for (const name of names) {
      const one = calls[name]
      const these = []
      for (let i = 0; i < 100; i++) {
        const t0 = performance.now()
        await one()
        these.push((performance.now() - t0) * 1000)
      }
      times[name].push(...these)
      roundMedians[name].push(median(these))
    }
  }
  const out = {}
  for (const name of names) {
    out[name] = { medianUs: median(times[name]), meanUs: times[name].reduce((a, b) => a + b, 0) / times[name].length }
    if (roundMedians.hop) out[name].roundsOverHop = median(roundMedians[name].map((m, i) => m / roundMedians.hop[i]))
  }
  process.stdout.write(`${JSON.stringify(out)}\n`)
}

async function runRung(rung, url) {
  const target = `${url}/`
  const one = await setUp(rung, target)
  const calls = Number(process.env.BENCH_CALLS ?? 1_000)
  for (let i = 0; i < 200; i++) await one()
  const times = []
  for (let i = 0; i < calls; i++) {
    const t0 = performance.now()
    await one()
    times.push((performance.now() - t0) * 1000)
  }
  times.sort((a, b) => a - b)
  const out = { rung, medianUs: times[Math.floor(calls / 2)], meanUs: times.reduce((a, b) => a + b, 0) / times.length }
  process.stdout.write(`${JSON.stringify(out)}\n`)
}

async function setUp(rung, target) {
  if (rung === "undici") {
    const { Agent, request } = await import("undici")
    const dispatcher = new Agent()
    return async () => (await request(target, { dispatcher })).body.json()
  }
  if (rung === "door-before") {
    const { sendRequestsSync } = await import(pathToFileURL(`${process.env.BENCH_BEFORE}/packages/loamy/dist/index.js`).href)
    const batch = [{ url: target, httpOp: "GET" }]
    return () => sendRequestsSync(batch)
  }
  if (rung === "door" || rung === "door-empty") {
    const { sendRequestsSync } = await import("loamy")
    const batch = rung === "door" ? [{ url: target, httpOp: "GET" }] : []
    return () => sendRequestsSync(batch)
  }
  return bareHop(rung, target)
}

/** A worker answering each message on a port, the caller blocked in Atomics.wait: synckit's shape, bare. */
async function bareHop(rung, target) {
  const { Worker, MessageChannel, receiveMessageOnPort } = await import("node:worker_threads")
  const { port1, port2 } = new MessageChannel()
  const buffer = new SharedArrayBuffer(4)
  const state = new Int32Array(buffer)
  const worker = new Worker(new URL("./sync-hop-worker.mjs", import.meta.url), {
    workerData: { port: port2, buffer, rung, target },
    transferList: [port2]
  })
  worker.unref()
  let id = 0
  return () => {
    let seen = Atomics.load(state, 0)
    port1.postMessage(++id)
    for (;;) {
      const received = receiveMessageOnPort(port1)
      if (received !== undefined) return received.message.result
      Atomics.wait(state, 0, seen, 10_000)
      seen = Atomics.load(state, 0)
    }
  }
}
