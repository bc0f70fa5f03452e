// Streams large generated JSONL files through the built `loamy send` and
// reports its throughput and peak RSS at 100k and 1M lines. The test server
// runs in a process of its own so it does not share a core's time slices
// with the CLI being measured. Not part of `npm test`.
//
//   npm run bench:cli                 # 100k and 1M lines
//   LINES=20000,100000 node bench/cli-stream.js
//
// Peak RSS is the kernel's high-water mark (VmHWM in /proc/PID/status),
// sampled every 50 ms while the CLI runs and read once more at its exit.
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const bin = path.join(root, "packages/cli/dist/bin.js")
const serverMain = path.join(root, "packages/test-server/dist/main.js")
const sizes = (process.env.LINES ?? "100000,1000000").split(",").map(Number)
const concurrency = Number(process.env.CONCURRENCY ?? 100)
// A bound for each run: 1M requests on 2 cores takes minutes, not hours. A run cut
// off by it still reports what it did (responses written, peak RSS so far), marked.
const runLimitMs = Number(process.env.RUN_LIMIT_MS ?? 30 * 60_000)

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

const runCli = (file, outFile) =>
  new Promise((resolve) => {
    const started = performance.now()
    const child = spawn(process.execPath, [bin, "send", file, "--quiet", "--concurrency", String(concurrency), "--output", outFile], {
      stdio: ["ignore", "ignore", "pipe"]
    })
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
const server = await startServer()
const results = []
try {
  for (const lines of sizes) {
    const file = path.join(dir, `requests-${lines}.jsonl`)
    const outFile = path.join(dir, `responses-${lines}.jsonl`)
    await writeJsonl(file, lines, server.url)
    const run = await runCli(file, outFile)
    const written = await countLines(outFile)
    fs.rmSync(outFile)
    fs.rmSync(file)
    const result = {
      lines,
      exitCode: run.code,
      cutOff: run.cutOff,
      seconds: Number(run.seconds.toFixed(1)),
      reqPerSec: Math.round(written.lines / run.seconds),
      peakRssMb: Number((run.peakKb / 1024).toFixed(1)),
      responses: written.lines,
      failed: written.errors,
      errorTags: written.tags
    }
    results.push(result)
    console.log(JSON.stringify(result))
    if (run.code !== 0) console.error(run.stderr)
  }
} finally {
  server.child.stdin.end()
  server.child.kill("SIGTERM")
  fs.rmSync(dir, { recursive: true, force: true })
}

console.log(`\nloamy send, concurrency ${concurrency}, node ${process.version}, ${os.cpus().length} cores`)
console.log("| lines | time (s) | req/s | peak RSS (MB) | responses | failed |")
console.log("|---:|---:|---:|---:|---:|---:|")
for (const r of results) {
  const note = r.cutOff ? ` (cut off after ${runLimitMs / 1000} s)` : ""
  console.log(`| ${r.lines} | ${r.seconds}${note} | ${r.reqPerSec} | ${r.peakRssMb} | ${r.responses} | ${r.failed} |`)
}
if (results.length >= 2) {
  const small = results[0]
  const big = results[results.length - 1]
  const ratio = big.peakRssMb / small.peakRssMb
  const peak = Math.max(...results.map((r) => r.peakRssMb))
  console.log(`\npeak RSS ${peak} MB (target <= 250): ${peak <= 250 ? "met" : "MISSED"}`)
  console.log(
    `RSS(${big.lines}) / RSS(${small.lines}) = ${ratio.toFixed(2)} (target <= 1.2): ${ratio <= 1.2 ? "met" : "MISSED"}`
  )
}
