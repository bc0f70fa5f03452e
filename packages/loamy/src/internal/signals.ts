/**
 * The Promise door's requests may carry an `AbortSignal` each (`signal`),
 * which aborts that request only. A signal cannot cross a thread or a file,
 * so it is no field of the core's `RequestMap`: it is taken off here, by
 * index, and handed to the engine as `Unchecked.RequestSignals`.
 *
 * @internal
 */
import { LoamyError } from "@loamy/core"
import * as Result from "effect/Result"

/** The requests without their signals, and the signals by index (undefined: none has one). @internal */
export interface Split {
  readonly requests: ReadonlyArray<unknown>
  readonly signals: ReadonlyArray<AbortSignal | undefined> | undefined
}

const hasSignal = (item: unknown): item is { readonly signal?: unknown } =>
  typeof item === "object" && item !== null && Object.hasOwn(item, "signal")

/**
 * Takes each request's own `signal` off (a request without one is kept as
 * it is, and a call without any costs one property check per request); a
 * `signal` that is not an `AbortSignal` is bad input, naming its index.
 *
 * @internal
 */
export const splitSignals = (requests: Iterable<unknown>): Result.Result<Split, LoamyError.InvalidInputError> => {
  const items = Array.isArray(requests) ? requests : Array.from(requests)
  let first = -1
  for (let i = 0; i < items.length; i++) {
    if (hasSignal(items[i])) {
      first = i
      break
    }
  }
  if (first < 0) return Result.succeed({ requests: items, signals: undefined })
  const out = items.slice()
  const signals = new Array<AbortSignal | undefined>(items.length)
  for (let i = first; i < items.length; i++) {
    const item = items[i]
    if (!hasSignal(item)) continue
    const { signal, ...rest } = item
    if (signal !== undefined && signal !== null) {
      if (!(signal instanceof AbortSignal)) {
        return Result.fail(new LoamyError.InvalidInputError({ index: i, field: "signal", detail: "must be an AbortSignal" }))
      }
      signals[i] = signal
    }
    out[i] = rest
  }
  return Result.succeed({ requests: out, signals })
}
