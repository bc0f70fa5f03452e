/**
 * The calling thread's half of the synchronous door: one lazily started,
 * `unref`ed worker; each call posts its checked batch, blocks in
 * `Atomics.wait` on a shared counter the worker bumps after every reply (or
 * when it dies), and reads the reply with `receiveMessageOnPort`.
 *
 * @internal
 */
import type { Options, RequestMap, RequestResponse } from "@loamy/core"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads"
import { SyncTimeoutError, WorkerError } from "../errors.js"
import { decodeError, decodeResponses, KeyMemory, type Reply } from "./wire.js"
import type { Job } from "./workerMain.js"

/**
 * How long a call waits without a deadline, and how much longer than its
 * deadline it waits with one (the worker still has to fold and post the
 * results after the deadline).
 *
 * @internal
 */
export const config = {
  defaultWaitMs: 300_000,
  deadlineMarginMs: 5_000,
  workerUrl: new URL("./worker.js", import.meta.url)
}

interface Thread {
  readonly worker: Worker
  readonly port: MessagePort
  /** [0]: bumped after every reply and on death; [1]: 1 once the worker is dead. */
  readonly state: Int32Array
  exited: boolean
  crash: string | undefined
  /** The options keys this worker has been sent (see `KeyMemory`). */
  readonly sent: KeyMemory<true>
}

let thread: Thread | undefined
let nextId = 0
let crashNext: number | undefined

const start = (): Thread => {
  const path = fileURLToPath(config.workerUrl)
  if (!existsSync(path)) throw new WorkerError(`could not start: ${path} is missing`)
  const { port1, port2 } = new MessageChannel()
  const buffer = new SharedArrayBuffer(8)
  let worker: Worker
  try {
    worker = new Worker(config.workerUrl, {
      workerData: { port: port2, state: buffer },
      transferList: [port2],
      // The worker is shipped JavaScript: it needs none of the caller's loaders or flags.
      execArgv: [],
      // 32 MB semi-spaces (Node 20's default is 16): with hundreds of requests in flight much of each scavenge
      // is still alive, and a larger young generation copies it less often (bench/README.md, young-gen.js).
      resourceLimits: { maxYoungGenerationSizeMb: 96 }
    })
  } catch (cause) {
    port1.close()
    throw new WorkerError("could not start", { cause })
  }
  worker.unref()
  port1.unref()
  const self: Thread = {
    worker,
    port: port1,
    state: new Int32Array(buffer),
    exited: false,
    crash: undefined,
    sent: new KeyMemory()
  }
  // Without a listener a worker's error would be thrown on this thread; it is reported by the next wait instead.
  worker.on("error", (error) => {
    self.crash ??= error instanceof Error ? error.stack ?? error.message : String(error)
  })
  worker.on("exit", () => {
    self.exited = true
    port1.close()
    if (thread === self) thread = undefined
  })
  return self
}

const forget = (self: Thread) => {
  if (thread === self) thread = undefined
  if (!self.exited) void self.worker.terminate()
}

/**
 * Runs a checked batch on the worker and waits for it, at most `waitMs`.
 *
 * @internal
 */
export const call = (
  requests: ReadonlyArray<RequestMap.RequestMap>,
  options: Options.Resolved,
  waitMs: number
): Array<RequestResponse.RequestResponse> => {
  let self = thread
  if (self === undefined || self.exited || Atomics.load(self.state, 1) === 1) {
    if (self !== undefined) forget(self)
    self = thread = start()
  }
  const id = ++nextId
  const key = keyOf(options)
  // Options go with the first job of a key only; the worker remembers them (and their prepared pipeline).
  const first = !self.sent.has(key)
  if (first) self.sent.add(key, true)
  const job: Job = crashNext === undefined
    ? { type: "send", id, requests, key, options: first ? options : undefined }
    : { type: "send", id, requests, key, options: first ? options : undefined, crashAfterMs: crashNext }
  crashNext = undefined
  try {
    self.worker.postMessage(job)
  } catch (cause) {
    forget(self)
    throw new WorkerError("refused the batch (it could not be cloned)", { cause })
  }
  const until = performance.now() + waitMs
  for (;;) {
    const seen = Atomics.load(self.state, 0)
    let received: { message: unknown } | undefined
    while ((received = receiveMessageOnPort(self.port)) !== undefined) {
      const message = received.message as Reply | { type: "crash"; message: string }
      if ("type" in message) {
        self.crash = message.message
      } else if (message.id === id) {
        if (message.ok) return decodeResponses(message.responses, requests)
        throw decodeError(message.error)
      }
    }
    if (Atomics.load(self.state, 1) === 1 || self.exited) {
      forget(self)
      throw new WorkerError(
        self.crash === undefined ? "stopped during the call" : `stopped during the call: ${self.crash}`
      )
    }
    const remaining = until - performance.now()
    if (remaining <= 0) {
      self.worker.postMessage({ type: "abort", id } satisfies Job)
      throw new SyncTimeoutError(waitMs)
    }
    Atomics.wait(self.state, 0, seen, remaining)
  }
}

const keys = new WeakMap<Options.Resolved, string>()

/**
 * Names a decoded options value for the worker, which keeps the value (and
 * the pipeline it prepares for it, when the core says it can) by this key:
 * equal keys, the same behaviour. A call without options always passes the
 * same value, so its key is made once.
 *
 * @internal
 */
export const keyOf = (options: Options.Resolved): string => {
  let key = keys.get(options)
  if (key === undefined) keys.set(options, key = JSON.stringify(options))
  return key
}

/** The wait bound of a call with these options. @internal */
export const waitFor = (options: Options.Resolved): number =>
  options.deadlineMs !== undefined ? options.deadlineMs + config.deadlineMarginMs : config.defaultWaitMs

/** Starts the worker now, so the first call does not pay for its start. @internal */
export const warmUp = (): void => {
  if (thread === undefined || thread.exited) thread = start()
}

/** Stops the worker; the next call starts a fresh one. @internal */
export const stop = async (): Promise<void> => {
  const self = thread
  thread = undefined
  if (self !== undefined && !self.exited) await self.worker.terminate()
}

/**
 * Hooks for loamy's own tests.
 *
 * @internal
 */
export const testing = {
  /** Makes the worker crash `afterMs` into the next call. */
  crashNextCall: (afterMs: number): void => {
    crashNext = afterMs
  },
  /** The current worker, if one is running. */
  worker: (): Worker | undefined => thread?.worker,
  /** Stops the worker; the next call starts a fresh one. */
  stop
}
