import { type ChildProcess, fork } from "node:child_process"
import { fileURLToPath } from "node:url"
import type { Stats } from "@loamy/test-server"

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Polls `check` every 10 ms until it holds or `ms` pass; returns whether it held. */
export const waitUntil = async (check: () => boolean | Promise<boolean>, ms = 5_000): Promise<boolean> => {
  const until = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > until) return false
    await sleep(10)
  }
  return true
}

export interface RemoteServer {
  readonly url: string
  stats(): Promise<Stats>
  reset(): Promise<void>
  close(): Promise<void>
}

/** The test server in a child process: the sync door blocks this thread, so the server cannot live on it. */
export const startRemote = (): Promise<RemoteServer> =>
  new Promise((resolve, reject) => {
    const child: ChildProcess = fork(fileURLToPath(new URL("./fixtures/server.mjs", import.meta.url)), {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      execArgv: []
    })
    const timer = setTimeout(() => reject(new Error("test server did not start in 10 s")), 10_000)
    const ask = <A>(type: string): Promise<A> =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${type} reply in 5 s`)), 5_000)
        const on = (message: { type: string; stats?: Stats }) => {
          if (message.type !== type) return
          clearTimeout(timer)
          child.off("message", on)
          resolve(message.stats as A)
        }
        child.on("message", on)
        child.send({ type })
      })
    child.once("error", reject)
    child.once("message", (message: { type: string; url: string }) => {
      clearTimeout(timer)
      resolve({
        url: message.url,
        stats: () => ask<Stats>("stats"),
        reset: () => ask<void>("reset"),
        close: () =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null) return resolve()
            child.once("exit", () => resolve())
            child.disconnect()
            setTimeout(() => child.kill(), 2_000).unref()
          })
      })
    })
  })

/** The original loamy's test batch: 100 requests alternating GET / and POST /foo. */
export const originalBatch = (url: string) =>
  Array.from({ length: 100 }, (_, i) =>
    i % 2 === 0
      ? { url: `${url}/`, httpOp: "GET" as const }
      : { url: `${url}/foo`, httpOp: "POST" as const, body: { i }, headers: { "X-Test": "Test" } })
