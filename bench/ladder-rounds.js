// `npm run bench:ladder-rounds`: the ladder (issue 19 item 8, issue 20) in ONE process, its rungs alternated in
// rounds (the order rotated each round), so that this VM's drift hits every rung alike. 10,000 GETs of the
// loopback test server's small JSON body (`{"message":"Hello, world!"}`, the server in a process of its own) per
// run, the body parsed, at concurrency 64 and 256, after a warm-up run of each rung. Prints, per rung, the median
// req/s and CPU µs per request, the median of each round's ratio to raw `undici.request` in the same round with
// the lowest and highest round ("spread"), and the bytes allocated per request (V8's sampling heap profiler over
// one more run of each rung, objects that minor and major GCs collected included; what a worker thread allocates
// is not seen, so the sync door's row shows only its calling thread).
//
//   node bench/ladder-rounds.js                  the ladder, both concurrencies (about 3 minutes)
//   node bench/ladder-rounds.js --tunings        the Effect 3 tunings, each beside a copy of the code without it
//   BENCH_ROUNDS=9 BENCH_N=10000 BENCH_C=64,256  rounds (default 5), GETs per run, concurrencies
//   BENCH_ONLY=raw,door BENCH_ALLOC=0            only these rungs (raw always runs); no allocation pass
//   BENCH_C=none BENCH_CALLS=500 ... --tunings   only the one-request rows of the worker tunings
//   BENCH_JSON=file                              also write every round's figures there
//   BENCH_BEFORE_CORE=dir                        also `Clump.send` of that copy of packages/core (before/after)
//
// Rungs: raw `undici.request` + `body.json()` on an `Agent` (the baseline), undici's callback API
// (`agent.request(opts, cb)`, no promise per request but the body's), `Effect.callback` around that callback,
// loamy's transport (the `HttpClient` of `UndiciHttpClient.layer`, `execute` + `json`, in `Effect.forEach`),
// the engine (`Clump.send` on that layer), the Promise door (`sendRequests`), the sync door (one
// `sendRequestsSync` call of all N requests).
//
// `--tunings` builds copies of the built packages under bench/.data/variants with one tuning taken out (a
// text patch of `dist`, which fails loudly when the code it patches has changed) and runs each beside the code
// as it is, in the same rounds:
//   - nobuffer: small bodies are not read with the headers (`exchange.js`'s `eagerBodyBytes` below every size);
//   - queue: `Clump.stream` hands its responses over through Effect's `Queue` (`Stream.fromQueue`'s way)
//     instead of `Batches`;
//   (- fiberperjob, until the worker took it up: a fiber per sync job instead of one long-lived fiber, the patch
//     `fork(Effect.forever(serve))` → `fork(serve)` of workerMain.js; see bench/README.md for its figures;)
//   - unprepared: the sync worker sends each job with `Unchecked.unsafeSend` instead of a pipeline prepared once
//     per options value.
// The worker's tunings matter per call, not per request: their rows are one-request `sendRequestsSync` calls.
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { Session } from "node:inspector/promises"
import { resolve } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { startProcess } from "@loamy/test-server"
import { pool } from "./pool.js"

const root = fileURLToPath(new URL("..", import.meta.url))
const N = Number(process.env.BENCH_N ?? 10_000)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const CONCURRENCIES = process.env.BENCH_C === "none" ? [] : (process.env.BENCH_C ?? "64,256").split(",").map(Number)
const ONLY = process.env.BENCH_ONLY?.split(",")
const ALLOC = process.env.BENCH_ALLOC !== "0"
const TUNINGS = process.argv.includes("--tunings")
/** One-request sync calls per run in the worker tunings' rows. */
const CALLS = Number(process.env.BENCH_CALLS ?? 1_000)

/** A copy of `packages/<pkg>` (its package.json and dist) with text patches, each of which must apply once. */
const variant = (name, pkg, patches) => {
  const dir = `${root}bench/.data/variants/${name}`
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  cpSync(`${root}packages/${pkg}/package.json`, `${dir}/package.json`)
  cpSync(`${root}packages/${pkg}/dist`, `${dir}/dist`, { recursive: true })
  for (const [file, from, to] of patches) {
    const path = `${dir}/dist/${file}`
    const text = readFileSync(path, "utf8")
    const at = text.indexOf(from)
    if (at < 0 || text.indexOf(from, at + 1) >= 0) {
      throw new Error(`variant ${name}: ${file} has not exactly one ${JSON.stringify(from)} (the code changed?)`)
    }
    writeFileSync(path, text.slice(0, at) + to + text.slice(at + from.length))
  }
  return `${dir}/dist`
}

