/**
 * How far a call has got, for progress bars and dashboards: the same
 * figures at every door. An Effect program observes them while
 * `Clump.send` or `Clump.stream` runs; the Promise door calls back with
 * them (`onProgress`); the CLI's progress bar draws them.
 *
 * Snapshots are taken on a timer (every 250 ms by default), never per
 * request, and once more when the call ends.
 *
 * ```ts
 * import { Clump, Progress } from "@loamy/core"
 * import { Console, Effect, Stream, SubscriptionRef } from "effect"
 *
 * const program = Effect.gen(function*() {
 *   const progress = yield* SubscriptionRef.make(Progress.empty)
 *   yield* SubscriptionRef.changes(progress).pipe(
 *     Stream.runForEach((p) => Console.log(`${p.done}/${p.total} done, ${p.failed} failed`)),
 *     Effect.forkChild
 *   )
 *   return yield* Clump.send(clump).pipe(Progress.reportTo(progress))
 * })
 * ```
 *
 * @since 0.3.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import type { Counters } from "./internal/scheduler.js"

/**
 * One snapshot of a call's progress.
 *
 * @since 0.3.0
 * @category models
 */
export interface Progress {
  /** Requests in the call, when known (`send`, `stream`); undefined for `streamFrom`. */
  readonly total: number | undefined
  /** Requests finished, failed ones and refused bad items included. */
  readonly done: number
  /** Of `done`, those without an error. */
  readonly ok: number
  /** Of `done`, those with an error (a non-2xx status is not an error). */
  readonly failed: number
  /** Requests sent and not finished yet (retries and their waits included). */
  readonly inFlight: number
  /** Since the call started. */
  readonly elapsedMs: number
}

/**
 * Nothing done yet: a starting value for a `Ref` or `SubscriptionRef`.
 *
 * @since 0.3.0
 * @category constructors
 */
export const empty: Progress = { total: undefined, done: 0, ok: 0, failed: 0, inFlight: 0, elapsedMs: 0 }

/**
 * Where a call reports its progress. Provided by `reportTo`; a call without
 * one counts nothing.
 *
 * @since 0.3.0
 * @category context
 */
export class Reporter extends Context.Service<Reporter, {
  readonly report: (progress: Progress) => Effect.Effect<void>
  readonly intervalMs: number
}>()("@loamy/core/Progress/Reporter") {}

/**
 * @since 0.3.0
 * @category models
 */
export interface ReportOptions {
  /** Time between snapshots. Default 250 ms. */
  readonly interval?: Duration.Input | undefined
}

/**
 * Reports the progress of the calls in an effect (`Clump.send`) or a stream
 * (`Clump.stream`, `Clump.streamFrom`) to a `SubscriptionRef` (to observe
 * its changes), a `Ref` or a function, every `interval` and once at the
 * end of each call.
 *
 * @since 0.3.0
 * @category reporting
 */
export const reportTo = (
  sink: SubscriptionRef.SubscriptionRef<Progress> | Ref.Ref<Progress> | ((progress: Progress) => Effect.Effect<void>),
  options?: ReportOptions
): <Self extends Effect.Effect<any, any, any> | Stream.Stream<any, any, any>>(self: Self) => Self => {
  const report = typeof sink === "function"
    ? sink
    : isSubscriptionRef(sink)
    ? (progress: Progress) => SubscriptionRef.set(sink, progress)
    : (progress: Progress) => Ref.set(sink, progress)
  const intervalMs = Duration.toMillis(options?.interval ?? defaultInterval)
  if (!(intervalMs > 0)) throw new RangeError(`Progress.reportTo: interval must be positive, got ${intervalMs} ms`)
  const reporter = Reporter.of({ report, intervalMs })
  return provideReporter(reporter)
}

const defaultInterval = Duration.millis(250)

const isSubscriptionRef = (
  sink: SubscriptionRef.SubscriptionRef<Progress> | Ref.Ref<Progress>
): sink is SubscriptionRef.SubscriptionRef<Progress> => SubscriptionRef.isSubscriptionRef(sink)

const isStream = (u: Effect.Effect<any, any, any> | Stream.Stream<any, any, any>): u is Stream.Stream<any, any, any> =>
  Stream.isStream(u)

/** Provides `reporter` to an effect or a stream, keeping its type (providing removes nothing: it is not required). */
const provideReporter = (reporter: Reporter["Service"]) =>
<Self extends Effect.Effect<any, any, any> | Stream.Stream<any, any, any>>(self: Self): Self => {
  const target: Effect.Effect<any, any, any> | Stream.Stream<any, any, any> = self
  const provided = isStream(target)
    ? Stream.provideService(target, Reporter, reporter)
    : Effect.provideService(target, Reporter, reporter)
  return provided as Self
}

/**
 * A snapshot of a run's counters.
 *
 * @internal
 */
export const snapshot = (counters: Counters, total: number | undefined, startedAt: number, ended: boolean): Progress => ({
  total,
  done: counters.done,
  ok: counters.done - counters.failed,
  failed: counters.failed,
  // A run that ended (interrupted or failed fast) has nothing in flight.
  inFlight: ended ? 0 : counters.started - (counters.done - counters.refused),
  elapsedMs: performance.now() - startedAt
})

/**
 * Runs `body` while reporting the counters: a snapshot at the start, every
 * interval, and at the end, however the run ends.
 *
 * @internal
 */
export const reporting = <A, E, R>(
  reporter: Reporter["Service"],
  counters: Counters,
  total: number | undefined,
  body: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.suspend(() => {
    const startedAt = performance.now()
    const report = (ended: boolean) =>
      Effect.catchCause(Effect.suspend(() => reporter.report(snapshot(counters, total, startedAt, ended))), () =>
        Effect.void)
    return Effect.flatMap(
      Effect.forkChild(Effect.repeat(report(false), Schedule.spaced(Duration.millis(reporter.intervalMs))), {
        startImmediately: true
      }),
      (ticker) => Effect.ensuring(body, Effect.andThen(Fiber.interrupt(ticker), report(true)))
    )
  })
