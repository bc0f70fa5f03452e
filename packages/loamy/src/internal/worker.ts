/**
 * The synchronous door's worker thread, entry point. It imports nothing but
 * Node built-ins before it can report its own death, so a worker whose
 * dependencies fail to load still wakes the blocked caller with an error
 * instead of leaving it to its wait bound.
 *
 * The packed package ships the worker bundled in one script,
 * `worker.bundle.js`, with a V8 code cache for it, `worker.bundle.cache`
 * (both made by `scripts/bundle-worker.js` at prepack). The bundle is
 * compiled with `vm.Script`, given the cache when the cache is for this V8
 * and for this very bundle: its header names the V8 version and the
 * architecture, and a SHA-256 over the bundle and the cache must match, so a
 * stale, foreign or damaged cache is never handed to V8 (V8 itself only
 * checks versions and flags, and a damaged cache can crash the process). A
 * cache V8 still rejects is simply not used. Without a bundle (the
 * repository's `dist`), the worker loads its module tree.
 *
 * @internal
 */
import { createHash } from "node:crypto"
import { existsSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname } from "node:path"
import { fileURLToPath } from "node:url"
import { Script } from "node:vm"
import { type MessagePort, workerData } from "node:worker_threads"

interface Data {
  readonly port: MessagePort
  readonly state: SharedArrayBuffer
  /** Only `scripts/bundle-worker.js` and tests give one: they ask here for a code cache, or how the cache fared. */
  readonly cachePort?: MessagePort | undefined
}

const { cachePort, port, state: buffer } = workerData as Data
const state = new Int32Array(buffer)

const markDead = () => {
  Atomics.store(state, 1, 1)
  Atomics.add(state, 0, 1)
  Atomics.notify(state, 0)
}

process.on("exit", markDead)
process.on("uncaughtException", (error) => {
  try {
    port.postMessage({ type: "crash", message: error instanceof Error ? error.stack ?? error.message : String(error) })
  } finally {
    process.exit(1)
  }
})

/** What became of the code cache: used, not there, not for this V8 or bundle, or refused by V8. */
type CacheStatus = "used" | "absent" | "mismatch" | "rejected"

const cacheFormat = 1

/**
 * The code cache for `source`, if the file at `cacheFile` holds one made by
 * this V8 on this architecture for exactly these bytes. Its layout: one line
 * of JSON (`format`, `v8`, `arch`, `bytes`, `sha256`), then the cache itself.
 *
 * @internal
 */
const readCache = (source: Buffer, cacheFile: string): { data: Buffer | undefined; status: CacheStatus } => {
  let file: Buffer
  try {
    file = readFileSync(cacheFile)
  } catch {
    return { data: undefined, status: "absent" }
  }
  try {
    const newline = file.indexOf(10)
    if (newline < 0 || newline > 4096) return { data: undefined, status: "mismatch" }
    const header = JSON.parse(file.subarray(0, newline).toString("utf8")) as Record<string, unknown>
    const data = file.subarray(newline + 1)
    if (
      header["format"] !== cacheFormat || header["v8"] !== process.versions.v8 || header["arch"] !== process.arch ||
      header["bytes"] !== data.length || data.length === 0
    ) {
      return { data: undefined, status: "mismatch" }
    }
    const sha256 = createHash("sha256").update(source).update(data).digest("hex")
    return sha256 === header["sha256"] ? { data, status: "used" } : { data: undefined, status: "mismatch" }
  } catch {
    return { data: undefined, status: "mismatch" }
  }
}

/** Writes the layout `readCache` reads. */
const cacheFile = (source: Buffer, data: Buffer): Buffer => {
  const header = {
    format: cacheFormat,
    v8: process.versions.v8,
    arch: process.arch,
    bytes: data.length,
    sha256: createHash("sha256").update(source).update(data).digest("hex")
  }
  return Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`), data])
}

const bundleFile = fileURLToPath(new URL("./worker.bundle.js", import.meta.url))

if (existsSync(bundleFile)) {
  const source = readFileSync(bundleFile)
  const cache = readCache(source, fileURLToPath(new URL("./worker.bundle.cache", import.meta.url)))
  // The bundle is CommonJS-shaped (esbuild's `cjs` format): run as a module body, as Node's own loader would.
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source.toString("utf8")}\n})`, {
    filename: bundleFile,
    cachedData: cache.data
  })
  const status: CacheStatus = cache.data !== undefined && script.cachedDataRejected === true ? "rejected" : cache.status
  const module = { exports: {} }
  ;(script.runInThisContext() as (...args: ReadonlyArray<unknown>) => void)(
    module.exports,
    createRequire(bundleFile),
    module,
    bundleFile,
    dirname(bundleFile)
  )
  if (cachePort !== undefined) {
    cachePort.on("message", (ask: "status" | "make") => {
      cachePort.postMessage(ask === "make" ? { status, data: cacheFile(source, script.createCachedData()) } : { status })
    })
  }
} else {
  await import("./workerMain.js")
}
