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
 *   BENCH_RAW=1 node bench/download-memory.js          undici.request piped to files, loamy not loaded
 *   BENCH_RAW=effect node bench/download-memory.js     the same, with loamy (and Effect) loaded but unused
 *
 * Needs `npx tsc -b` first (it imports the built `loamy`). Writes to a
 * temporary directory, removed at the end (it needs DOWNLOADS × SIZE_MB free).
 */
import { createHash } from "node:crypto"
import { createWriteStream, mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Transform } from "node:stream"
import { pipeline } from "node:stream/promises"
import { sha256Of, startRemoteRangeServer } from "../packages/test-kit/dist/ranges.js"

const raw = process.env.BENCH_RAW
// The floor to compare with: undici's bodies piped to files (and hashed), without loamy unless asked.
const loamy = raw === undefined || raw === "effect" ? await import("loamy") : undefined
const undici = raw === undefined ? undefined : await import("undici")

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
  const responses = undici === undefined
    ? await loamy.sendRequests(requests, {
      concurrency,
      saveDir: dir,
      saveName: "{index}.bin",
      maxBodyBytes: size,
      timeout: "10 minutes"
    })
    : await Promise.all(requests.map(async (request, i) => {
      const { body } = await undici.request(request.url)
      const path = join(dir, `${i}.bin`)
      const hash = createHash("sha256")
      let bytes = 0
      const hashing = new Transform({
        transform(chunk, _, done) {
          hash.update(chunk)
          bytes += chunk.byteLength
          done(null, chunk)
        }
      })
      await pipeline(body, hashing, createWriteStream(path))
      return { saved: { path, bytes, sha256: hash.digest("hex") } }
    }))
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
  const what = raw === undefined ? "loamy" : `raw undici${raw === "effect" ? ", loamy loaded" : ""}`
  console.log(`downloads:   ${downloads} × ${sizeMb} MB at concurrency ${concurrency} (${mb(downloads * size)} MB), ${what}`)
  console.log(`verified:    ${ok}/${downloads} (size and SHA-256)`)
  console.log(`time:        ${seconds.toFixed(2)} s, ${(downloads * sizeMb / seconds).toFixed(0)} MB/s`)
  console.log(`RSS:         baseline ${mb(baseline)} MB, peak ${mb(peak)} MB (+${mb(peak - baseline)} MB)`)
  process.exitCode = ok === downloads ? 0 : 1
} finally {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
  await loamy?.close()
}
