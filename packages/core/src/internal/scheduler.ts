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
import * as Either from "effect/Either"
import { InvalidInputError, type RequestError } from "../LoamyError.js"
import type * as RequestMap from "../RequestMap.js"
import type { RequestResponse } from "../RequestResponse.js"
import type { Sender } from "./engine.js"

/** The source has no more items. @internal */
export const Done: unique symbol = Symbol.for("@loamy/core/scheduler/Done")

/**
 * The next item, `Done`, or an effect to wait for before asking again (more
 * input is being read).
 *
 * @internal
 */
export type Pull<I, E> = () => I | typeof Done | Effect.Effect<void, E>

/**
 * Turns an item into a checked request, or says what is wrong with it.
 * `undefined` for sources of already checked requests.
 *
 * @internal
 */
export type Check<I> = (item: I, index: number) => Either.Either<RequestMap.RequestMap, InvalidInputError>

/** @internal */
export interface Config<I, E, E2> {
  readonly concurrency: number
  /** Hand responses on in input order (a finished response waits for those before it). */
  readonly ordered: boolean
  /** The first failure (or bad item) fails the run and interrupts the requests in flight. */
  readonly failFast: boolean
  readonly pull: Pull<I, E>
  /** How many items there are, when known: no more workers than items are started. */
  readonly size?: number | undefined
  readonly check: Check<I> | undefined
  readonly sender: Sender
  /** Takes each response; a slow taker (back-pressure) holds its worker. */
  readonly onResult: (response: RequestResponse, index: number) => Effect.Effect<void, E2> | undefined
}

interface Parked {
  readonly response: RequestResponse
  resume: ((effect: Effect.Effect<void>) => void) | undefined
  done: boolean
}

/**
 * The response of an item that failed its check and was not sent: one rule
 * for a bad item at every door. `requestMap` is the item as it arrived.
 *
 * @internal
 */
export const refused = (item: unknown, error: InvalidInputError): RequestResponse => ({
  requestMap: item as RequestMap.RequestMap,
  statusCode: 0,
  body: null,
  headers: {},
  error,
  elapsedMs: 0,
  attempts: 0
})

/**
 * Runs the pool until the source is done (or the first failure under
 * `failFast`). At most `concurrency` responses are held at any time: in
 * ordered mode a worker whose response waits for earlier ones does not take
 * another item.
 *
 * @internal
 */
export const run = <I, E, E2>(
  config: Config<I, E, E2>
): Effect.Effect<void, E | E2 | RequestError | InvalidInputError> => {
  const { check, failFast, onResult, ordered, pull, sender } = config
  let nextIndex = 0
  let exhausted = false
  let nextToHand = 0
  const parked = new Map<number, Parked>()

  /** Hands on `index` and then every parked response that is now in turn. */
  const handInOrder = (index: number, response: RequestResponse): Effect.Effect<void, E2> => {
    const first = onResult(response, index)
    const rest = Effect.suspend(() => {
      nextToHand = index + 1
      const next = parked.get(nextToHand)
      if (next === undefined) return Effect.void
      parked.delete(nextToHand)
      next.done = true
      const resume = next.resume
      // The parked worker goes on; this one hands the chain on.
      if (resume !== undefined) resume(Effect.void)
      return handInOrder(nextToHand, next.response)
    })
    return first === undefined ? rest : Effect.zipRight(first, rest)
  }

  const complete = (index: number, response: RequestResponse): Effect.Effect<void, any> => {
    if (failFast && response.error !== undefined) {
      // In completion order the failed response is handed on first, so a sink sees what stopped the run.
      const handed = ordered ? undefined : onResult(response, index)
      return handed === undefined ? Effect.fail(response.error) : Effect.zipRight(handed, Effect.fail(response.error))
    }
    if (!ordered) return onResult(response, index) ?? Effect.void
    if (index === nextToHand) return handInOrder(index, response)
    const slot: Parked = { response, resume: undefined, done: false }
    parked.set(index, slot)
    return Effect.async<void>((resume) => {
      if (slot.done) return resume(Effect.void)
      slot.resume = resume
    })
  }

  const step = (): Effect.Effect<void, any> => {
    const item = pull()
    if (item === Done) {
      exhausted = true
      return Effect.void
    }
    if (Effect.isEffect(item)) return item as Effect.Effect<void, E>
    const index = nextIndex++
    if (check === undefined) {
      return Effect.flatMap(sender(item as RequestMap.RequestMap, index), (response) => complete(index, response))
    }
    const checked = check(item, index)
    if (Either.isLeft(checked)) return complete(index, refused(item, checked.left))
    return Effect.flatMap(sender(checked.right, index), (response) => complete(index, response))
  }

  const worker = Effect.whileLoop({ while: () => !exhausted, body: step, step: () => {} })
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

/**
 * Checks an item of a stream or a file: a string is JSON text (a line of a
 * file) and is parsed first.
 *
 * @internal
 */
export const checkUnknown = (validateAt: (input: unknown, index: number) => Either.Either<RequestMap.RequestMap, InvalidInputError>): Check<unknown> =>
(item, index) => {
  if (typeof item !== "string") return validateAt(item, index)
  let parsed: unknown
  try {
    parsed = JSON.parse(item)
  } catch (cause) {
    return Either.left(
      new InvalidInputError({ index, field: "", detail: `not valid JSON: ${(cause as Error).message}` })
    )
  }
  return validateAt(parsed, index)
}
