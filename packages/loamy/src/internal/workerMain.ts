/**
 * The synchronous door's worker thread: runs each posted batch on the
 * thread's runtime (one keep-alive pool for the life of the worker), posts
 * the reply, then wakes the caller blocked in `Atomics.wait`.
 *
 * @internal
 */
import { Clump, type Options, type RequestMap } from "@loamy/core"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as Cause from "effect/Cause"
import { type MessagePort, parentPort, workerData } from "node:worker_threads"
import { runtime } from "./runtime.js"
import { encodeError, encodeResponses, type Reply } from "./wire.js"

/** @internal */
export type Job =
  | {
    readonly type: "send"
    readonly id: number
    readonly requests: ReadonlyArray<RequestMap.RequestMap>
    /** Decoded by the caller (`Options.decode`): a structured clone of its `Resolved` value. */
    readonly options: Options.Resolved
    /** Test hook: crash the worker this many ms into the job. */
    readonly crashAfterMs?: number | undefined
  }
  | { readonly type: "abort"; readonly id: number }

const { port, state: buffer } = workerData as { port: MessagePort; state: SharedArrayBuffer }
const state = new Int32Array(buffer)
const running = new Map<number, Fiber.RuntimeFiber<unknown, unknown>>()

const reply = (message: Reply) => {
  port.postMessage(message)
  Atomics.add(state, 0, 1)
  Atomics.notify(state, 0)
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
  const fiber = runtime().runFork(
    Effect.withTracerEnabled(Clump.unsafeSend(job.requests, job.options), false)
  )
  running.set(job.id, fiber)
  fiber.addObserver((exit) => {
    running.delete(job.id)
    if (Exit.isSuccess(exit)) {
      reply({ id: job.id, ok: true, responses: encodeResponses(exit.value) })
    } else if (Cause.isInterruptedOnly(exit.cause)) {
      // The caller gave up on this job and is no longer waiting for it.
      return
    } else {
      reply({ id: job.id, ok: false, error: encodeError(Cause.squash(exit.cause)) })
    }
  })
})
