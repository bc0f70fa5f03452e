/**
 * A streaming call's responses on their way to its consumer, in chunks: the
 * workers put each response in, the consumer takes all there are at once.
 * A consumer that waits is woken once per turn of the event loop, not once
 * per response, so that the responses that arrive in one turn reach the
 * stream as one chunk: a stream's cost is per chunk, and a chunk per
 * response cost more than the request itself.
 *
 * Bounded: a worker whose response fills the buffer to `capacity` waits
 * until the consumer takes, so a slow consumer holds the workers back (at
 * most `capacity` plus one response per worker are held).
 *
 * @internal
 */
import type * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"

type Resume<A, E> = (effect: Effect.Effect<A, E>) => void

/** The next turn of the event loop (after the I/O callbacks of this one); a timer where there is no `setImmediate`. */
const nextTurn: (callback: () => void) => void = typeof globalThis.setImmediate === "function"
  ? (callback) => void globalThis.setImmediate(callback)
  : (callback) => void setTimeout(callback, 0)

const isNonEmpty = <A>(items: Array<A>): items is Arr.NonEmptyArray<A> => items.length > 0

/** @internal */
export class Batches<A, E> {
  private items: Array<A> = []
  private end: Exit.Exit<void, E> | undefined = undefined
  private consumer: Resume<Arr.NonEmptyReadonlyArray<A>, E | Cause.Done> | undefined = undefined
  private producers: Array<Resume<void, never>> = []
  private scheduled = false

  constructor(private readonly capacity: number) {}

  /** Puts a response in: undefined when there is room left, else an effect that waits for the consumer to take. */
  offer(item: A): Effect.Effect<void> | undefined {
    this.items.push(item)
    this.wakeLater()
    if (this.items.length < this.capacity) return undefined
    // No canceler: a producer interrupted while it waits leaves a resume that does nothing when called.
    return Effect.callback<void>((resume) => {
      if (this.items.length < this.capacity) return resume(Effect.void)
      this.producers.push(resume)
    })
  }

  /** The run is over (done, or failed): the consumer gets what is left, then the end. */
  close(exit: Exit.Exit<void, E>): void {
    if (this.end !== undefined) return
    this.end = exit
    this.wakeLater()
  }

  /** The next chunk: all the responses there are, waiting for one if there is none; fails with `Cause.Done` at the end. */
  readonly pull: Effect.Effect<Arr.NonEmptyReadonlyArray<A>, E | Cause.Done> = Effect.suspend(() =>
    this.items.length > 0 || this.end !== undefined
      ? this.take()
      : Effect.callback<Arr.NonEmptyReadonlyArray<A>, E | Cause.Done>((resume) => {
        this.consumer = resume
      })
  )

  private wakeLater(): void {
    if (this.scheduled || this.consumer === undefined) return
    this.scheduled = true
    nextTurn(this.wake)
  }

  private readonly wake = (): void => {
    this.scheduled = false
    const consumer = this.consumer
    if (consumer === undefined || (this.items.length === 0 && this.end === undefined)) return
    this.consumer = undefined
    consumer(this.take())
  }

  private take(): Effect.Effect<Arr.NonEmptyReadonlyArray<A>, E | Cause.Done> {
    const out = this.items
    if (isNonEmpty(out)) {
      this.items = []
      if (this.producers.length > 0) {
        const producers = this.producers
        this.producers = []
        for (const resume of producers) resume(Effect.void)
      }
      return Effect.succeed(out)
    }
    const end = this.end!
    return Exit.isSuccess(end) ? Cause.done() : Effect.failCause(end.cause)
  }
}
