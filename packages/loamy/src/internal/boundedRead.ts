/**
 * The bounded read of a body (the engine's `readUpTo`, see
 * `@loamy/core/Transport`): a plain loop over the body's chunks instead of
 * an Effect stream, which costs several hundred microseconds per response,
 * stopping at `limit` decoded bytes (then the body and its socket are
 * destroyed and the result is undefined), and holding what it reads in the
 * call's body budget until it ends.
 *
 * @internal
 */
import type { Transport } from "@loamy/core"
import * as Effect from "effect/Effect"
import type { Readable } from "node:stream"
import { brotliWindowBytes, concat } from "./decoding.js"

type BodyBudget = Transport.BodyBudget

/**
 * Reads `source` to its end, or to `limit` bytes (then it is destroyed and
 * the result is undefined). Read `ticket` of `budget` holds `held` bytes
 * already (its decoders') and takes each chunk's, and stops reading while
 * the budget says to wait; it gives everything back when it ends, however
 * it ends (interrupted too). `brotliFirst`: the first chunk of
 * `body` (the undecoded body under a brotli decoder) may ask for a larger
 * window than `held` counts.
 *
 * @internal
 */
export const readBounded = <E>(
  source: Readable,
  body: Readable,
  limit: number,
  budget: BodyBudget,
  ticket: number,
  held: number,
  brotliFirst: boolean,
  onError: (cause: unknown) => E
): Effect.Effect<Uint8Array | undefined, E> =>
  Effect.callback<Uint8Array | undefined, E>((resume) => {
    const chunks: Array<Uint8Array> = []
    let size = 0
    let waiter: Transport.BudgetWaiter | undefined
    /** Window bytes to take with the next chunk. */
    let larger = 0
    if (brotliFirst) {
      body.prependOnceListener("data", (chunk: Uint8Array) => {
        larger = Math.max(0, brotliWindowBytes(chunk[0]) - brotliWindowBytes(undefined))
      })
    }
    const stop = () => {
      source.off("data", onData)
      source.off("end", onEnd)
      source.off("error", onError_)
      if (waiter !== undefined && waiter.resume !== undefined) budget.cancel(waiter)
      waiter = undefined
      budget.release(ticket, held)
      held = 0
    }
    // The fiber resumes on this stack, and an error made on it downstream (a `BodyTooLargeError` kept in the
    // results) holds these closures through its stack trace until it is collected: what they share is emptied
    // before resuming, or each such error would keep up to `limit` bytes alive.
    const onData = (chunk: Uint8Array) => {
      if (size + chunk.byteLength > limit) {
        stop()
        source.destroy()
        chunks.length = 0
        return resume(Effect.succeed(undefined))
      }
      size += chunk.byteLength
      chunks.push(chunk)
      const bytes = chunk.byteLength + larger
      larger = 0
      held += bytes
      if (!budget.take(ticket, bytes)) {
        // Past the budget: the body is not read (nor inflated) until other reads give bytes back.
        source.pause()
        waiter = budget.wait(ticket, () => {
          waiter = undefined
          source.resume()
        })
      }
    }
    const onEnd = () => {
      const out = concat(chunks, size)
      stop()
      chunks.length = 0
      resume(Effect.succeed(out))
    }
    const onError_ = (cause: unknown) => {
      stop()
      chunks.length = 0
      resume(Effect.fail(onError(cause)))
    }
    source.on("data", onData)
    source.once("end", onEnd)
    source.once("error", onError_)
    // Interrupted: the read gives its bytes back, and the body (and its socket) goes.
    return Effect.sync(() => {
      stop()
      source.destroy()
      chunks.length = 0
    })
  })

/**
 * Hands `source`'s chunks to `write` one at a time (`Transport.BoundedBody`'s
 * `writeTo`): the source is paused while a chunk is being written, so that
 * each download holds one chunk, and the chunk undici read from the socket
 * is the one written (no copy, no Effect or stream element per chunk). Ends
 * when the source does and the last write has settled, or when `write` says
 * `false` (then the source and its socket are destroyed); an error of the
 * source fails it, once the write in flight has settled (the file's handle
 * is closed after that). Interrupted, the source is destroyed.
 *
 * @internal
 */
export const writeChunks = <E>(
  source: Readable,
  write: (chunk: Uint8Array) => Promise<boolean>,
  onError: (cause: unknown) => E
): Effect.Effect<void, E> =>
  Effect.callback<void, E>((resume) => {
    let writing = false
    let done = false
    /** What ends the read once the write in flight has settled: the source's end or error. */
    let pending: Effect.Effect<void, E> | undefined
    const stop = (result: Effect.Effect<void, E>) => {
      source.off("data", onData)
      source.off("end", onEnd)
      source.off("error", onError_)
      done = true
      resume(result)
    }
    const written = (more: boolean) => {
      writing = false
      if (done) return
      if (pending !== undefined) return stop(pending)
      if (more) return void source.resume()
      source.destroy()
      stop(Effect.void)
    }
    const onData = (chunk: Uint8Array) => {
      writing = true
      source.pause()
      write(chunk).then(written, () => written(false))
    }
    const onEnd = () => {
      if (writing) pending = Effect.void
      else stop(Effect.void)
    }
    const onError_ = (cause: unknown) => {
      const failure = Effect.fail(onError(cause))
      if (writing) pending = failure
      else stop(failure)
    }
    source.on("data", onData)
    source.once("end", onEnd)
    source.once("error", onError_)
    return Effect.sync(() => {
      if (done) return
      source.off("data", onData)
      source.off("end", onEnd)
      source.off("error", onError_)
      done = true
      source.destroy()
    })
  })

/**
 * Waits until `budget` lets read `ticket` go on. Interrupted, it stops
 * waiting and runs `onInterrupt`.
 *
 * @internal
 */
export const waitForBudget = (budget: BodyBudget, ticket: number, onInterrupt: () => void): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const waiter = budget.wait(ticket, () => resume(Effect.void))
    return Effect.sync(() => {
      if (waiter.resume !== undefined) budget.cancel(waiter)
      onInterrupt()
    })
  })
