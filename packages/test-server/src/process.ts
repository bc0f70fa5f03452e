/**
 * The test server in a process of its own, driven over an IPC channel: for
 * the synchronous door (which blocks the calling thread, so a server on that
 * thread cannot answer) and for tests that time arrivals (a busy test process
 * would bunch the times it takes; the child's event loop does nothing else).
 *
 * @since 0.1.0
 */
import { fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import type { Stats } from "./server.js"

/**
 * @since 0.1.0
 * @category models
 */
export interface ServerProcess {
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly url: string
  /** The second listener, another origin (see `TestServer.otherUrl`). */
  readonly otherUrl: string
  /** The server's stats as they are now, arrivals included. */
  stats(): Promise<Stats>
  resetStats(): Promise<void>
  /** Stops the server and its process (killed if it has not exited 5 s after being asked). */
  close(): Promise<void>
}

/** @internal */
export type Question = { readonly id: number; readonly type: "stats" | "reset" }
/** @internal */
export type Answer =
  | { readonly type: "ready"; readonly url: string; readonly otherUrl: string }
  | { readonly type: "answer"; readonly id: number; readonly stats?: Stats }

const childScript = fileURLToPath(new URL("./child.js", import.meta.url))

/**
 * Starts the server in a child process (one of this Node's, on 127.0.0.1, a
 * free port). The child exits when this process closes the channel or exits;
 * every wait has a bound (15 s to start, 15 s for each answer).
 *
 * @since 0.1.0
 * @category constructors
 */
export const startProcess = (): Promise<ServerProcess> =>
  new Promise((resolve, reject) => {
    const child = fork(childScript, [], { stdio: ["ignore", "inherit", "inherit", "ipc"], execArgv: [] })
    const waiting = new Map<number, { readonly answer: (stats: Stats | undefined) => void }>()
    let next = 0
    const failStart = (error: Error) => {
      clearTimeout(timer)
      child.kill("SIGKILL")
      reject(error)
    }
    const timer = setTimeout(() => failStart(new Error("the test server process did not start within 15 s")), 15_000)
    child.once("error", failStart)
    child.once("exit", (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`the test server process exited (${signal ?? code}) before it listened`))
    })
    const ask = (type: Question["type"]) =>
      new Promise<Stats | undefined>((answer, fail) => {
        if (!child.connected) return fail(new Error(`the test server process is gone: no ${type}`))
        const id = next++
        const noAnswer = setTimeout(() => {
          waiting.delete(id)
          fail(new Error(`the test server process did not answer ${type} within 15 s`))
        }, 15_000)
        waiting.set(id, {
          answer: (stats) => {
            clearTimeout(noAnswer)
            answer(stats)
          }
        })
        child.send({ id, type } satisfies Question)
      })
    child.on("message", (message: Answer) => {
      if (message.type === "answer") {
        const question = waiting.get(message.id)
        waiting.delete(message.id)
        question?.answer(message.stats)
        return
      }
      clearTimeout(timer)
      child.removeAllListeners("exit")
      child.removeAllListeners("error")
      resolve({
        url: message.url,
        otherUrl: message.otherUrl,
        stats: () => ask("stats").then((stats) => stats!),
        resetStats: () => ask("reset").then(() => undefined),
        close: () =>
          new Promise<void>((closed) => {
            if (child.exitCode !== null || child.signalCode !== null) return closed()
            const kill = setTimeout(() => child.kill("SIGKILL"), 5_000)
            child.once("exit", () => {
              clearTimeout(kill)
              closed()
            })
            if (child.connected) child.disconnect()
            else child.kill()
          })
      })
    })
  })
