/**
 * The calling thread's half of the synchronous door: one lazily started,
 * `unref`ed worker; each call posts its checked batch, blocks in
 * `Atomics.wait` on a shared counter the worker bumps after every reply (or
 * when it dies), and reads the reply with `receiveMessageOnPort`.
 *
 * @internal
 */
import { Options as CoreOptions, type RequestMap, type RequestResponse } from "@loamy/core"
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from "node:worker_threads"
import { SyncTimeoutError, WorkerError } from "../errors.js"
import { decodeError, decodeResponses, describeFailure, KeyMemory, type Part, Parts, type Reply } from "./wire.js"
import type { Job, TestHooks } from "./workerMain.js"

/**
 * The synchronous door's bounds. A call with a `deadline` waits at most that
 * plus `deadlineMarginMs` (the worker still has to fold and post the results
 * after the deadline). A call without one waits as long as its requests'
 * own bounds (`timeout` per attempt, retries) make it run, as the Promise
 * door does, so that a finished result is never lost to the wait: the worker
 * shows it is alive every `heartbeatMs` while it has work, and a worker that
 * shows no sign of life for `stuckMs` is given up on. A call whose attempts
 * have no timeout (`timeout: Infinity`) and no deadline gets `defaultWaitMs`
 * as its deadline, so no wait is unbounded.
 *
 * @internal
 */
export const config = {
  defaultWaitMs: 300_000,
  deadlineMarginMs: 5_000,
  stuckMs: 30_000,
  /** Read when a worker starts. */
  heartbeatMs: 1_000,
  workerUrl: new URL("./worker.js", import.meta.url)
}

/**
 * The shared state's slots: [0] bumped after every reply and on death, [1]
 * 1 once the worker is dead, [2] bumped by the worker's heartbeat, [3] the id
 * of the last reply the caller has read (the worker keeps a reply until then,
 * in case it has to be sent again in parts).
 *
 * @internal
 */
export const slots = { replies: 0, dead: 1, heartbeat: 2, read: 3, length: 4 } as const

interface Thread {
  readonly worker: Worker
  readonly port: MessagePort
  readonly state: Int32Array
  exited: boolean
  crash: string | undefined
  /** The options keys this worker has been sent (see `KeyMemory`). */
  readonly sent: KeyMemory<true>
}

let thread: Thread | undefined
let nextId = 0
let hook: TestHooks | undefined

