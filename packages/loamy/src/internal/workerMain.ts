/**
 * The synchronous door's worker thread: runs each posted batch on the
 * thread's runtime, on a fiber of its own, one batch after another,
 * on the keep-alive agent capped at the batch's concurrency that the engine
 * leases from the layer's transport (as the Promise door does, see
 * `runtime.ts`), posts the reply, then wakes the caller blocked in
 * `Atomics.wait`.
 *
 * A batch whose options hold no per-call state runs on a pipeline prepared
 * once per distinct options value (`Unchecked.unsafePrepare`): the sender,
 * its redirect follower and checks are made by the first call with those
 * options, and later calls go straight to sending.
 *
 * @internal
 */
import { type Options, type RequestMap, type RequestResponse, Transport } from "@loamy/core"
import * as Unchecked from "@loamy/core/Unchecked"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Fiber from "effect/Fiber"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import type * as HttpClient from "effect/http/HttpClient"
import * as References from "effect/References"
import { type MessagePort, parentPort, workerData } from "node:worker_threads"
import { runtime } from "./runtime.js"
import { encodeError, encodeResponses, KeyMemory, postParts, postReply, type Reply } from "./wire.js"

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
    /** Test hooks (see `sync.testing`). */
    readonly test?: TestHooks | undefined
  }
  | { readonly type: "abort"; readonly id: number }
  /** The caller could not read the reply: send it again, in parts. */
  | { readonly type: "resend"; readonly id: number }

/** @internal */
export interface TestHooks {
  /** Crash the worker this many ms into the job. */
  readonly crashAfterMs?: number | undefined
  /** Keep the thread busy this long when the job arrives. */
  readonly blockMs?: number | undefined
  /** Spoil these responses before the reply is posted (see `sync.testing.spoilNextReply`). */
  readonly spoil?: { readonly indexes: ReadonlyArray<number>; readonly how: "uncloneable" | "foreign" | number } | undefined
  /** Fail the job with a `TypeError` of this message (a defect) instead of running it. */
  readonly dieWith?: string | undefined
}

const { heartbeatMs, port, state: buffer } = workerData as {
  port: MessagePort
  state: SharedArrayBuffer
  heartbeatMs?: number | undefined
}
const state = new Int32Array(buffer)
/** The slots of `sync.slots`; a caller with the old two-slot state gets no heartbeat and no resends. */
const slots = { replies: 0, heartbeat: 2, read: 3 } as const
const full = state.length > slots.read

interface Entry {
  readonly options: Options.Resolved
  /**
   * Made by the first call with these options; `null`: they cannot be prepared. It holds the layer's client
   * and leases each batch its capped agent, so it outlives any agent the transport closes.
   */
  prepared: Unchecked.Prepared | null | undefined
}

/** What the caller has sent, by key, forgotten in step with the caller's own `KeyMemory`. */
const known = new KeyMemory<Entry>()

// Effect's tracer is off: callers of these doors cannot install one, so spans would be built for nobody. And
// redirects are loamy's to follow, which the context says once for the thread rather than once per batch (our
// client ignores it; a prepared pipeline made in this context relies on it, see `Unchecked.unsafePrepare`). The
// runtime is built now, while the caller is still busy; batches run on its context once it is built.
const manual: globalThis.RequestInit = { redirect: "manual" }
let ready: Context.Context<HttpClient.HttpClient> | undefined
runtime().context().then(
  (built) => {
    ready = Context.add(Context.add(built, References.TracerEnabled, false), FetchHttpClient.RequestInit, manual)
  },
  () => undefined
)

const fork = <A, E>(effect: Effect.Effect<A, E, HttpClient.HttpClient>): Fiber.Fiber<A, E> =>
  ready !== undefined
    ? Effect.runForkWith(ready)(effect)
    : runtime().runFork(Effect.provideService(Effect.withTracerEnabled(effect, false), FetchHttpClient.RequestInit, manual))

/**
 * The last reply posted, kept until the caller has read it (`slots.read`),
 * the next job or an abort: a caller that cannot read it asks for it again,
 * in parts.
 */
let held: { readonly id: number; readonly responses: ReadonlyArray<RequestResponse.RequestResponse> } | undefined

/** Wakes the caller blocked in `Atomics.wait`. */
const wakeCaller = () => {
  Atomics.add(state, slots.replies, 1)
  Atomics.notify(state, slots.replies)
}

