// Streams large generated JSONL files through the built `loamy send` and
// reports its throughput and peak RSS at 100k and 1M lines, each run next to
// raw undici doing the same job in a process of its own (bench/raw-undici-jsonl.js:
// the same file, the same concurrency, one JSON line per response), and the
// ratio of the two. The test server runs in a process of its own so it does not
// share a core's time slices with the client being measured. Not part of `npm test`.
//
//   npm run bench:cli                 # 100k and 1M lines
//   LINES=20000,100000 node bench/cli-stream.js
//
// Peak RSS is the kernel's high-water mark (VmHWM in /proc/PID/status),
// sampled every 50 ms while the CLI runs and read once more at its exit.
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
// The CLI as it ships: the bundle `prepack` builds (packages/cli/scripts/bundle.js), built here into a directory
// of the CLI package's dist (it reads @loamy/cli/package.json at run time) and removed at the end; BENCH_CLI=dist
// measures the tsc build's module tree instead.
const bundled = process.env.BENCH_CLI !== "dist"
const serverMain = path.join(root, "packages/test-server/dist/main.js")
const sizes = (process.env.LINES ?? "100000,1000000").split(",").map(Number)
const concurrency = Number(process.env.CONCURRENCY ?? 100)
// A bound for each run: 1M requests on 2 cores takes minutes, not hours. A run cut
// off by it still reports what it did (responses written, peak RSS so far), marked.
const runLimitMs = Number(process.env.RUN_LIMIT_MS ?? 30 * 60_000)

let stopping = false
const startServer = () =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [serverMain, "--exit-with-stdin"], { stdio: ["pipe", "pipe", "inherit"] })
    const timer = setTimeout(() => reject(new Error("test server did not start within 10 s")), 10_000)
    let out = ""
    child.stdout.on("data", (chunk) => {
      out += chunk
      const newline = out.indexOf("\n")
      if (newline >= 0) {
        clearTimeout(timer)
        resolve({ url: JSON.parse(out.slice(0, newline)).url, child })
      }
    })
    child.on("exit", (code, signal) => {
      if (stopping) return
      // After startup this would turn every later request into a failure: say so.
      console.error(`test server exited (code ${code}, signal ${signal})`)
      reject(new Error(`test server exited with ${code}`))
    })
  })

const writeJsonl = async (file, lines, url) => {
  const out = fs.createWriteStream(file)
  let chunk = ""
  for (let i = 0; i < lines; i++) {
    chunk += `{"url":"${url}/?i=${i}","httpOp":"GET"}\n`
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await new Promise((r) => out.once("drain", r))
      chunk = ""
    }
  }
  out.end(chunk)
  await new Promise((r) => out.on("finish", r))
}

const readHwmKb = (pid) => {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
    const match = /VmHWM:\s+(\d+) kB/.exec(status)
    return match ? Number(match[1]) : 0
  } catch {
    return 0
  }
}

const rawScript = path.join(root, "bench/raw-undici-jsonl.js")
let bin = path.join(root, "packages/cli/dist/bin.js")
const cliArgs = (file, outFile) => [bin, "send", file, "--quiet", "--concurrency", String(concurrency), "--output", outFile]
const rawArgs = (file, outFile) => [rawScript, file, outFile, String(concurrency)]

const runClient = (args) =>
  new Promise((resolve) => {
    const started = performance.now()
    const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (c) => (stderr += c))
    let peakKb = 0
    const sampler = setInterval(() => (peakKb = Math.max(peakKb, readHwmKb(child.pid))), 50)
    let cutOff = false
    const limit = setTimeout(() => {
      cutOff = true
      peakKb = Math.max(peakKb, readHwmKb(child.pid))
      child.kill("SIGKILL")
    }, runLimitMs)
    child.on("exit", (code) => {
      clearInterval(sampler)
      clearTimeout(limit)
      const seconds = (performance.now() - started) / 1000
      resolve({ code, seconds, peakKb, stderr, cutOff })
    })
  })

