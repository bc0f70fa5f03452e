// Peak RSS of 100k GETs at the Promise door, array form against stream forms, and the Effect door's
// `Clump.streamFrom` beside them (issue 21, item 6). Each form runs in a fresh process against the test server
// (in a process of its own), so the RSS printed is that client's alone. N=... for another count.
//
//   node bench/stream-memory.js            # tsc -b first
//   BYTES=4000 node bench/stream-memory.js # 4 KB bodies: what holding every response costs shows
import { execFile, spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const serverMain = path.join(root, "packages/test-server/dist/main.js")
// The child that runs one form: the same one the test uses for its bound.
const child = path.join(root, "packages/loamy/test/fixtures/stream-memory.mjs")
const n = Number(process.env.N ?? 100_000)
// BYTES=4000: each response a JSON string of that many bytes (the test server's /big), instead of / (27 bytes).
const bytes = process.env.BYTES
const forms = ["send", "effect-stream", "stream-array", "stream-generator", "stream-lines"]

const server = await new Promise((resolve, reject) => {
  const process_ = spawn(process.execPath, [serverMain, "--exit-with-stdin"], { stdio: ["pipe", "pipe", "inherit"] })
  let out = ""
  process_.on("exit", (code) => reject(new Error(`test server exited with ${code}`)))
  process_.stdout.on("data", (chunk) => {
    out += chunk
    const newline = out.indexOf("\n")
    if (newline >= 0) resolve({ url: JSON.parse(out.slice(0, newline)).url, process: process_ })
  })
})

const run = (form) =>
  new Promise((resolve, reject) => {
    const started = performance.now()
    execFile(process.execPath, [child, bytes === undefined ? server.url : `${server.url}/big?bytes=${bytes}`, String(n), form], { cwd: path.join(root, "packages/loamy"), timeout: 600_000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`${form}: ${error.message}\n${stderr}`))
      resolve({ ...JSON.parse(stdout.trim().split("\n").pop()), seconds: (performance.now() - started) / 1000 })
    })
  })

console.log(`Node ${process.version}, ${n} GETs of ${bytes === undefined ? "/" : `/big?bytes=${bytes}`} at concurrency 100, one fresh process per form`)
console.log("form                 responses     ok  peak RSS MB  seconds")
try {
  for (const form of forms) {
    const result = await run(form)
    console.log(
      `${form.padEnd(20)} ${String(result.count).padStart(9)} ${String(result.ok).padStart(6)} ${
        (result.peakRssBytes / 1024 / 1024).toFixed(0).padStart(12)
      } ${result.seconds.toFixed(1).padStart(8)}`
    )
  }
} finally {
  server.process.removeAllListeners("exit")
  server.process.stdin.end()
}