const server = await startProcess()
const target = `${server.url}/`
const { origin, pathname } = new URL(target)

const { Agent, request } = await import("undici")
const { Effect, ManagedRuntime, Stream } = await import("effect")
const { HttpClient, HttpClientRequest } = await import("effect/http")
const { Clump } = await import("@loamy/core")
const UndiciHttpClient = await import("loamy/UndiciHttpClient")
const loamy = await import("loamy")

const batch = Array.from({ length: N }, () => ({ url: target, httpOp: "GET" }))
const one = [{ url: target, httpOp: "GET" }]
const rawAgent = new Agent()
const cbAgent = new Agent()
const runtime = ManagedRuntime.make(UndiciHttpClient.layer)
const closers = [() => rawAgent.close(), () => cbAgent.close(), () => runtime.dispose(), () => loamy.close()]

const failures = (responses) => {
  let failed = 0
  for (const response of responses) if (response.error) failed++
  return failed
}

/** undici's callback API: `concurrency` chains of `agent.request(opts, cb)`, each body read with `json()`. */
const callbackPool = (agent, concurrency) =>
  new Promise((resolve, reject) => {
    let started = 0
    let finished = 0
    const next = () => {
      if (started >= N) return
      started++
      agent.request({ origin, path: pathname, method: "GET" }, onResponse)
    }
    const onParsed = () => {
      if (++finished === N) resolve(0)
      else next()
    }
    function onResponse(error, data) {
      if (error) return reject(error)
      data.body.json().then(onParsed, reject)
    }
    for (let i = 0; i < Math.min(concurrency, N); i++) next()
  })

const viaCallback = Effect.callback((resume) => {
  cbAgent.request({ origin, path: pathname, method: "GET" }, (error, data) => {
    if (error) return resume(Effect.fail(error))
    data.body.json().then((value) => resume(Effect.succeed(value)), (cause) => resume(Effect.fail(cause)))
  })
})

/** The transport alone: `execute` + `json` on a client, `concurrency` at a time. */
const transport = (client, concurrency) => {
  const get = HttpClientRequest.get(target)
  const exchange = Effect.flatMap(client.execute(get), (response) => response.json)
  return Effect.withTracerEnabled(Effect.forEach(batch, () => exchange, { concurrency, discard: true }), false)
}

const client = await runtime.runPromise(Effect.service(HttpClient.HttpClient))

/** Each rung: name → (concurrency) → a promise of how many requests failed. */
const rungs = {
  "raw undici.request": async (c) => {
    await pool(c, N, async () => (await request(target, { dispatcher: rawAgent })).body.json())
    return 0
  },
  "undici callback API": (c) => callbackPool(cbAgent, c),
  "Effect.callback": async (c) => {
    await Effect.runPromise(Effect.forEach(batch, () => viaCallback, { concurrency: c, discard: true }))
    return 0
  },
  "transport (layer's client)": async (c) => {
    await runtime.runPromise(transport(client, c))
    return 0
  },
  "engine (Clump.send, layer)": async (c) => failures(await runtime.runPromise(Clump.send(Clump.make(batch, { concurrency: c })))),
  "Promise door (sendRequests)": async (c) => failures(await loamy.sendRequests(batch, { concurrency: c })),
  "sync door (one N call)": async (c) => failures(loamy.sendRequestsSync(batch, { concurrency: c }))
}

// A before/after for a change in the core: `BENCH_BEFORE_CORE=dir` (a copy of packages/core as it was, its
// package.json and dist, e.g. under bench/.data) adds its `Clump.send` on the same layer.
if (process.env.BENCH_BEFORE_CORE) {
  const before = await import(pathToFileURL(resolve(process.env.BENCH_BEFORE_CORE, "dist/index.js")).href)
  rungs["engine, core before"] = async (c) =>
    failures(await runtime.runPromise(before.Clump.send(before.Clump.make(batch, { concurrency: c }))))
}

/** The per-call rows (`--tunings`): name → a promise of how many calls failed. */
const calls = {}