const countLines = async (file) => {
  let lines = 0
  let errors = 0
  const tags = {}
  let carry = ""
  for await (const chunk of fs.createReadStream(file, { encoding: "utf8" })) {
    const parts = (carry + chunk).split("\n")
    carry = parts.pop()
    for (const line of parts) {
      lines++
      if (line.includes('"error":{')) {
        errors++
        const tag = /"error":\{"_tag":"(\w+)"/.exec(line)?.[1] ?? "?"
        tags[tag] = (tags[tag] ?? 0) + 1
        if (errors === 1) console.error(`first failure: ${line.slice(0, 600)}`)
      }
    }
  }
  return { lines, errors, tags }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "loamy-cli-bench-"))
if (bundled) {
  const outdir = path.join(root, "packages/cli/dist/bench-bundle")
  execFileSync(process.execPath, [path.join(root, "packages/cli/scripts/bundle.js"), outdir], { stdio: "ignore", timeout: 120_000 })
  bin = path.join(outdir, "loamy.js")
}
const server = await startServer()
const results = []
try {
  for (const lines of sizes) {
    const file = path.join(dir, `requests-${lines}.jsonl`)
    const outFile = path.join(dir, `responses-${lines}.jsonl`)
    await writeJsonl(file, lines, server.url)
    const raw = await runClient(rawArgs(file, outFile))
    const rawWritten = await countLines(outFile)
    fs.rmSync(outFile)
    const run = await runClient(cliArgs(file, outFile))
    const written = await countLines(outFile)
    fs.rmSync(outFile)
    fs.rmSync(file)
    const rawReqPerSec = Math.round(rawWritten.lines / raw.seconds)
    const result = {
      lines,
      exitCode: run.code,
      cutOff: run.cutOff,
      seconds: Number(run.seconds.toFixed(1)),
      reqPerSec: Math.round(written.lines / run.seconds),
      rawReqPerSec,
      ratioToRaw: Number((written.lines / run.seconds / rawReqPerSec).toFixed(2)),
      peakRssMb: Number((run.peakKb / 1024).toFixed(1)),
      rawPeakRssMb: Number((raw.peakKb / 1024).toFixed(1)),
      rawResponses: rawWritten.lines,
      responses: written.lines,
      failed: written.errors,
      errorTags: written.tags
    }
    results.push(result)
    console.log(JSON.stringify(result))
    if (run.code !== 0) console.error(run.stderr)
    if (raw.code !== 0 || rawWritten.errors > 0) console.error(`raw undici: exit ${raw.code}\n${raw.stderr}`)
  }
} finally {
  stopping = true
  server.child.stdin.end()
  server.child.kill("SIGTERM")
  fs.rmSync(dir, { recursive: true, force: true })
  if (bundled) fs.rmSync(path.dirname(bin), { recursive: true, force: true })
}

console.log(`\nloamy send (${bundled ? "bundled, as packed" : "tsc build"}), concurrency ${concurrency}, node ${process.version}, ${os.cpus().length} cores`)
console.log("| lines | time (s) | req/s | raw undici req/s | × raw | peak RSS (MB) | raw peak RSS (MB) | responses | failed |")
console.log("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for (const r of results) {
  const note = r.cutOff ? ` (cut off after ${runLimitMs / 1000} s)` : ""
  console.log(
    `| ${r.lines} | ${r.seconds}${note} | ${r.reqPerSec} | ${r.rawReqPerSec} | ${r.ratioToRaw} | ${r.peakRssMb} | ` +
      `${r.rawPeakRssMb} | ${r.responses} | ${r.failed} |`
  )
}
const slowest = Math.min(...results.map((r) => r.ratioToRaw))
const peakRss = Math.max(...results.map((r) => r.peakRssMb))
console.log(`\nthroughput × raw undici, lowest ${slowest} (target >= 0.6): ${slowest >= 0.6 ? "met" : "MISSED"}`)
console.log(`peak RSS ${peakRss} MB (target <= 150): ${peakRss <= 150 ? "met" : "MISSED"}`)
if (results.length >= 2) {
  const small = results[0]
  const big = results[results.length - 1]
  const ratio = big.peakRssMb / small.peakRssMb
  console.log(
    `RSS(${big.lines}) / RSS(${small.lines}) = ${ratio.toFixed(2)} (target <= 1.2): ${ratio <= 1.2 ? "met" : "MISSED"}`
  )
}
