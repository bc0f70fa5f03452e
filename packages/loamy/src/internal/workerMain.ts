/**
 * The synchronous door's worker thread: runs each posted batch on the
 * thread's runtime, through the keep-alive agent capped at the batch's
 * concurrency (as the Promise door does, see `runtime.ts`), posts the reply,
 * then wakes the caller blocked in `Atomics.wait`.
 *
 * A batch whose options hold no per-call state runs on a pipeline prepared
 * once per distinct options value (`Clump.unsafePrepare`): the sender, its
 * redirect middleware and checks are made by the first call with those
 * options, and later calls go straight to sending.
 *
 * @internal
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import { Clump, type Options, type RequestMap, type RequestResponse } from "@loamy/core"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Runtime from "effect/Runtime"
import { type MessagePort, parentPort, workerData } from "node:worker_threads"
import { acquire, type Capped, release, runtime } from "./runtime.js"
import { encodeError, encodeResponses, KeyMemory, type Reply } from "./wire.js"

/** @internal */
export type Job =
  | {
    readonly type: "send"
    readonly id: number
    readonly requests: ReadonlyArray<RequestMap.RequestMap>
    /**
     * Names the options (`keyOf`). The caller sends `options` with the first
     * job of a key (see `KeyMemory`) and leaves them out after.
     */
    readonly key: string
    /** Decoded by the caller (`Options.decode`): a structured clone of its `Resolved` value. */
    readonly options?: Options.Resolved | undefined
    /** Test hook: crash the worker this many ms into the job. */
    readonly crashAfterMs?: number | undefined
  }
  | { readonly type: "abort"; readonly id: number }

const { port, state: buffer } = workerData as { port: MessagePort; state: SharedArrayBuffer }
const state = new Int32Array(buffer)
const running = new Map<number, Fiber.RuntimeFiber<unknown, unknown>>()

interface Entry {
  readonly options: Options.Resolved
  /** Made by the first call with these options; `null`: they cannot be prepared. */
  prepared: Clump.Prepared | null | undefined
  /**
   * The agent the prepared pipeline sends through. When too many agents are kept the least recently used is
   * closed and its concurrency later gets a new one: then the pipeline is made again, on the new agent.
   */
  on: Capped | undefined
}

/** What the caller has sent, by key, forgotten in step with the caller's own `KeyMemory`. */
const known = new KeyMemory<Entry>()

// Effect's tracer is off: callers of these doors cannot install one, so spans would be built for nobody. And
// redirects are loamy's to follow, which the context says once for the thread rather than once per batch (our
// client ignores it; a prepared pipeline made in this context relies on it, see `Clump.unsafePrepare`). The
// runtime is built now, while the caller is still busy; batches run on it as it is once it is built.
const manual = { redirect: "manual" } as const
let ready: Runtime.Runtime<unknown> | undefined
runtime().runtime().then(
  (built) => {
    ready = Runtime.provideService(
      Runtime.setFiberRef(built, FiberRef.currentTracerEnabled, false),
      FetchHttpClient.RequestInit,
      manual
    ) as Runtime.Runtime<unknown>
  },
  () => undefined
)

const fork = <A, E>(effect: Effect.Effect<A, E, any>): Fiber.RuntimeFiber<A, E> =>
  ready !== undefined
    ? Runtime.runFork(ready, effect)
    : runtime().runFork(
      Effect.provideService(Effect.withTracerEnabled(effect, false), FetchHttpClient.RequestInit, manual)
    ) as Fiber.RuntimeFiber<A, E>

const reply = (message: Reply) => {
  port.postMessage(message)
  Atomics.add(state, 0, 1)
  Atomics.notify(state, 0)
}

/**
 * The batch as an effect, on the agent capped at its concurrency (as the
 * Promise door does: at most that many sockets, and so requests in flight,
 * per origin), on its prepared pipeline when the options allow one (made on
 * first use, and again when the agent it was made with has been closed).
 */
const batch = (
  job: Extract<Job, { type: "send" }>
): Effect.Effect<ReadonlyArray<RequestResponse.RequestResponse>, unknown, any> => {
  let entry = known.get(job.key)
  if (job.options !== undefined) {
    entry = { options: job.options, prepared: undefined, on: undefined }
    known.add(job.key, entry)
  }
  if (entry === undefined) return Effect.die(new Error("loamy: the worker was sent options it does not know"))
  const remembered = entry
  return Effect.suspend(() => {
    // Counted as used until the batch ends, so that the agent is not closed under it.
    const agent = acquire(remembered.options.concurrency)
    const prepared = remembered.on === agent ? remembered.prepared : undefined
    // A prepared pipeline holds its client already: no context change per batch.
    const run = prepared !== undefined && prepared !== null
      ? prepared(job.requests)
      : Effect.provideService(
        prepared === null
          ? Clump.unsafeSend(job.requests, remembered.options)
          : Effect.flatMap(Clump.unsafePrepare(remembered.options), (made) => {
            remembered.prepared = made ?? null
            remembered.on = agent
            return made === undefined ? Clump.unsafeSend(job.requests, remembered.options) : made(job.requests)
          }),
        HttpClient.HttpClient,
        agent.client
      )
    return Effect.ensuring(run, Effect.sync(() => release(agent)))
  })
}

parentPort!.on("message", (job: Job) => {
  if (job.type === "abort") {
    const fiber = running.get(job.id)
    if (fiber !== undefined) fiber.unsafeInterruptAsFork(fiber.id())
    return
  }
  if (job.crashAfterMs !== undefined) {
    setTimeout(() => {
      throw new Error("crashed on purpose (test hook)")
    }, job.crashAfterMs)
  }
  // Requests and options were checked on the calling thread: nothing is checked twice.
  const fiber = fork(batch(job))
  const id = job.id
  const observe = (exit: Exit.Exit<ReadonlyArray<RequestResponse.RequestResponse>, unknown>) => {
    if (Exit.isSuccess(exit)) {
      reply({ id, ok: true, responses: encodeResponses(exit.value) })
    } else if (Cause.isInterruptedOnly(exit.cause)) {
      // The caller gave up on this job and is no longer waiting for it.
      return
    } else {
      reply({ id, ok: false, error: encodeError(Cause.squash(exit.cause)) })
    }
  }
  // A batch answered without waiting (nothing to send, or an answer already at hand) is done by now.
  const done = fiber.unsafePoll()
  if (done !== null) return observe(done)
  running.set(id, fiber)
  fiber.addObserver((exit) => {
    running.delete(id)
    observe(exit)
  })
})
