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
 *   BENCH_ENTRY=bundle node bench/download-memory.js   loamy's packed entry (scripts/bundle-entry.js, as
 *                                                      `npm pack` builds it, on a copy) instead of the module tree
 *
 * Besides the peak RSS it prints the peaks of `external` and `arrayBuffers`
 * (process.memoryUsage(), sampled with it): the bodies' chunks live there.
 *
 * Needs `npx tsc -b` first (it imports the built `loamy`). Writes to a
 * temporary directory, removed at the end (it needs DOWNLOADS × SIZE_MB free).
 */
import { createHash } from "node:crypto"
import { execFileSync } from "node:child_process"
import { cpSync, createWriteStream, mkdtempSync, rmSync, statSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { Transform } from "node:stream"
import { pipeline } from "node:stream/promises"
import { fileURLToPath, pathToFileURL } from "node:url"
import { sha256Of, startRemoteRangeServer } from "../packages/test-kit/dist/ranges.js"

const raw = process.env.BENCH_RAW

/**
 * `loamy` as the workspace builds it (tsc's module tree), or with BENCH_ENTRY=bundle as users install it: its
 * dist/ copied beside the package (so that what the bundle leaves out resolves as from the package) and its
 * prepack bundling run on the copy, as test/prepare-packed.mjs does. The copy is removed once it is imported.
 */
async function importLoamy() {
  if (process.env.BENCH_ENTRY !== "bundle") return import("loamy")
  const pkg = join(dirname(fileURLToPath(import.meta.url)), "../packages/loamy")
  const copy = mkdtempSync(join(pkg, ".bench-bundle-"))
  try {
    cpSync(join(pkg, "dist"), join(copy, "dist"), { recursive: true })
    cpSync(join(pkg, "package.json"), join(copy, "package.json"))
    execFileSync(process.execPath, [join(pkg, "scripts/bundle-entry.js"), copy], { stdio: "ignore" })
    return await import(pathToFileURL(join(copy, "dist/index.js")).href)
  } finally {
    rmSync(copy, { recursive: true, force: true })
  }
}
// The floor to compare with: undici's bodies piped to files (and hashed), without loamy unless asked.
const loamy = raw === undefined || raw === "effect" ? await importLoamy() : undefined
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
  const start = process.memoryUsage()
  const baseline = start.rss
  let peak = baseline
  let peakExternal = start.external
  let peakArrayBuffers = start.arrayBuffers
  const sample = () => {
    const now = process.memoryUsage()
    peak = Math.max(peak, now.rss)
    peakExternal = Math.max(peakExternal, now.external)
    peakArrayBuffers = Math.max(peakArrayBuffers, now.arrayBuffers)
  }
  const timer = setInterval(sample, 10)
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
  sample()
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
  const entry = process.env.BENCH_ENTRY === "bundle" ? "loamy's bundled entry" : "loamy"
  const what = raw === undefined ? entry : `raw undici${raw === "effect" ? `, ${entry} loaded` : ""}`
  console.log(`downloads:   ${downloads} × ${sizeMb} MB at concurrency ${concurrency} (${mb(downloads * size)} MB), ${what}`)
  console.log(`verified:    ${ok}/${downloads} (size and SHA-256)`)
  console.log(`time:        ${seconds.toFixed(2)} s, ${(downloads * sizeMb / seconds).toFixed(0)} MB/s`)
  console.log(`RSS:         baseline ${mb(baseline)} MB, peak ${mb(peak)} MB (+${mb(peak - baseline)} MB)`)
  console.log(
    `external:    baseline ${mb(start.external)} MB, peak ${mb(peakExternal)} MB; arrayBuffers peak ${mb(peakArrayBuffers)} MB`
  )
  process.exitCode = ok === downloads ? 0 : 1
} finally {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
  await loamy?.close()
}