/**
 * Posts a reply and wakes the caller. A reply that cannot be posted whole
 * goes in parts (see `postReply`). A port that takes nothing at all ends
 * the worker, which wakes the caller with a `WorkerError` (see `worker.ts`):
 * the caller is never left waiting for a reply that will not come.
 */
const reply = (message: Reply) => {
  try {
    postReply(port, message)
  } catch {
    process.exit(1)
  }
  wakeCaller()
  if ("responses" in message && full) {
    held = message
    busy()
  }
}

let beating: ReturnType<typeof setTimeout> | undefined
let beats = false

/**
 * While there is work (a job queued or running, or a reply not yet read),
 * the worker shows it is alive every `heartbeatMs`: the caller gives up on a
 * worker that stays silent (see `sync.config`). An idle worker has no timer.
 */
const busy = () => {
  if (beats || !full) return
  beats = true
  if (beating === undefined) beating = setTimeout(beat, heartbeatMs ?? 1_000)
  else beating.refresh()
}

function beat() {
  Atomics.add(state, slots.heartbeat, 1)
  if (held !== undefined && Atomics.load(state, slots.read) === held.id) held = undefined
  if (current !== undefined || queue.length > 0 || held !== undefined) beating!.refresh()
  else beats = false
}

/** A job's reply again, in parts: the caller could not read it whole. */
const resend = (id: number) => {
  if (held !== undefined && held.id === id) {
    try {
      postParts(port, id, held.responses)
    } catch {
      process.exit(1)
    }
    return wakeCaller()
  }
  // Still queued or running: its reply is yet to come.
  if (current?.id === id || queue.some((job) => job.id === id)) return
  reply({ id, ok: false, error: encodeError(new Error("the reply to send again is no longer held")) })
}

type SendJob = Extract<Job, { type: "send" }>

/**
 * The batch as an effect, on its prepared pipeline when the options allow
 * one (made on first use). The engine leases the batch the agent capped at
 * its concurrency (at most that many sockets, and so requests in flight, per
 * origin, as the Promise door has) and gives it back when the batch ends.
 */
const batch = (
  job: SendJob,
  remembered: Entry
): Effect.Effect<ReadonlyArray<RequestResponse.RequestResponse>, unknown, HttpClient.HttpClient> => {
  const prepared = remembered.prepared
  if (prepared !== undefined && prepared !== null) return prepared(job.requests)
  if (prepared === null) return Unchecked.unsafeSend(job.requests, remembered.options)
  return Effect.flatMap(Unchecked.unsafePrepare(remembered.options), (made) => {
    remembered.prepared = made ?? null
    return made === undefined ? Unchecked.unsafeSend(job.requests, remembered.options) : made(job.requests)
  })
}

/**
 * The route of the last options' batches, leased once and kept while batches with the same options follow (a
 * program calling with the same options again and again), rather than a lease per batch, which is most of what a
 * route costs a one-request call (a few µs, bench/README.md, issue 20). Given back when a batch with other options
 * comes; the agent it holds is one the transport keeps anyway.
 */
let leased: { readonly entry: Entry; readonly lease: Transport.Lease } | undefined

/** Runs `effect` on the route leased for `entry`'s options, leasing it (and giving back the last) if need be. */
const onLeasedRoute = <A, E>(
  entry: Entry,
  effect: Effect.Effect<A, E, HttpClient.HttpClient>
): Effect.Effect<A, E, HttpClient.HttpClient> => {
  if (leased !== undefined && leased.entry === entry) {
    return Effect.provideService(effect, Transport.CurrentRoute, leased.lease.route)
  }
  const previous = leased
  leased = undefined
  const lease = Effect.uninterruptible(
    Effect.andThen(
      previous === undefined ? Effect.void : previous.lease.release,
      Effect.map(Unchecked.unsafeLease(entry.options), (made) => {
        if (made !== undefined) leased = { entry, lease: made }
        return made
      })
    )
  )
  return Effect.matchEffect(lease, {
    // Options no route can be leased for: the batch leases on its own, and fails as a call with them does.
    onFailure: () => effect,
    onSuccess: (made) => made === undefined ? effect : Effect.provideService(effect, Transport.CurrentRoute, made.route)
  })
}

const observe = (
  id: number,
  exit: Exit.Exit<ReadonlyArray<RequestResponse.RequestResponse>, unknown>,
  test?: TestHooks
) => {
  try {
    if (Exit.isSuccess(exit)) {
      if (test?.spoil !== undefined) spoil(exit.value, test.spoil)
      reply({ id, ok: true, responses: encodeResponses(exit.value) })
    } else if (!Cause.hasInterruptsOnly(exit.cause)) {
      reply({ id, ok: false, error: encodeError(Cause.squash(exit.cause)) })
    }
    // Interrupted: the caller gave up on this job and is no longer waiting for it.
  } catch (error) {
    reply({ id, ok: false, error: encodeError(error) })
  }
}

