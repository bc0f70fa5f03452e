// `npm run bench:features`: what progress reports and per-origin bounds cost. The Promise door sends 10,000
// GETs over the loopback test server's two origins (in a process of its own), in rounds that alternate the
// variants so that drift of the machine hits them alike: plain, with `onProgress` (every 100 ms), and with
// `concurrencyPerOrigin` at half the concurrency (each origin at its bound, the pool full) and just under it.
// Prints the median throughput and CPU per request of each, the ratios of those medians to plain's, and the
// median of each round's ratio to plain in the same round ("paired"); the goal is a cost under 3 %.
import { startProcess } from "@loamy/test-server"

// The test server in a process of its own (it exits with this one).
const server = await startProcess()
const { url, otherUrl } = server

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
  // Each origin at its bound: this also measures the bound itself (when one origin runs out of requests before
  // the other, the last ones run at half the concurrency).
  concurrencyPerOrigin: (concurrency) => ({ concurrency, concurrencyPerOrigin: concurrency / 2 }),
  // A bound just under the concurrency: the bookkeeping, with the bound seldom reached.
  "perOrigin C-1": (concurrency) => ({ concurrency, concurrencyPerOrigin: concurrency - 1 })
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
  console.log(
    `${"variant".padEnd(24)}${"req/s".padStart(9)}${"× plain".padStart(9)}${"paired".padStart(9)}` +
      `${"CPU µs/req".padStart(12)}${"× plain".padStart(9)}`
  )
  const base = { rps: median(results.plain.rps), cpuUs: median(results.plain.cpuUs) }
  for (const [name, r] of Object.entries(results)) {
    const rps = median(r.rps)
    const cpuUs = median(r.cpuUs)
    // Each round's ratio to plain in the same round, then their median: drift between rounds cancels out.
    const paired = median(r.rps.map((x, round) => x / results.plain.rps[round]))
    console.log(
      `${name.padEnd(24)}${rps.toFixed(0).padStart(9)}${(rps / base.rps).toFixed(3).padStart(9)}${paired.toFixed(3).padStart(9)}` +
        `${cpuUs.toFixed(1).padStart(12)}${(cpuUs / base.cpuUs).toFixed(3).padStart(9)}`
    )
  }
  console.log("")
}

// The same variants on a client that answers from memory: no sockets, so what is left is the scheduler's
// own work per request, and a difference is the variant's cost in CPU per request.
{
  const { HttpClient, HttpClientResponse } = await import("effect/http")
  const { Clump, Progress, Transport } = await import("@loamy/core")
  const { Effect, Layer, ManagedRuntime } = await import("effect")
  // One web Response whose body is never read: the core takes the bytes through the bounded read a transport's
  // responses may offer (`Transport.BoundedResponse`, as loamy's layer does), so the fake costs next to nothing per
  // request.
  const web = new Response(null, { headers: { "content-type": "application/json", "content-length": "2" } })
  const bytes = new TextEncoder().encode("{}")
  const bounded = { bufferedBody: undefined, readUpTo: () => Effect.succeed(bytes) }
  // It answers on the next turn of the event loop, as a socket would: an answer in the same turn would run every
  // worker to completion one after the other, with nothing ever in flight. `makeWith`, not `make`: Effect 4's
  // `make` wraps every response, which would hide the bounded read.
  const instant = HttpClient.makeWith(
    (effect) =>
      Effect.flatMap(effect, (request) =>
        Effect.callback((resume) => {
          setImmediate(() => {
            const response = HttpClientResponse.fromWeb(request, web)
            response[Transport.BoundedResponseTypeId] = bounded
            resume(Effect.succeed(response))
          })
        })),
    Effect.succeed
  )
  const runtime = ManagedRuntime.make(Layer.succeed(HttpClient.HttpClient, instant))
  const M = 20_000
  const requests = Array.from({ length: M }, (_, i) => ({ url: `http://origin-${i % 2}.test/`, httpOp: "GET" }))
  const concurrency = 64
  // No timeout: on a client that does not bound attempts itself, the core races each attempt with a timer fiber,
  // which would dwarf what is measured here (loamy's layer bounds them itself).
  const timeout = Infinity
  const effects = {
    plain: Clump.send(Clump.make(requests, { concurrency, timeout })),
    onProgress: Clump.send(Clump.make(requests, { concurrency, timeout })).pipe(
      Progress.reportTo(() => Effect.void, { interval: "100 millis" })
    ),
    concurrencyPerOrigin: Clump.send(
      Clump.make(requests, { concurrency, timeout, concurrencyPerOrigin: concurrency / 2 })
    )
  }
  // As the plain doors run: Effect's tracer off (spans per request for nobody).
  for (const name of Object.keys(effects)) effects[name] = Effect.withTracerEnabled(effects[name], false)
  const cpu = Object.fromEntries(Object.keys(effects).map((name) => [name, []]))
  for (const effect of Object.values(effects)) await runtime.runPromise(effect)
  // Twice the rounds: these runs are short, and their spread from run to run (about 10 %) is what limits the reading.
  for (let round = 0; round < ROUNDS * 2; round++) {
    const names = Object.keys(effects)
    for (const name of names.map((_, i) => names[(i + round) % names.length])) {
      const before = process.cpuUsage()
      await runtime.runPromise(effects[name])
      const used = process.cpuUsage(before)
      cpu[name].push((used.user + used.system) / M)
    }
  }
  console.log(`an in-memory client, ${M} requests over 2 origins, concurrency ${concurrency} (median CPU per request)`)
  console.log(`${"variant".padEnd(24)}${"CPU µs".padStart(10)}${"− plain, paired (quartiles)".padStart(34)}`)
  const sorted = (xs) => [...xs].sort((a, b) => a - b)
  for (const [name, xs] of Object.entries(cpu)) {
    // Each round's difference to plain in the same round: the machine's drift between rounds cancels out.
    const diffs = sorted(xs.map((x, round) => x - cpu.plain[round]))
    const q = (f) => diffs[Math.floor(diffs.length * f)].toFixed(2)
    console.log(`${name.padEnd(24)}${median(xs).toFixed(2).padStart(10)}${`${q(0.5)} (${q(0.25)} .. ${q(0.75)})`.padStart(34)}`)
  }
  await runtime.dispose()
}

await close()
await server.close()
