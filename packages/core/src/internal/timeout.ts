/**
 * A cheap bound on an effect that never fails: `Effect.timeoutOrElse` races
 * the effect against a sleep on Effect's scheduler, which costs more than
 * the rest of a request; here the effect runs in one child fiber and a
 * plain timer interrupts it. That timer is JavaScript's, so it is used only
 * when the fiber runs on Effect's live clock; under another clock
 * (`TestClock`) the bound goes through Effect's own `timeoutOrElse`.
 *
 * With a `Transport` the engine needs none of this per attempt: the
 * transport bounds the attempt itself (see `Transport.AttemptDeadline`).
 *
 * @internal
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"

const liveClock: Clock.Clock = Effect.runSync(Clock.Clock)

/** `within`, or Effect's `timeoutOrElse` when the clock is not the live one. @internal */
export const withinFor = (
  clock: Clock.Clock
): <A>(self: Effect.Effect<A>, ms: number, onTimeout: () => A) => Effect.Effect<A> =>
  clock === liveClock
    ? within
    : (self, ms, onTimeout) => Effect.timeoutOrElse(self, { duration: ms, orElse: () => Effect.sync(onTimeout) })

/** Runs `self`; after `ms` milliseconds it is interrupted and `onTimeout()` is the result. @internal */
export const within = <A>(self: Effect.Effect<A>, ms: number, onTimeout: () => A): Effect.Effect<A> =>
  Effect.flatMap(Effect.forkChild(self, { startImmediately: true }), (fiber) =>
    Effect.callback<A>((resume) => {
      let settled = false
      const timer = setTimeout(() => {
        if (settled) return
        settled = true
        fiber.interruptUnsafe()
        resume(Effect.sync(onTimeout))
      }, ms)
      const remove = fiber.addObserver((exit) => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resume(exit)
      })
      return Effect.sync(() => {
        settled = true
        clearTimeout(timer)
        remove()
        fiber.interruptUnsafe()
      })
    }))