const start = (): Thread => {
  const path = fileURLToPath(config.workerUrl)
  if (!existsSync(path)) throw new WorkerError(`could not start: ${path} is missing`)
  const { port1, port2 } = new MessageChannel()
  const buffer = new SharedArrayBuffer(4 * slots.length)
  let worker: Worker
  try {
    worker = new Worker(config.workerUrl, {
      workerData: { port: port2, state: buffer, heartbeatMs: config.heartbeatMs },
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

/** How many times a call asks for a reply it could not read to be sent again, in parts. */
const maxAsks = 2

/**
 * Runs a checked batch on the worker and waits for it: at most `waitMs`
 * (`Infinity`: as long as the worker shows signs of life, see `config`).
 *
 * @internal
 */
export const call = (
  requests: ReadonlyArray<RequestMap.RequestMap>,
  options: CoreOptions.Resolved,
  waitMs: number
): Array<RequestResponse.RequestResponse> => {
  let self = thread
  if (self === undefined || self.exited || Atomics.load(self.state, slots.dead) === 1) {
    if (self !== undefined) forget(self)
    self = thread = start()
  }
  const id = ++nextId
  const key = keyOf(options)
  // Options go with the first job of a key only; the worker remembers them (and their prepared pipeline).
  const first = !self.sent.has(key)
  if (first) self.sent.add(key, true)
  const job: Job = hook === undefined
    ? { type: "send", id, requests, key, options: first ? options : undefined }
    : { type: "send", id, requests, key, options: first ? options : undefined, test: hook }
  hook = undefined
  try {
    self.worker.postMessage(job)
  } catch (cause) {
    forget(self)
    throw new WorkerError("refused the batch (it could not be cloned)", { cause })
  }
  const state = self.state
  let now = performance.now()
  const until = now + waitMs
  // Signs of life: the heartbeat's last value and when this thread saw it change (or the call start).
  let beat = Atomics.load(state, slots.heartbeat)
  let beatAt = now
  let parts: Parts | undefined
  let asks = 0
  for (;;) {
    const seen = Atomics.load(state, slots.replies)
    let received: { message: unknown } | undefined
    for (;;) {
      try {
        received = receiveMessageOnPort(self.port)
      } catch (cause) {
        // A message this thread cannot read (too deeply nested for the stack it has left): a part is that
        // response's loss only; a whole reply is asked for again, in parts.
        const reason = `reading it on the calling thread failed: ${describeFailure(cause)}`
        if (parts !== undefined) {
          parts.lose(reason)
          if (parts.done) return read(state, id, parts.finish(options.failFast))
          continue
        }
        if (asks++ >= maxAsks) {
          forget(self)
          throw new WorkerError(`sent a reply this thread could not read (${describeFailure(cause)})`, { cause })
        }
        self.worker.postMessage({ type: "resend", id } satisfies Job)
        continue
      }
      if (received === undefined) break
      const message = received.message as Reply | Part | { type: "crash"; message: string }
      if ("type" in message) {
        self.crash = message.message
      } else if (parts !== undefined) {
        parts.take(message as Part)
        if (parts.done) return read(state, id, parts.finish(options.failFast))
      } else if (message.id === id) {
        if ("parts" in message) {
          parts = new Parts(id, requests, message.parts)
          if (parts.done) return read(state, id, parts.finish(options.failFast))
        } else if ("ok" in message) {
          if (message.ok) return read(state, id, decodeResponses(message.responses, requests))
          throw decodeError(message.error)
        }
      }
    }
    if (Atomics.load(state, slots.dead) === 1 || self.exited) {
      forget(self)
      throw new WorkerError(
        self.crash === undefined ? "stopped during the call" : `stopped during the call: ${self.crash}`
      )
    }
    const last = now
    now = performance.now()
    const current = Atomics.load(state, slots.heartbeat)
    // A wake much later than asked for: this whole process was paused (a debugger, SIGSTOP, a suspended
    // machine), the worker with it, so its silence meanwhile says nothing.
    if (current !== beat || now - last > 2 * slice()) {
      beat = current
      beatAt = now
    } else if (now - beatAt >= config.stuckMs) {
      forget(self)
      throw new WorkerError(`stopped responding: no sign of life for ${config.stuckMs} ms; it was stopped`)
    }
    const remaining = until - now
    if (remaining <= 0) {
      self.worker.postMessage({ type: "abort", id } satisfies Job)
      throw new SyncTimeoutError(waitMs)
    }
    Atomics.wait(state, slots.replies, seen, Math.min(remaining, slice()))
  }
}

/** How long one `Atomics.wait` lasts at most, so that a silent worker is noticed within `stuckMs` and a quarter. */
const slice = () => config.stuckMs / 4

/** Tells the worker the reply was read (it may let go of it), and returns the responses. */
const read = <A>(state: Int32Array, id: number, responses: A): A => {
  Atomics.store(state, slots.read, id)
  return responses
}

const keys = new WeakMap<CoreOptions.Resolved, string>()

/**
 * Names a decoded options value for the worker, which keeps the value (and
 * the pipeline it prepares for it, when the core says it can) by this key:
 * equal keys, the same behaviour. A call without options always passes the
 * same value, so its key is made once.
 *
 * @internal
 */
export const keyOf = (options: CoreOptions.Resolved): string => {
  let key = keys.get(options)
  if (key === undefined) keys.set(options, key = JSON.stringify(options))
  return key
}

const bounded = new WeakMap<CoreOptions.Resolved, CoreOptions.Resolved>()

/**
 * The options a call runs with: as given, unless nothing would bound it (no
 * `deadline`, no `timeout`): then with `defaultWaitMs` as its deadline.
 *
 * @internal
 */
export const withBound = (options: CoreOptions.Resolved): CoreOptions.Resolved => {
  if (options.deadlineMs !== undefined || options.timeoutMs !== undefined) return options
  let made = bounded.get(options)
  if (made === undefined || made.deadlineMs !== config.defaultWaitMs) {
    bounded.set(options, made = CoreOptions.unsafeMarkResolved({ ...options, deadlineMs: config.defaultWaitMs }))
  }
  return made
}

/**
 * How long a call with these options (see `withBound`) waits for its reply:
 * its deadline and a margin; without one, as long as the worker shows signs
 * of life (`Infinity`).
 *
 * @internal
 */
export const waitFor = (options: CoreOptions.Resolved): number =>
  options.deadlineMs !== undefined ? options.deadlineMs + config.deadlineMarginMs : Infinity

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
    hook = { ...hook, crashAfterMs: afterMs }
  },
  /** Makes the worker's thread busy (no event loop, no heartbeat) for `ms` when the next call arrives. */
  blockNextCall: (ms: number): void => {
    hook = { ...hook, blockMs: ms }
  },
  /**
   * Spoils the next call's responses at `indexes` before the reply is
   * posted: `"uncloneable"` puts a function in their bodies (the worker
   * cannot post them), a number nests their bodies in that many arrays (a
   * depth this thread may not be able to read), `"foreign"` makes their
   * error one that is not loamy's.
   */
  spoilNextReply: (indexes: ReadonlyArray<number>, how: "uncloneable" | "foreign" | number): void => {
    hook = { ...hook, spoil: { indexes, how } }
  },
  /** Makes the worker fail the next call with a `TypeError` (a defect, not one of loamy's errors). */
  dieNextCall: (message: string): void => {
    hook = { ...hook, dieWith: message }
  },
  /** The current worker, if one is running. */
  worker: (): Worker | undefined => thread?.worker,
  /** Stops the worker; the next call starts a fresh one. */
  stop
}
