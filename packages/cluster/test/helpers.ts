/**
 * Real components for the cluster tests, all on 127.0.0.1: runner and coordinator processes
 * (test/fixtures/runner.js, coordinator.js) and what the server's log says of them. Postgres, Redis and free ports
 * come from the test kit (`@loamy/test-kit/services`).
 */
import { exited, freePort } from "@loamy/test-kit"
import { query } from "@loamy/test-kit/services"
import { type ChildProcess, spawn } from "node:child_process"
import { fileURLToPath } from "node:url"

export const runnerScript = fileURLToPath(new URL("./fixtures/runner.js", import.meta.url))

export interface RunnerProcess {
  readonly port: number
  readonly child: ChildProcess
  readonly stderr: () => string
  /** Kills the process at once (SIGKILL: no clean hand-over of its shards) and waits for it to exit. */
  kill(): Promise<void>
  /** Asks it to stop (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>
}

/** Starts a runner process and waits for its ready line (bounded by `timeoutMs`). */
export const startRunner = (
  db: string,
  options: { readonly lockMs?: number; readonly redis?: string; readonly timeoutMs?: number } = {}
): Promise<RunnerProcess> =>
  freePort().then((port) =>
    new Promise<RunnerProcess>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        [runnerScript, db, String(port), String(options.lockMs ?? ""), options.redis ?? ""],
        { stdio: ["ignore", "pipe", "pipe"] }
      )
      let out = ""
      let err = ""
      child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk))
      const timer = setTimeout(() => {
        child.kill("SIGKILL")
        reject(new Error(`runner on port ${port} not ready within ${options.timeoutMs ?? 30_000} ms\n${err}`))
      }, options.timeoutMs ?? 30_000)
      const runner: RunnerProcess = {
        port,
        child,
        stderr: () => err,
        kill: () => {
          child.kill("SIGKILL")
          return exited(child)
        },
        stop: () => {
          child.kill("SIGTERM")
          return exited(child)
        }
      }
      child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
        out += chunk
        if (out.includes('"ready":true')) {
          clearTimeout(timer)
          resolve(runner)
        }
      })
      child.once("exit", (code, signal) => {
        clearTimeout(timer)
        reject(new Error(`runner on port ${port} exited (${code ?? signal}) before it was ready\n${err}`))
      })
    })
  )

export const coordinatorScript = fileURLToPath(new URL("./fixtures/coordinator.js", import.meta.url))

export interface CoordinatorProcess {
  readonly child: ChildProcess
  /** Chunks reported finished so far. */
  readonly chunks: () => number
  /** The final line, once the process has exited. */
  readonly result: Promise<{ readonly code: number | null; readonly done?: Record<string, unknown>; readonly stderr: string }>
}

/** Starts a coordinator process (test/fixtures/coordinator.js) with these arguments. */
export const startCoordinator = (args: ReadonlyArray<string | number>): CoordinatorProcess => {
  const child = spawn(process.execPath, [coordinatorScript, ...args.map(String)], { stdio: ["ignore", "pipe", "pipe"] })
  let out = ""
  let err = ""
  let chunks = 0
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (err += chunk))
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk
    chunks = (out.match(/"chunk":/g) ?? []).length
  })
  const result = new Promise<{ code: number | null; done?: Record<string, unknown>; stderr: string }>((resolve) => {
    child.once("exit", (code) => {
      const last = out.trim().split("\n").filter((line) => line.includes('"done"')).pop()
      resolve(last === undefined ? { code, stderr: err } : { code, done: JSON.parse(last), stderr: err })
    })
  })
  return { child, chunks: () => chunks, result }
}

/** How many times the server saw each `i` query value. */
export const countsByIndex = (arrivalPaths: ReadonlyArray<string>): Map<number, number> => {
  const counts = new Map<number, number>()
  for (const p of arrivalPaths) {
    const match = /[?&]i=(\d+)/.exec(p)
    if (match !== null) counts.set(Number(match[1]), (counts.get(Number(match[1])) ?? 0) + 1)
  }
  return counts
}

/** Waits until `count` runners each hold shard locks (Postgres advisory locks, one session per runner). */
export const untilBalanced = async (db: string, count: number, timeoutMs: number): Promise<void> => {
  const end = Date.now() + timeoutMs
  for (;;) {
    const rows = await query<{ pid: number; n: string }>(
      db,
      "SELECT pid, count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = " +
        "(SELECT oid FROM pg_database WHERE datname = current_database()) GROUP BY pid"
    )
    if (rows.length === count) {
      const sizes = rows.map((row) => Number(row.n))
      if (Math.max(...sizes) - Math.min(...sizes) <= 1) return
    }
    if (Date.now() > end) throw new Error(`shards not balanced over ${count} runners within ${timeoutMs} ms: ${JSON.stringify(rows)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

export interface Arrival {
  readonly i: number
  readonly runner: number
  readonly at: number
}

/** The server's log of `?i=N&runner=PORT` requests. */
export const arrivalsOf = (stats: { readonly arrivals: ReadonlyArray<number>; readonly arrivalPaths: ReadonlyArray<string> }): Array<Arrival> => {
  const out: Array<Arrival> = []
  stats.arrivalPaths.forEach((p, k) => {
    const i = /[?&]i=(\d+)/.exec(p)
    const runner = /[?&]runner=(\d+)/.exec(p)
    if (i !== null) out.push({ i: Number(i[1]), runner: runner === null ? 0 : Number(runner[1]), at: stats.arrivals[k]! })
  })
  return out
}

/** The most arrivals in any half-open span of `spanMs` (sorted times in ms). */
export const maxInSpan = (times: ReadonlyArray<number>, spanMs: number): number => {
  const sorted = [...times].sort((a, b) => a - b)
  let max = 0
  let first = 0
  for (let last = 0; last < sorted.length; last++) {
    while (sorted[last]! - sorted[first]! >= spanMs) first++
    max = Math.max(max, last - first + 1)
  }
  return max
}
