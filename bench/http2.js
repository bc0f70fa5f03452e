// HTTP/2 against HTTP/1.1 on the same TLS server, same run (issue 21, item 8): the Promise door sends N GETs at
// concurrency C with `http2: true` and without, in rounds that alternate them (each round a fresh process per
// variant, so every run pays its own TLS handshakes), and prints the median req/s, CPU and peak RSS of each and
// their ratio. The server (`packages/loamy/test/fixtures/tls-server.mjs`, HTTP/2 and HTTP/1.1 by ALPN) runs in a
// process of its own, with a CA and a certificate made here with openssl in a temporary directory.
//
//   node bench/http2.js                     # tsc -b first; N=10000 C=64,256 ROUNDS=5 by default
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const n = Number(process.env.N ?? 10_000)
const concurrencies = (process.env.C ?? "64,256").split(",").map(Number)
const rounds = Number(process.env.ROUNDS ?? 5)

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "loamy-h2-bench-"))
const openssl = (...args) => execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] })
const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
openssl("req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=loamy bench CA")
openssl("req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
fs.writeFileSync(path.join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem", "-days", "1", "-extfile", "ext.cnf")

const server = await new Promise((resolve, reject) => {
  const child = spawn(process.execPath, [
    path.join(root, "packages/loamy/test/fixtures/tls-server.mjs"),
    path.join(dir, "server.key"),
    path.join(dir, "server.pem"),
    "h2"
  ], { stdio: ["pipe", "pipe", "inherit"] })
  child.on("exit", (code) => reject(new Error(`TLS server exited with ${code}`)))
  child.stdout.once("data", (chunk) => resolve({ url: JSON.parse(String(chunk)).url, child }))
})

// One run: a fresh process sends N GETs through the Promise door, after a warm-up of 500.
const script = `
import { sendRequests, close } from "loamy"
import * as fs from "node:fs"
const [url, n, c, http2, caPath] = process.argv.slice(1)
const options = { concurrency: Number(c), http2: http2 === "1", ca: fs.readFileSync(caPath, "utf8") }
const requests = (k) => Array.from({ length: k }, () => ({ url: url + "/", httpOp: "GET" }))
await sendRequests(requests(500), options)
let peak = process.memoryUsage.rss()
const timer = setInterval(() => { peak = Math.max(peak, process.memoryUsage.rss()) }, 20)
const cpu = process.cpuUsage()
const t = performance.now()
const responses = await sendRequests(requests(Number(n)), options)
const ms = performance.now() - t
const used = process.cpuUsage(cpu)
clearInterval(timer)
const seen = new Set(responses.map((r) => r.body?.httpVersion))
const failed = responses.filter((r) => r.error !== undefined).length
await close()
console.log(JSON.stringify({ reqs: Number(n) / ms * 1000, cpuUs: (used.user + used.system) / Number(n), rss: peak, versions: [...seen], failed }))
`
const runOnce = (c, http2) =>
  JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", script, server.url, String(n), String(c), http2 ? "1" : "0", path.join(dir, "ca.pem")], {
    cwd: path.join(root, "packages/loamy"),
    encoding: "utf8",
    timeout: 300_000
  }).trim().split("\n").pop())

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

console.log(`Node ${process.version}, ${n} GETs per run over TLS, ${rounds} rounds alternating the variants (median)`)
try {
  for (const c of concurrencies) {
    const results = { "HTTP/1.1": [], "HTTP/2": [] }
    const ratios = []
    for (let round = 0; round < rounds; round++) {
      const h1 = runOnce(c, false)
      const h2 = runOnce(c, true)
      if (h1.failed + h2.failed > 0 || h1.versions.join() !== "1.1" || h2.versions.join() !== "2.0") {
        throw new Error(`round ${round}: unexpected ${JSON.stringify({ h1, h2 })}`)
      }
      results["HTTP/1.1"].push(h1)
      results["HTTP/2"].push(h2)
      ratios.push(h2.reqs / h1.reqs)
    }
    console.log(`\nconcurrency ${c}`)
    console.log("protocol       req/s  CPU µs/req  peak RSS MB")
    for (const [name, runs] of Object.entries(results)) {
      console.log(
        `${name.padEnd(10)} ${median(runs.map((r) => r.reqs)).toFixed(0).padStart(9)} ${
          median(runs.map((r) => r.cpuUs)).toFixed(1).padStart(11)
        } ${(median(runs.map((r) => r.rss)) / 1024 / 1024).toFixed(0).padStart(12)}`
      )
    }
    console.log(`HTTP/2 ÷ HTTP/1.1 req/s, per round: ${ratios.map((r) => r.toFixed(2)).join(", ")}; median ${median(ratios).toFixed(2)}`)
    const cpu = median(results["HTTP/2"].map((r) => r.cpuUs)) / median(results["HTTP/1.1"].map((r) => r.cpuUs))
    console.log(`HTTP/2 ÷ HTTP/1.1 CPU per request (medians): ${cpu.toFixed(2)}`)
  }
} finally {
  server.child.removeAllListeners("exit")
  server.child.stdin.end()
  fs.rmSync(dir, { recursive: true, force: true })
}
