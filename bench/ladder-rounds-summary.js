// `node bench/ladder-rounds-summary.js run1.json run2.json ...`: several runs of `BENCH_JSON=file node
// bench/ladder-rounds.js` in one table. Per rung: the median over every round of every run of the round's ratio
// to raw undici (throughput and CPU per request), with the lowest and highest run median beside it, and the
// bytes per request of each run.
import { readFileSync } from "node:fs"

const runs = process.argv.slice(2).map((file) => JSON.parse(readFileSync(file, "utf8")))
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}
const range = (xs) => `${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)}`
console.log(`${runs.length} runs, Node ${[...new Set(runs.map((r) => r.node))].join(", ")}, ${runs[0].n} GETs, ${runs[0].rounds} rounds each; load ${runs.flatMap((r) => r.loadavg).map((l) => l.split(" ")[0]).join(", ")}\n`)
for (const concurrency of Object.keys(runs[0].results).filter((k) => k !== "calls")) {
  const names = Object.keys(runs[0].results[concurrency])
  const raw = names[0]
  console.log(`concurrency ${concurrency}`)
  console.log(
    `| rung | × raw req/s, all rounds (run medians) | × raw CPU/req, all rounds (run medians) | KB/req (each run) | KB × raw |`
  )
  console.log("|---|---|---|---|---|")
  for (const name of names) {
    const all = []
    const allCpu = []
    const runMedians = []
    const runCpuMedians = []
    const kbs = []
    const kbRatios = []
    for (const run of runs) {
      const r = run.results[concurrency][name]
      const base = run.results[concurrency][raw]
      const ratios = r.rps.map((x, i) => x / base.rps[i])
      const cpus = r.cpuUs.map((x, i) => x / base.cpuUs[i])
      all.push(...ratios)
      allCpu.push(...cpus)
      runMedians.push(median(ratios))
      runCpuMedians.push(median(cpus))
      if (r.kb !== undefined) {
        kbs.push(r.kb.toFixed(1))
        kbRatios.push(r.kb / base.kb)
      }
    }
    console.log(
      `| ${name} | ${median(all).toFixed(2)} (${range(runMedians)}) | ${median(allCpu).toFixed(2)} (${range(runCpuMedians)}) | ` +
        `${kbs.join(", ")} | ${kbRatios.length ? median(kbRatios).toFixed(2) : "-"} |`
    )
  }
  console.log("")
}
if (runs[0].results.calls) {
  const names = Object.keys(runs[0].results.calls)
  console.log("one-request sync calls")
  console.log("| door | µs per call, median of all rounds | × first, all rounds (run medians) |")
  console.log("|---|---|---|")
  for (const name of names) {
    const all = []
    const ratios = []
    const runMedians = []
    for (const run of runs) {
      const r = run.results.calls[name]
      const base = run.results.calls[names[0]]
      all.push(...r)
      const rs = r.map((x, i) => x / base[i])
      ratios.push(...rs)
      runMedians.push(median(rs))
    }
    console.log(`| ${name} | ${median(all).toFixed(0)} | ${median(ratios).toFixed(2)} (${range(runMedians)}) |`)
  }
}
