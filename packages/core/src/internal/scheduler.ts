/**
 * The one scheduler under every door: a pool of `concurrency` workers, each
 * pulling the next item from a source, sending it and handing the response
 * on, in completion order or in input order. `Clump.send` collects into an
 * array, `Clump.stream`/`streamFrom` (and so the CLI) into a stream.
 *
 * A fixed pool of fibers with a plain loop: a fiber per request
 * (`Effect.forEach`, `Stream.mapEffect`) costs more than the bookkeeping of
 * the request itself.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import type { RequestError } from "../LoamyError.js"
import type * as RequestMap from "../RequestMap.js"
import type { Refused, RequestResponse } from "../RequestResponse.js"
import type { Sender } from "./engine.js"
import { originKey } from "./origin.js"

/** The source has no more items. @internal */
export const Done: unique symbol = Symbol("@loamy/core/internal/scheduler/Done")

/**
 * The next item, `Done`, or an effect to wait for before asking again (more
 * input is being read).
 *
 * @internal
 */
export type Pull<I, E> = () => I | typeof Done | Effect.Effect<void, E>

/**
 * Turns an item into a checked request, or into the result of a refused
 * item `X` (see `RequestResponse.refused`). `undefined` for sources of
 * already checked requests (then `X` is `never`).
 *
 * @internal
 */
export type Check<I, X> = (item: I, index: number) => Result.Result<RequestMap.RequestMap, X>

/** @internal */
export interface Config<I, E, E2, R, X extends Refused> {
  readonly concurrency: number
  /** Hand responses on in input order (a finished response waits for those before it). */
  readonly ordered: boolean
  /** The first failure (or bad item) fails the run and interrupts the requests in flight. */
  readonly failFast: boolean
  readonly pull: Pull<I, E>
  /** How many items there are, when known: no more workers than items are started. */
  readonly size?: number | undefined
  readonly check: Check<I, X> | undefined
  readonly sender: Sender<R>
  /** Takes each response (a refused item's only with a `check`); a slow taker (back-pressure) holds its worker. */
  readonly onResult: (response: RequestResponse | X, index: number) => Effect.Effect<void, E2> | undefined
  /**
   * At most this many requests in flight to one origin; the workers go on
   * with other origins meanwhile. Undefined: no bound but `concurrency`.
   */
  readonly perOrigin?: number | undefined
  /** Counted as the run goes, for progress reports. */
  readonly counters?: Counters | undefined
  /**
   * Ordered mode: finished responses held while an earlier one is on its
   * way, without their workers (which go on with the next items). Past it a
   * worker waits with its response. Default 0.
   */
  readonly reorderBuffer?: number | undefined
}

/**
 * What a run has done so far. Plain counters, bumped as requests start and
 * finish; a progress reporter reads them on its own schedule.
 *
 * @internal
 */
export interface Counters {
  /** Requests sent (the ones in flight are `started - (done - refused)`). */
  started: number
  /** Items finished: responses, and bad items refused. */
  done: number
  /** Of `done`, those with an error. */
  failed: number
  /** Of `done`, bad items that were not sent. */
  refused: number
}

/** @internal */
export const makeCounters = (): Counters => ({ started: 0, done: 0, failed: 0, refused: 0 })

