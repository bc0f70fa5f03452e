/**
 * A cheap bound on an effect that never fails: `Effect.timeoutTo` races two
 * forked fibers (the effect and a sleep) and joins their fiber refs, which
 * costs more than the rest of a request; here the effect runs in one child
 * fiber and a plain timer interrupts it. That timer is JavaScript's, so it
 * is used only when the fiber runs on Effect's live clock; under another
 * clock (`TestClock`) the bound goes through Effect's own `timeoutTo`.
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as FiberId from "effect/FiberId"

const liveClock: Clock.Clock = Effect.runSync(Effect.clock)

/** `within`, or Effect's `timeoutTo` when the clock is not the live one. @internal */
export const withinFor = (
  clock: Clock.Clock
): <A>(self: Effect.Effect<A>, ms: number, onTimeout: () => A) => Effect.Effect<A> =>
  clock === liveClock
    ? within
    : (self, ms, onTimeout) => Effect.timeoutTo(self, { duration: ms, onSuccess: (a) => a, onTimeout })

/** Runs `self`; after `ms` milliseconds it is interrupted and `onTimeout()` is the result. @internal */
export const within = <A>(self: Effect.Effect<A>, ms: number, onTimeout: () => A): Effect.Effect<A> =>
  Effect.flatMap(Effect.fork(self), (fiber) =>
    Effect.async<A>((resume) => {
      let settled = false
      const timer = setTimeout(() => {
        if (settled) return
        settled = true
        fiber.unsafeInterruptAsFork(FiberId.none)
        resume(Effect.sync(onTimeout))
      }, ms)
      fiber.addObserver((exit) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resume(exit)
      })
      return Effect.sync(() => {
        settled = true
        clearTimeout(timer)
        fiber.unsafeInterruptAsFork(FiberId.none)
      })
    }))

/**
 * A client that bounds attempts itself (loamy's undici layer) carries this
 * key; the engine then puts the attempt's end, a `performance.now()` time,
 * on each request under `attemptDeadline` instead of racing a fiber.
 *
 * @internal
 */
export const deadlineAware: unique symbol = Symbol.for("@loamy/core/deadlineAware")

/** @internal */
export const attemptDeadline: unique symbol = Symbol.for("@loamy/core/attemptDeadline")

/** @internal */
export const isDeadlineAware = (client: object): boolean =>
  (client as Record<symbol, unknown>)[deadlineAware] === true

/** Puts the attempt's end on a request (a new request of a redirect carries it on). @internal */
export const setAttemptDeadline = <R extends object>(request: R, deadline: number | undefined): R => {
  if (deadline !== undefined) (request as Record<symbol, unknown>)[attemptDeadline] = deadline
  return request
}

/** @internal */
export const attemptDeadlineOf = (request: object): number | undefined =>
  (request as Record<symbol, number | undefined>)[attemptDeadline]

/** Whether an error (or one in its `cause` chain) is a client's report that the attempt's end passed. @internal */
export const isAttemptTimeout = (error: unknown): boolean => {
  let current: unknown = error
  for (let depth = 0; depth < 6 && typeof current === "object" && current !== null; depth++) {
    if ((current as { code?: unknown }).code === "LOAMY_ATTEMPT_TIMEOUT") return true
    current = (current as { cause?: unknown }).cause
  }
  return false
}