if (TUNINGS) {
  for (const name of Object.keys(rungs)) if (!["raw undici.request"].includes(name)) delete rungs[name]
  const streamOf = (clumpModule, rt) => async (c) => {
    let failed = 0
    // Consumed a chunk at a time: an effect per element would measure the consumer, not the stream.
    await rt.runPromise(
      Stream.runForEachArray(clumpModule.Clump.stream(clumpModule.Clump.make(batch, { concurrency: c })), (chunk) =>
        Effect.sync(() => {
          for (const { response } of chunk) if (response.error) failed++
        }))
    )
    return failed
  }

  const nobuffer = variant("nobuffer", "loamy", [["internal/exchange.js", "const eagerBodyBytes = 64 * 1024;", "const eagerBodyBytes = -1;"]])
  const NoBufferClient = await import(`${nobuffer}/UndiciHttpClient.js`)
  const nobufferDoor = await import(`${nobuffer}/index.js`)
  const nobufferRuntime = ManagedRuntime.make(NoBufferClient.layer)
  closers.push(() => nobufferRuntime.dispose(), () => nobufferDoor.close())
  const nobufferClient = await nobufferRuntime.runPromise(Effect.service(HttpClient.HttpClient))
  rungs["transport"] = async (c) => {
    await runtime.runPromise(transport(client, c))
    return 0
  }
  rungs["transport, nobuffer"] = async (c) => {
    await nobufferRuntime.runPromise(transport(nobufferClient, c))
    return 0
  }
  rungs["Clump.send"] = async (c) => failures(await runtime.runPromise(Clump.send(Clump.make(batch, { concurrency: c }))))
  rungs["Clump.send, nobuffer"] = async (c) =>
    failures(await nobufferRuntime.runPromise(Clump.send(Clump.make(batch, { concurrency: c }))))
  rungs["sendRequests"] = async (c) => failures(await loamy.sendRequests(batch, { concurrency: c }))
  rungs["sendRequests, nobuffer"] = async (c) => failures(await nobufferDoor.sendRequests(batch, { concurrency: c }))

  const queue = variant("queue", "core", [
    ["internal/streams.js", "const batches = new Batches(resolved.concurrency);", "const batches = yield* queueBatches(resolved.concurrency);"],
    ["internal/streams.js", `import { Batches } from "./batches.js";`, `import { queueBatches } from "./queueBatches.js";`]
  ])
  writeFileSync(`${queue}/internal/queueBatches.js`, `import * as Effect from "effect/Effect";
import * as Exit from "effect/Exit";
import * as Queue from "effect/Queue";
// Batches' interface over Effect's Queue, as Stream.fromQueue reads one (takeAll per pull).
export const queueBatches = (capacity) => Effect.map(Queue.bounded(capacity), (queue) => ({
  offer: (item) => Queue.offerUnsafe(queue, item) ? undefined : Queue.offer(queue, item),
  close: (exit) => { Exit.isSuccess(exit) ? Queue.endUnsafe(queue) : Queue.failCauseUnsafe(queue, exit.cause) },
  pull: Queue.takeAll(queue)
}));
`)
  const queueCore = await import(`${queue}/index.js`)
  rungs["Clump.stream"] = streamOf({ Clump }, runtime)
  rungs["Clump.stream, queue"] = streamOf(queueCore, runtime)

  const unprepared = variant("unprepared", "loamy", [[
    "internal/workerMain.js",
    "const prepared = remembered.prepared;",
    "const prepared = remembered.prepared;\n    if (process.env.BENCH_UNPREPARED !== \"0\") return Unchecked.unsafeSend(job.requests, remembered.options);"
  ]])
  const unpreparedDoor = await import(`${unprepared}/index.js`)
  closers.push(() => unpreparedDoor.close())
  const oneByOne = (send) => async () => {
    let failed = 0
    for (let i = 0; i < CALLS; i++) failed += failures(send(one))
    return failed
  }
  calls["sendRequestsSync([one])"] = oneByOne((requests) => loamy.sendRequestsSync(requests))
  calls["sendRequestsSync([one]), unprepared"] = oneByOne((requests) => unpreparedDoor.sendRequestsSync(requests))
}
if (ONLY) {
  for (const name of Object.keys(rungs)) {
    if (name !== "raw undici.request" && !ONLY.some((word) => name.includes(word))) delete rungs[name]
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const cpuNow = () => {
  const { user, system } = process.cpuUsage()
  return user + system
}

const session = new Session()
session.connect()
/** Bytes allocated per request by one run, sampled (every ~1 KB) with what the GCs collected counted too. */
const allocation = async (run, requests) => {
  await session.post("HeapProfiler.startSampling", {
    samplingInterval: 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true
  })
  const failed = await run()
  const { profile } = await session.post("HeapProfiler.stopSampling")
  if (failed > 0) throw new Error(`${failed} requests failed during the allocation run`)
  const sum = (node) => node.children.reduce((total, child) => total + sum(child), node.selfSize)
  return sum(profile.head) / requests
}

const record = { node: process.version, n: N, rounds: ROUNDS, loadavg: [], tunings: TUNINGS, results: {} }
const load = () => {
  try {
    return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")
  } catch {
    return "?"
  }
}
const timed = async (name, run, units) => {
  const c0 = cpuNow()
  const t0 = performance.now()
  const failed = await run()
  const ms = performance.now() - t0
  const cpu = cpuNow() - c0
  if (failed > 0) throw new Error(`${name}: ${failed} failed`)
  return { rps: (units * 1000) / ms, cpuUs: cpu / units, usPer: (ms * 1000) / units }
}

console.log(`Node ${process.version}, ${N} GETs per run, ${ROUNDS} rounds alternating the rungs, load ${load()}\n`)
try {
  const names = Object.keys(rungs)
  const raw = names[0]
  for (const concurrency of CONCURRENCIES) {
    const results = Object.fromEntries(names.map((name) => [name, { rps: [], cpuUs: [], kb: undefined }]))
    for (const name of names) await rungs[name](concurrency)
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(i + round) % names.length]
        const { rps, cpuUs } = await timed(name, () => rungs[name](concurrency), N)
        results[name].rps.push(rps)
        results[name].cpuUs.push(cpuUs)
      }
    }
    if (ALLOC) for (const name of names) results[name].kb = (await allocation(() => rungs[name](concurrency), N)) / 1024
    record.loadavg.push(load())
    record.results[concurrency] = results
    console.log(`concurrency ${concurrency} (load ${load()})`)
    console.log(
      `${"rung".padEnd(38)}${"req/s".padStart(8)}${"× raw".padStart(7)}${"spread".padStart(13)}` +
        `${"CPU µs".padStart(8)}${"× raw".padStart(7)}${"KB/req".padStart(8)}${"× raw".padStart(7)}`
    )
    for (const name of names) {
      const r = results[name]
      const ratios = r.rps.map((x, i) => x / results[raw].rps[i])
      const cpuRatios = r.cpuUs.map((x, i) => x / results[raw].cpuUs[i])
      const kb = r.kb === undefined ? "-" : r.kb.toFixed(1)
      const kbRatio = r.kb === undefined ? "-" : (r.kb / results[raw].kb).toFixed(2)
      console.log(
        `${name.padEnd(38)}${median(r.rps).toFixed(0).padStart(8)}${median(ratios).toFixed(2).padStart(7)}` +
          `${`${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`.padStart(13)}` +
          `${median(r.cpuUs).toFixed(1).padStart(8)}${median(cpuRatios).toFixed(2).padStart(7)}` +
          `${kb.padStart(8)}${kbRatio.padStart(7)}`
      )
    }
    console.log("")
  }
  const callNames = Object.keys(calls)
  if (callNames.length > 0) {
    const results = Object.fromEntries(callNames.map((name) => [name, []]))
    for (const name of callNames) await calls[name]()
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < callNames.length; i++) {
        const name = callNames[(i + round) % callNames.length]
        results[name].push((await timed(name, calls[name], CALLS)).usPer)
      }
    }
    record.results.calls = results
    const base = results[callNames[0]]
    console.log(`one-request calls, ${CALLS} per run (load ${load()})`)
    console.log(`${"door".padEnd(42)}${"µs/call".padStart(9)}${"× first".padStart(9)}${"spread".padStart(13)}`)
    for (const name of callNames) {
      const ratios = results[name].map((x, i) => x / base[i])
      console.log(
        `${name.padEnd(42)}${median(results[name]).toFixed(0).padStart(9)}${median(ratios).toFixed(2).padStart(9)}` +
          `${`${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)}`.padStart(13)}`
      )
    }
    console.log("")
  }
  if (process.env.BENCH_JSON) writeFileSync(process.env.BENCH_JSON, JSON.stringify(record))
} finally {
  session.disconnect()
  for (const close of closers) await close()
  await server.close()
}
