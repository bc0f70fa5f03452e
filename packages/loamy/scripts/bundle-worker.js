// Bundles the synchronous door's worker (workerMain.js and everything it imports) into one script,
// dist/internal/worker.bundle.js, which the worker entry (dist/internal/worker.js) runs instead of the module
// tree when it is there, and makes a V8 code cache for it, dist/internal/worker.bundle.cache, which spares the
// worker compiling the bundle: together they take the first synchronous call from hundreds of milliseconds to
// well under a hundred. Run by `prepack` (both are removed again by `postpack`), so development always runs the
// module tree.
//
//   node scripts/bundle-worker.js [outfile]      (the cache goes next to it, named <outfile minus .js>.cache)
//
// The bundle is CommonJS-shaped (esbuild's `cjs` format), because only a classic script (vm.Script) can be
// compiled with a code cache. undici comes in through its public entry point, as the client imports it: its
// fetch, WebSocket, cache stores and mocks come along (about 200 KB of the bundle's 740 KB, and some 13 ms of the
// first synchronous call's 80 ms), the price of not reaching into undici's private lib/ files.
//
// The cache is made by running the bundle in a worker, through the shipped entry, over a few requests to a
// server on 127.0.0.1, so that the functions a call needs are compiled; then a second worker checks that V8
// takes it. It only helps on the V8 it was made with (the entry ignores it on any other, and any cache that
// is not for this very bundle); without it the bundle still loads, only slower.
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { createServer } from "node:http"
import { tmpdir } from "node:os"
import { basename, dirname, join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { MessageChannel, receiveMessageOnPort, Worker } from "node:worker_threads"

const entry = fileURLToPath(new URL("../dist/internal/workerMain.js", import.meta.url))
const workerEntry = fileURLToPath(new URL("../dist/internal/worker.js", import.meta.url))
const outfile = process.argv[2] ?? fileURLToPath(new URL("../dist/internal/worker.bundle.js", import.meta.url))
const cachefile = join(dirname(outfile), `${basename(outfile, ".js")}.cache`)

let esbuild
try {
  esbuild = await import("esbuild")
} catch {
  console.error("bundle-worker: esbuild is not installed; the worker will load its modules one by one")
  process.exit(1)
}

rmSync(cachefile, { force: true })
await esbuild.build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  minify: true,
  platform: "node",
  format: "cjs",
  target: "node22",
  legalComments: "none",
  logLevel: "warning"
})
// The entry runs the bundle as a classic script (vm.Script), where `import()` has no loader to call.
if (/\bimport\(/.test(readFileSync(outfile, "utf8"))) {
  console.error("bundle-worker: the bundle has a dynamic import(), which the worker entry cannot run")
  process.exit(1)
}
console.log(`bundle-worker: wrote ${outfile}`)

// The entry, next to a copy of the bundle, in a directory of its own: the cache is made and checked through
// the code path that will use it.
const dir = mkdtempSync(join(tmpdir(), "loamy-bundle-worker-"))
const server = createServer((req, res) => {
  const body = req.url === "/text" ? "not json" : JSON.stringify({ message: "Hello, world!" })
  res.writeHead(200, { "content-type": req.url === "/text" ? "text/plain" : "application/json", "content-length": Buffer.byteLength(body) })
  res.end(body)
})
try {
  copyFileSync(workerEntry, join(dir, "worker.js"))
  copyFileSync(outfile, join(dir, "worker.bundle.js"))
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve))
  const url = `http://127.0.0.1:${server.address().port}`
  const { Options } = await import("@loamy/core")
  const options = Options.decode(undefined).success
  const get = (path) => ({ url: `${url}${path}`, httpOp: "GET" })
  const made = await inWorker(dir, [
    { type: "send", id: 1, requests: [get("/")], key: "warm", options },
    { type: "send", id: 2, requests: [get("/")], key: "warm" },
    { type: "send", id: 3, requests: [get("/"), get("/text")], key: "warm" },
    { type: "send", id: 4, requests: [get("/")], key: undefined, options: { ...options, deadlineMs: 60_000 } }
  ], "make")
  writeFileSync(join(dir, "worker.bundle.cache"), made.data)
  const checked = await inWorker(dir, [{ type: "send", id: 1, requests: [get("/")], key: "warm", options }], "status")
  if (checked.status !== "used") throw new Error(`the worker did not take the cache it was given (${checked.status})`)
  writeFileSync(cachefile, made.data)
  console.log(`bundle-worker: wrote ${cachefile} (V8 ${process.versions.v8}, ${process.arch})`)
} catch (error) {
  // The bundle alone still works: warn, ship it without a cache.
  console.error(`bundle-worker: no code cache: ${error instanceof Error ? error.message : String(error)}`)
} finally {
  server.close()
  rmSync(dir, { recursive: true, force: true })
}

/** Runs the entry in `dir`, sends it `jobs` one after the other, then asks its cache port `ask`. */
async function inWorker(dir, jobs, ask) {
  const { port1, port2 } = new MessageChannel()
  const cache = new MessageChannel()
  // The four slots of the synchronous door's state (see `sync.slots`), so that the heartbeat's code runs too.
  const state = new SharedArrayBuffer(16)
  const worker = new Worker(pathToFileURL(join(dir, "worker.js")), {
    workerData: { port: port2, state, cachePort: cache.port2 },
    transferList: [port2, cache.port2],
    execArgv: []
  })
  const failed = new Promise((_, reject) => {
    worker.on("error", reject)
    worker.on("exit", (code) => reject(new Error(`the worker exited (${code})`)))
  })
  // Terminating it at the end is no failure.
  failed.catch(() => undefined)
  const timeout = (ms, what) =>
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms).unref())
  try {
    for (const job of jobs) {
      worker.postMessage(job)
      const replied = new Promise((resolve) => {
        const poll = () => {
          const received = receiveMessageOnPort(port1)
          if (received !== undefined) return resolve(received.message)
          setTimeout(poll, 5)
        }
        poll()
      })
      const reply = await Promise.race([replied, failed, timeout(30_000, `job ${job.id}`)])
      if (reply.ok !== true) throw new Error(`job ${job.id} failed: ${JSON.stringify(reply)}`)
    }
    const answer = new Promise((resolve) => cache.port1.once("message", resolve))
    cache.port1.postMessage(ask)
    return await Promise.race([answer, failed, timeout(30_000, ask)])
  } finally {
    cache.port1.close()
    port1.close()
    await worker.terminate()
  }
}