/** The test hook `spoil`: bodies the wire cannot carry, made here whatever the core lets through. */
const spoil = (responses: ReadonlyArray<RequestResponse.RequestResponse>, how: NonNullable<TestHooks["spoil"]>) => {
  for (const index of how.indexes) {
    const response = responses[index] as { body: unknown; error?: unknown } | undefined
    if (response === undefined) continue
    if (how.how === "uncloneable") {
      response.body = { kept: response.body, spoilt: () => undefined }
    } else if (how.how === "foreign") {
      response.error = new TypeError("an error that is not one of loamy's")
    } else {
      let body: unknown = response.body
      for (let level = 0; level < how.how; level++) body = [body]
      response.body = body
    }
  }
}

// Jobs run one after another, each on a fiber of its own. (On Effect 3 one long-lived fiber taking the jobs in
// turn was cheaper than a fiber per job; on Effect 4 the two measure the same, see bench/README.md.) The caller
// waits for each job, so jobs do not overlap; a job the caller gave up on is stopped by interrupting its fiber,
// and the next job gets a new one.
const queue: Array<SendJob> = []
let running: Fiber.Fiber<void, unknown> | undefined
let current: { readonly id: number } | undefined

/** The options of a job: sent with it the first time, remembered by key after. */
const remember = (job: SendJob): Entry | undefined => {
  if (job.options === undefined) return known.get(job.key)
  const entry: Entry = { options: job.options, prepared: undefined }
  known.add(job.key, entry)
  return entry
}

/** Runs the next queued job (there is one: a fiber is started only for a queued job). */
const serve: Effect.Effect<void, never, HttpClient.HttpClient> = Effect.suspend(() => {
  const job = queue.shift()!
  if (job.test?.dieWith !== undefined) {
    observe(job.id, Exit.die(new TypeError(job.test.dieWith)))
    return Effect.void
  }
  const entry = remember(job)
  if (entry === undefined) {
    observe(job.id, Exit.die(new Error("loamy: the worker was sent options it does not know")))
    return Effect.void
  }
  current = { id: job.id }
  return Effect.map(Effect.exit(onLeasedRoute(entry, batch(job, entry))), (exit) => {
    current = undefined
    observe(job.id, exit, job.test)
  })
})

const startNext = () => {
  const fiber = fork(serve)
  running = fiber
  fiber.addObserver((exit) => {
    // Stopped for an abort: the next job has a fiber already (or will, when it comes).
    if (running !== fiber) return
    running = undefined
    // Ended by a defect outside the batch's own handling: the job it was on gets the error.
    const job = current
    current = undefined
    if (job !== undefined && Exit.isFailure(exit)) observe(job.id, Exit.failCause(exit.cause))
    if (queue.length > 0) startNext()
  })
}

/** Stops the job the caller gave up on: its requests are aborted as its fiber ends. */
const abort = (id: number) => {
  const queued = queue.findIndex((job) => job.id === id)
  if (queued >= 0) {
    queue.splice(queued, 1)
    return
  }
  if (current === undefined || current.id !== id || running === undefined) return
  const stopped = running
  current = undefined
  running = undefined
  // Its requests are aborted as the fiber is interrupted; the engine gives its agent back.
  stopped.interruptUnsafe(stopped.id)
  if (queue.length > 0) startNext()
}

parentPort!.on("message", (job: Job) => {
  if (job.type === "resend") return resend(job.id)
  // A caller that gives up on a job, or sends the next, will not ask for the last reply again.
  held = undefined
  if (job.type === "abort") return abort(job.id)
  if (job.test !== undefined) testHooks(job.test)
  // Requests and options were checked on the calling thread: nothing is checked twice.
  queue.push(job)
  busy()
  if (running === undefined) startNext()
})

const testHooks = (test: TestHooks) => {
  if (test.crashAfterMs !== undefined) {
    setTimeout(() => {
      throw new Error("crashed on purpose (test hook)")
    }, test.crashAfterMs)
  }
  if (test.blockMs !== undefined) {
    const until = Date.now() + test.blockMs
    while (Date.now() < until) {
      // Busy on purpose: no event loop turn, so no heartbeat.
    }
  }
}
