/**
 * Aborting one request: the Promise door takes an `AbortSignal` per request
 * (a signal cannot cross a thread or a file, so no other door has one) and
 * hands the call's signals to the engine by index, in the context, read
 * once per call. A request whose signal is aborted ends at once with an
 * `AbortedError` (an attempt in flight is interrupted, which aborts its
 * exchange); the other requests go on.
 *
 * @internal
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { AbortedError } from "../LoamyError.js"

/**
 * The signals of a call's requests, by index (undefined: the call has
 * none). Read once per call by the engine.
 *
 * @internal
 */
export const RequestSignals: Context.Reference<ReadonlyArray<AbortSignal | undefined> | undefined> = Context.Reference<
  ReadonlyArray<AbortSignal | undefined> | undefined
>("@loamy/core/RequestSignals", { defaultValue: () => undefined })

/** The error of a request whose signal was aborted; the reason shown when it is an `Error` or a string. @internal */
export const abortedError = (signal: AbortSignal, method: string, url: string): AbortedError => {
  const reason: unknown = signal.reason
  const detail = reason instanceof Error ? reason.message : typeof reason === "string" ? reason : undefined
  return detail === undefined ? new AbortedError({ method, url }) : new AbortedError({ method, url, detail })
}

/**
 * Runs `self` until `signal` is aborted: then it is interrupted and
 * `onAbort()` is the result. An aborted signal does not start it.
 *
 * @internal
 */
export const abortable = <A>(self: Effect.Effect<A>, signal: AbortSignal, onAbort: () => A): Effect.Effect<A> =>
  Effect.suspend(() => {
    if (signal.aborted) return Effect.sync(onAbort)
    return Effect.flatMap(Effect.forkChild(self, { startImmediately: true }), (fiber) =>
      Effect.callback<A>((resume) => {
        let settled = false
        const onSignal = () => {
          if (settled) return
          settled = true
          remove()
          fiber.interruptUnsafe()
          resume(Effect.sync(onAbort))
        }
        const remove = fiber.addObserver((exit) => {
          if (settled) return
          settled = true
          signal.removeEventListener("abort", onSignal)
          resume(exit)
        })
        if (settled) return
        signal.addEventListener("abort", onSignal, { once: true })
        // Aborted while the attempt started: the event has been and gone.
        if (signal.aborted) onSignal()
        return Effect.sync(() => {
          settled = true
          signal.removeEventListener("abort", onSignal)
          remove()
          fiber.interruptUnsafe()
        })
      }))
  })
