/**
 * A fixture in a process of its own, driven over an IPC channel: for the
 * synchronous door, which blocks the test's thread (a server on that thread
 * could not answer). The child says it is ready with what the parent needs
 * (its URL), answers the parent's questions by name, and exits when the
 * parent goes away.
 *
 * @since 1.1.0
 */
import { type ChildProcess, fork } from "node:child_process"

/**
 * Resolves once `child` has exited (at once if it already has).
 *
 * @since 1.1.0
 * @category processes
 */
export const exited = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once("exit", () => resolve())
  })

/**
 * A fixture in a process of its own, as a test holds it.
 *
 * @since 1.1.0
 * @category models
 */
export interface Remote {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  /** Forgets what it has recorded so far. */
  reset(): Promise<void>
  /** Stops it and its process. */
  close(): Promise<void>
}

/**
 * @since 1.1.0
 * @category models
 */
export interface Forked<Ready> {
  /** What the child sent when it was ready. */
  readonly ready: Ready
  /** Asks the child `question` and resolves with its answer (within 15 s). */
  ask<A>(question: string): Promise<A>
  /** Closes the channel; the child exits (killed if it has not within 2 s). */
  close(): Promise<void>
}

type Message = { readonly type: "ready"; readonly ready: unknown } | { readonly id: number; readonly value: unknown }

/**
 * Forks `script` (with this Node, without this process's flags) and waits,
 * at most 15 s, for it to say it is ready (`answerParent`).
 *
 * @since 1.1.0
 * @category constructors
 */
export const forkFixture = <Ready>(script: string, args: ReadonlyArray<string> = []): Promise<Forked<Ready>> =>
  new Promise((resolve, reject) => {
    const child = fork(script, args, { stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv: [] })
    const waiting = new Map<number, (value: unknown) => void>()
    let next = 0
    const failStart = (error: Error) => {
      clearTimeout(timer)
      child.kill("SIGKILL")
      reject(error)
    }
    const timer = setTimeout(() => failStart(new Error(`${script} did not start within 15 s`)), 15_000)
    child.once("error", failStart)
    child.once("exit", (code, signal) => failStart(new Error(`${script} exited (${signal ?? code}) before it was ready`)))
    const ask = <A>(question: string): Promise<A> =>
      new Promise((answer, fail) => {
        if (!child.connected) return fail(new Error(`${script} is gone: no answer to ${question}`))
        const id = next++
        const noAnswer = setTimeout(() => {
          waiting.delete(id)
          fail(new Error(`${script} did not answer ${question} within 15 s`))
        }, 15_000)
        waiting.set(id, (value) => {
          clearTimeout(noAnswer)
          answer(value as A)
        })
        child.send({ id, question })
      })
    child.on("message", (message: Message) => {
      if (!("type" in message)) {
        const answer = waiting.get(message.id)
        waiting.delete(message.id)
        return answer?.(message.value)
      }
      clearTimeout(timer)
      child.removeAllListeners("exit")
      child.removeAllListeners("error")
      resolve({
        ready: message.ready as Ready,
        ask,
        close: async () => {
          // Going away is what the child waits for (without a channel, it is asked to stop); one that does not go in 2 s is killed.
          const kill = setTimeout(() => child.kill("SIGKILL"), 2_000)
          if (child.connected) child.disconnect()
          else child.kill()
          await exited(child)
          clearTimeout(kill)
        }
      })
    })
  })

/**
 * The child's side of `forkFixture`: says it is ready with `ready`, answers
 * each question by its entry in `answers`, and once the parent goes away,
 * runs `close` and exits.
 *
 * @since 1.1.0
 * @category constructors
 */
export const answerParent = (
  ready: unknown,
  answers: Readonly<Record<string, () => unknown>>,
  close: () => Promise<void>
): void => {
  const send = (message: Message) => process.send!(message)
  process.on("message", (message: { readonly id: number; readonly question: string }) => {
    const answer = Object.hasOwn(answers, message.question) ? answers[message.question] : undefined
    send({ id: message.id, value: answer?.() })
  })
  process.on("disconnect", () => void close().then(() => process.exit(0)))
  send({ type: "ready", ready })
}
