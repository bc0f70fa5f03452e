/**
 * The scheduler between a source of requests and the core's sender: at most
 * `concurrency` requests in flight, results handed over in completion order
 * or input order. Plain callbacks around one Effect per request, because
 * per-request stream machinery cost more CPU than the HTTP itself.
 *
 * @internal
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import { Clump, type RequestMap, type RequestResponse } from "@loamy/core"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import * as input from "./input.js"
import type * as stats from "./stats.js"

/** A request to send, or a JSONL line to check first. @internal */
export interface Item {
  /** Position among the requests (0-based), blank lines not counted. */
  readonly index: number
  /** The 1-based line number, for JSONL input. */
  readonly line: number | undefined
  readonly request: RequestMap.RequestMap | undefined
  readonly text: string | undefined
}

/** One finished item. @internal */
export type Result =
  | { readonly item: Item; readonly response: RequestResponse.RequestResponse; readonly invalid: undefined }
  | {
    readonly item: Item
    readonly response: undefined
    readonly invalid: Extract<input.Line, { readonly ok: false }>
  }

/**
 * Items on demand: the next one, `undefined` at the end, or a promise to
 * wait for before asking again (more input is being read).
 *
 * @internal
 */
export interface Source {
  readonly next: () => Item | undefined | Promise<void>
}

/** @internal */
export const arraySource = (requests: ReadonlyArray<RequestMap.RequestMap>): Source => {
  let index = 0
  return {
    next: () => {
      if (index >= requests.length) return undefined
      const i = index++
      return { index: i, line: undefined, request: requests[i]!, text: undefined }
    }
  }
}

/** JSONL lines, numbered; blank lines are skipped but counted. @internal */
export const lineSource = (batches: AsyncIterable<ReadonlyArray<string>>): Source => {
  const iterator = batches[Symbol.asyncIterator]()
  let batch: ReadonlyArray<string> = []
  let position = 0
  let lineNumber = 0
  let index = 0
  let done = false
  let reading: Promise<void> | undefined
  const read = () =>
    reading ??= iterator.next().then(
      (next) => {
        reading = undefined
        if (next.done) done = true
        else {
          batch = next.value
          position = 0
        }
      },
      (error) => {
        reading = undefined
        throw new input.BadInput(`cannot read the input: ${(error as Error)?.message ?? String(error)}`)
      }
    )
  return {
    next: () => {
      while (position < batch.length) {
        let text = batch[position++]!
        lineNumber++
        if (text.endsWith("\r")) text = text.slice(0, -1)
        if (text.trim() === "") continue
        return { index: index++, line: lineNumber, request: undefined, text }
      }
      if (done) return undefined
      return read()
    }
  }
}

/** What stopped a run early. @internal */
export type Outcome = "done" | "stopped"

/**
 * Sends every item of `source`, at most `concurrency` at once, and hands
 * each result to `onResult`, which returns `true` to stop the run (the
 * requests in flight are interrupted). In `ordered` mode a finished result
 * waits for the ones before it, and a slot is freed only when a result is
 * handed over, so at most `concurrency` results are ever held.
 *
 * @internal
 */
export const pump = (
  source: Source,
  options: Clump.Options,
  config: {
    readonly ordered: boolean
    readonly tracker: stats.Tracker
    readonly onResult: (result: Result) => boolean
    /** Before starting more requests, wait for this (output backpressure). */
    readonly ready?: (() => Promise<void> | undefined) | undefined
  }
): Effect.Effect<Outcome, input.BadInput | Clump.InvalidOptionsError, HttpClient.HttpClient> =>
  Effect.scoped(Effect.gen(function*() {
    const sender = yield* Clump.sender(options)
    const runtime = yield* Effect.runtime<never>()
    const run = Runtime.runCallback(runtime)
    // The core owns the defaults.
    const { concurrency } = yield* Clump.resolveOptions(options)
    const tracker = config.tracker
    return yield* Effect.async<Outcome, input.BadInput>((resume) => {
      const running = new Map<number, Runtime.Cancel<RequestResponse.RequestResponse>>()
      const waiting = new Map<number, Result>()
      let nextToHand = 0
      let free = concurrency
      let finished = false
      let exhausted = false
      let wake: (() => void) | undefined

      const finish = (outcome: Outcome | input.BadInput) => {
        if (finished) return
        finished = true
        for (const cancel of running.values()) cancel()
        running.clear()
        resume(typeof outcome === "string" ? Effect.succeed(outcome) : Effect.fail(outcome))
      }

      const handOver = (result: Result) => {
        if (finished) return
        if (result.response === undefined) {
          tracker.record(0, "InvalidInputError", 0, false)
        } else {
          tracker.record(result.response.statusCode, result.response.error?._tag, result.response.elapsedMs, true)
        }
        free++
        if (config.onResult(result)) finish("stopped")
      }

      const complete = (result: Result) => {
        if (!config.ordered) {
          handOver(result)
        } else if (result.item.index !== nextToHand) {
          waiting.set(result.item.index, result)
        } else {
          handOver(result)
          nextToHand++
          let next: Result | undefined
          while ((next = waiting.get(nextToHand)) !== undefined) {
            waiting.delete(nextToHand)
            handOver(next)
            nextToHand++
          }
        }
        if (exhausted && free === concurrency) finish("done")
        else if (wake !== undefined) {
          const w = wake
          wake = undefined
          w()
        }
      }

      const start = (item: Item) => {
        let request = item.request
        if (request === undefined) {
          const parsed = input.parseLine(item.text!, item.index)
          if (!parsed.ok) return complete({ item, response: undefined, invalid: parsed })
          request = parsed.request
        }
        tracker.inFlight++
        running.set(
          item.index,
          run(sender(request, item.index), {
            onExit: (exit) => {
              running.delete(item.index)
              tracker.inFlight--
              // Interrupted (fail-fast or a signal): nothing to hand over.
              if (exit._tag === "Success") complete({ item, response: exit.value, invalid: undefined })
            }
          })
        )
      }

      const drive = async () => {
        while (!finished) {
          const ready = config.ready?.()
          if (ready !== undefined) await ready
          if (free === 0) {
            await new Promise<void>((resolve) => (wake = resolve))
            continue
          }
          const next = source.next()
          if (next === undefined) {
            exhausted = true
            if (free === concurrency) finish("done")
            return
          }
          if (next instanceof Promise) {
            await next
            continue
          }
          free--
          start(next)
        }
      }
      drive().catch((error) => finish(error instanceof input.BadInput ? error : new input.BadInput(String(error))))
      return Effect.sync(() => finish("stopped"))
    })
  }))
