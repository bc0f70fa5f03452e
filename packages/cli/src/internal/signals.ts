/**
 * SIGINT and SIGTERM, and the exit codes of the `loamy` command.
 *
 * `@effect/platform-node`'s `NodeRuntime.runMain` interrupts the program at the first
 * signal, whatever it is doing, and cannot tell the two signals apart. Here a
 * command that can stop cleanly (`loamy send`: no new requests, every
 * response already received written) registers a handler with `onSignal`;
 * the first signal goes to it, a second one to the same handler (which then
 * stops at once). Without a handler a signal interrupts the program. The
 * exit code of a run stopped by a signal is 128 + its number: 130 for
 * SIGINT, 143 for SIGTERM.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"

/**
 * The exit codes of `loamy`.
 *
 * @internal
 */
export const ExitCode = {
  /** Every request got a response without error. */
  ok: 0,
  /** Some requests failed (or a line was not a request, or --fail-fast stopped the run). */
  failed: 1,
  /** Bad input or usage: nothing was sent. */
  usage: 2,
  /** Another run holds the --resume file: nothing was sent. */
  locked: 3,
  /** The output could not be written (a full disk, an I/O error): the run stopped; requests may have been sent. */
  output: 4,
  /** loamy itself failed (a bug): the run stopped; requests may have been sent. */
  internal: 5,
  sigint: 130,
  sigterm: 143
} as const

/** The signals a run stops on. @internal */
export type StopSignal = "SIGINT" | "SIGTERM"

/** 128 + the signal's number, as shells report a process killed by it. @internal */
export const exitCodeOf = (signal: StopSignal): number => signal === "SIGINT" ? ExitCode.sigint : ExitCode.sigterm

type Handler = (signal: StopSignal, count: number) => void

let handler: Handler | undefined
let received: StopSignal | undefined
let count = 0

/**
 * Routes SIGINT and SIGTERM to `handle` (with how many signals came so far,
 * 1 for the first) until the returned function is called.
 *
 * @internal
 */
export const onSignal = (handle: Handler): () => void => {
  handler = handle
  return () => {
    if (handler === handle) handler = undefined
  }
}

/** The first signal received, if any. @internal */
export const receivedSignal = (): StopSignal | undefined => received

/**
 * Runs the program: SIGINT and SIGTERM go to the registered handler, or
 * interrupt the program when there is none. `teardown` gets the program's
 * exit and the first signal received, and says the exit code; the process
 * exits with it (at once when it is not 0 or a signal came, else when the
 * event loop is empty).
 *
 * @internal
 */
export const runMain = <E, A>(
  program: Effect.Effect<A, E>,
  teardown: (exit: Exit.Exit<A, E>, signal: StopSignal | undefined) => number
): void => {
  const fiber = Effect.runFork(program)
  // The program's own handles (sockets, timers) may all be unref'ed while it waits.
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1)
  const onSignalReceived = (signal: StopSignal) => {
    received ??= signal
    count++
    if (handler !== undefined) return handler(signal, count)
    fiber.interruptUnsafe()
  }
  const onInt = () => onSignalReceived("SIGINT")
  const onTerm = () => onSignalReceived("SIGTERM")
  process.on("SIGINT", onInt)
  process.on("SIGTERM", onTerm)
  fiber.addObserver((exit) => {
    process.removeListener("SIGINT", onInt)
    process.removeListener("SIGTERM", onTerm)
    clearInterval(keepAlive)
    const code = teardown(exit, received)
    if (code !== 0 || received !== undefined) process.exit(code)
  })
}