/** A first-in first-out queue that does not shift an array (a long one would cost its length per item). */
class Queue<A> {
  private items: Array<A> = []
  private head = 0
  get size(): number {
    return this.items.length - this.head
  }
  push(item: A): void {
    this.items.push(item)
  }
  shift(): A | undefined {
    if (this.head >= this.items.length) return undefined
    const item = this.items[this.head]!
    this.items[this.head++] = undefined as A
    if (this.head === this.items.length) {
      // Empty: the same array again (a queue that empties after every item would otherwise make one per item).
      this.items.length = 0
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return item
  }
}

/** A checked request waiting for a place at its origin. */
interface Pending {
  readonly request: RequestMap.RequestMap
  readonly index: number
  readonly origin: string
}

interface Parked<X> {
  readonly response: RequestResponse | X
  /** The worker waiting for this response's turn; undefined when none waits (or it is busy). */
  resume: ((effect: Effect.Effect<void>) => void) | undefined
  done: boolean
  /** Held in the reorder buffer: its worker went on. */
  buffered: boolean
}

/**
 * Runs the pool until the source is done (or the first failure under
 * `failFast`). In ordered mode a response that waits for earlier ones goes
 * into the reorder buffer and its worker takes the next item, so a slow
 * origin holds back only the output, not the sending to other origins; once
 * `reorderBuffer` responses wait there, a worker waits with its response and
 * does not take another item (with `perOrigin`, it still starts requests
 * that were waiting for their origin, so a parked pool never stalls). At
 * most `concurrency + reorderBuffer` responses are held at any time.
 *
 * @internal
 */
export const run = <I, E, E2, R, X extends Refused>(
  config: Config<I, E, E2, R, X>
): Effect.Effect<void, E | E2 | RequestError | X["error"], R> => {
  const { check, counters, failFast, onResult, ordered, perOrigin, pull, sender } = config
  const reorderBuffer = config.reorderBuffer ?? 0
  /** Responses in the reorder buffer. */
  let buffered = 0
  let nextIndex = 0
  let exhausted = false
  let nextToHand = 0
  const parked = new Map<number, Parked<X>>()
  /** Ordered mode with per-origin bounds: workers parked with their response, woken to start a ready request. */
  const parkedWorkers = new Set<Parked<X>>()

  /** Hands on `index` and then every parked response that is now in turn. */
  const handInOrder = (index: number, response: RequestResponse | X): Effect.Effect<void, E2> => {
    const first = onResult(response, index)
    const rest = Effect.suspend(() => {
      nextToHand = index + 1
      const next = parked.get(nextToHand)
      if (next === undefined) return Effect.void
      parked.delete(nextToHand)
      next.done = true
      if (next.buffered) buffered--
      const resume = next.resume
      // The parked worker goes on; this one hands the chain on.
      if (resume !== undefined) {
        next.resume = undefined
        parkedWorkers.delete(next)
        resume(Effect.void)
      }
      return handInOrder(nextToHand, next.response)
    })
    return first === undefined ? rest : Effect.andThen(first, rest)
  }

  /** Hands a response on, or parks it until its turn (`wait`: the worker waits with it). */
  const complete = (index: number, response: RequestResponse | X, wait = true): Effect.Effect<void, any, R> => {
    if (counters !== undefined) {
      counters.done++
      if (response.error !== undefined) counters.failed++
    }
    if (failFast && response.error !== undefined) {
      // In completion order the failed response is handed on first, so a sink sees what stopped the run.
      const handed = ordered ? undefined : onResult(response, index)
      return handed === undefined ? Effect.fail(response.error) : Effect.andThen(handed, Effect.fail(response.error))
    }
    if (!ordered) return onResult(response, index) ?? Effect.void
    if (index === nextToHand) return handInOrder(index, response)
    const slot: Parked<X> = { response, resume: undefined, done: false, buffered: false }
    parked.set(index, slot)
    if (!wait) return Effect.void
    if (buffered < reorderBuffer) {
      // Room in the reorder buffer: the worker goes on with the next item.
      slot.buffered = true
      buffered++
      return Effect.void
    }
    return perOrigin === undefined ? waitTurn(slot) : waitTurnOrWork(slot)
  }

  const waitTurn = (slot: Parked<X>): Effect.Effect<void> =>
    Effect.callback<void>((resume) => {
      if (slot.done) return resume(Effect.void)
      slot.resume = resume
    })

  const send = (request: RequestMap.RequestMap, index: number): Effect.Effect<RequestResponse, never, R> => {
    if (counters !== undefined) counters.started++
    return sender(request, index)
  }

  /** Checks an item; a bad one is handed on as refused, under the one rule. */
  const checkItem = (item: I, index: number): RequestMap.RequestMap | Effect.Effect<void, any, R> => {
    // Without a check the source holds checked requests (`fromArray` of `RequestMap.validateAll`'s).
    if (check === undefined) return item as RequestMap.RequestMap
    const checked = check(item, index)
    if (Result.isSuccess(checked)) return checked.success
    if (counters !== undefined) counters.refused++
    return complete(index, checked.failure)
  }

  const step = (): Effect.Effect<void, any, R> => {
    const item = pull()
    if (item === Done) {
      exhausted = true
      return Effect.void
    }
    if (Effect.isEffect(item)) return item as Effect.Effect<void, E>
    const index = nextIndex++
    const request = checkItem(item, index)
    if (Effect.isEffect(request)) return request
    return Effect.flatMap(send(request, index), (response) => complete(index, response))
  }

  // Per-origin bounds. A request whose origin is full waits in that origin's queue and the worker takes the
  // next item: a slow origin holds only its own requests. A finishing request hands its place at the origin
  // straight to the next one waiting there (`ready`), which any worker takes before pulling a new item.
  const limit = perOrigin ?? Infinity
  const active = new Map<string, number>()
  const waiting = new Map<string, Queue<Pending>>()
  let waitingCount = 0
  // An array source is in memory already; a stream is read ahead at most this far past the busy origins.
  const maxWaiting = config.size !== undefined ? Infinity : Math.max(1024, config.concurrency * 16)
  let sourceDone = false
  const ready = new Queue<Pending>()
  /** Workers with nothing to do until a request is ready or the run ends. */
  const idle: Array<(effect: Effect.Effect<void>) => void> = []

  const wakeOne = () => {
    const resume = idle.pop()
    if (resume !== undefined) return resume(Effect.void)
    if (parkedWorkers.size === 0) return
    for (const slot of parkedWorkers) {
      parkedWorkers.delete(slot)
      const wake = slot.resume!
      slot.resume = undefined
      return wake(Effect.void)
    }
  }

  const finishIfDrained = () => {
    if (sourceDone && waitingCount === 0 && ready.size === 0 && !exhausted) {
      exhausted = true
      for (const resume of idle.splice(0)) resume(Effect.void)
    }
  }

  const release = (origin: string) => {
    const queue = waiting.get(origin)
    const next = queue?.shift()
    if (next !== undefined) {
      if (queue!.size === 0) waiting.delete(origin)
      waitingCount--
      ready.push(next)
      return wakeOne()
    }
    const n = active.get(origin)! - 1
    if (n === 0) active.delete(origin)
    else active.set(origin, n)
  }

  const sendAt = (
    request: RequestMap.RequestMap,
    index: number,
    origin: string,
    wait: boolean
  ): Effect.Effect<void, any, R> =>
    Effect.flatMap(send(request, index), (response) => {
      release(origin)
      return complete(index, response, wait)
    })

  const sendPending = (pending: Pending, wait: boolean) => sendAt(pending.request, pending.index, pending.origin, wait)

  const waitIdle: Effect.Effect<void> = Effect.callback<void>((resume) => {
    idle.push(resume)
    return Effect.sync(() => {
      const at = idle.indexOf(resume)
      if (at >= 0) idle.splice(at, 1)
    })
  })

  /** A parked worker starts ready requests (their responses park without it) until its own turn comes. */
  const waitTurnOrWork = (slot: Parked<X>): Effect.Effect<void, any, R> =>
    Effect.suspend(() => {
      if (slot.done) return Effect.void
      const next = ready.shift()
      if (next !== undefined) return Effect.andThen(sendPending(next, false), waitTurnOrWork(slot))
      return Effect.andThen(
        Effect.callback<void>((resume) => {
          if (slot.done) return resume(Effect.void)
          slot.resume = resume
          parkedWorkers.add(slot)
          return Effect.sync(() => parkedWorkers.delete(slot))
        }),
        waitTurnOrWork(slot)
      )
    })

  const stepPerOrigin = (): Effect.Effect<void, any, R> => {
    const next = ready.shift()
    if (next !== undefined) return sendPending(next, true)
    if (sourceDone || waitingCount >= maxWaiting) {
      finishIfDrained()
      return exhausted ? Effect.void : waitIdle
    }
    const item = pull()
    if (item === Done) {
      sourceDone = true
      finishIfDrained()
      return Effect.void
    }
    if (Effect.isEffect(item)) return item as Effect.Effect<void, E>
    const index = nextIndex++
    const request = checkItem(item, index)
    if (Effect.isEffect(request)) return request
    const origin = originKey(request.url)
    const n = active.get(origin) ?? 0
    if (n < limit) {
      active.set(origin, n + 1)
      return sendAt(request, index, origin, true)
    }
    let queue = waiting.get(origin)
    if (queue === undefined) waiting.set(origin, queue = new Queue())
    queue.push({ request, index, origin })
    waitingCount++
    return Effect.void
  }

  const worker = Effect.whileLoop({
    while: () => !exhausted,
    body: perOrigin === undefined ? step : stepPerOrigin,
    step: () => {}
  })
  const workers = Math.max(1, Math.min(config.concurrency, config.size ?? config.concurrency))
  if (workers === 1) return worker
  return Effect.all(Array.from({ length: workers }, () => worker), { concurrency: "unbounded", discard: true })
}

/**
 * Items of an array, in order.
 *
 * @internal
 */
export const fromArray = <A>(items: ReadonlyArray<A>): Pull<A, never> => {
  let i = 0
  return () => (i < items.length ? items[i++]! : Done)
}
