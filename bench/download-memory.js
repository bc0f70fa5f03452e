/**
 * Downloads and memory: DOWNLOADS files of SIZE_MB each (default 8 × 128 MB,
 * 1 GB in all) at CONCURRENCY (default 8) with `saveDir`, from a loopback
 * server in a process of its own that generates its bytes as it sends them
 * (the test kit's range server, packages/test-kit/src/ranges.ts). Prints the peak RSS of
 * this process (sampled every 10 ms), the throughput, and checks every
 * file's size and SHA-256.
 *
 *   node bench/download-memory.js
 *   DOWNLOADS=16 SIZE_MB=64 CONCURRENCY=8 node bench/download-memory.js
 *
 * Needs `npx tsc -b` first (it imports the built `loamy`). Writes to a
 * temporary directory, removed at the end (it needs DOWNLOADS × SIZE_MB free).
 */
import { mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { close, sendRequests } from "loamy"
import { sha256Of, startRemoteRangeServer } from "../packages/test-kit/dist/ranges.js"

const downloads = Number(process.env.DOWNLOADS ?? 8)
const sizeMb = Number(process.env.SIZE_MB ?? 128)
const concurrency = Number(process.env.CONCURRENCY ?? 8)
const size = sizeMb * 1024 * 1024

const server = await startRemoteRangeServer()
const url = server.url
const dir = mkdtempSync(join(tmpdir(), "loamy-bench-dl-"))

try {
  const requests = Array.from({ length: downloads }, (_, i) => ({ url: `${url}/bytes/${size}?seed=${i}`, httpOp: "GET" }))
  const baseline = process.memoryUsage().rss
  let peak = baseline
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss)
  }, 10)
  const started = performance.now()
  const responses = await sendRequests(requests, {
    concurrency,
    saveDir: dir,
    saveName: "{index}.bin",
    maxBodyBytes: size,
    timeout: "10 minutes"
  })
  const seconds = (performance.now() - started) / 1000
  clearInterval(timer)
  peak = Math.max(peak, process.memoryUsage().rss)
  const mb = (bytes) => (bytes / 1024 / 1024).toFixed(1)
  let ok = 0
  for (const [i, response] of responses.entries()) {
    if (response.error !== undefined) {
      console.error(`request ${i}: ${response.error.message}`)
      continue
    }
    if (statSync(response.saved.path).size !== size) console.error(`request ${i}: wrong size`)
    else if (response.saved.sha256 !== sha256Of(size, i)) console.error(`request ${i}: wrong SHA-256`)
    else ok++
  }
  console.log(`downloads:   ${downloads} × ${sizeMb} MB at concurrency ${concurrency} (${mb(downloads * size)} MB)`)
  console.log(`verified:    ${ok}/${downloads} (size and SHA-256)`)
  console.log(`time:        ${seconds.toFixed(2)} s, ${(downloads * sizeMb / seconds).toFixed(0)} MB/s`)
  console.log(`RSS:         baseline ${mb(baseline)} MB, peak ${mb(peak)} MB (+${mb(peak - baseline)} MB)`)
  process.exitCode = ok === downloads ? 0 : 1
} finally {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
  await close()
}
