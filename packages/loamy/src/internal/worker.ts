/**
 * The synchronous door's worker thread, entry point. It imports nothing but
 * Node built-ins before it can report its own death, so a worker whose
 * dependencies fail to load still wakes the blocked caller with an error
 * instead of leaving it to its wait bound.
 *
 * @internal
 */
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { type MessagePort, workerData } from "node:worker_threads"

interface Data {
  readonly port: MessagePort
  readonly state: SharedArrayBuffer
}

const { port, state: buffer } = workerData as Data
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

// The packed package ships the worker bundled in one file (see scripts/bundle-worker.js): it loads ~3x faster.
const bundle = new URL("./worker.bundle.js", import.meta.url)
await (existsSync(fileURLToPath(bundle)) ? import(bundle.href) : import("./workerMain.js"))
