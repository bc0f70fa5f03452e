/**
 * The built `loamy` command run as a user runs it: a child process of this
 * Node, its input piped in, its output collected, bounded in time.
 *
 * @since 1.1.0
 */
import { spawn } from "node:child_process"
import { createRequire } from "node:module"
import * as path from "node:path"

/**
 * The built CLI's entry (`@loamy/cli`'s `dist/bin.js`).
 *
 * @since 1.1.0
 * @category cli
 */
export const loamyBin = path.join(path.dirname(createRequire(import.meta.url).resolve("@loamy/cli/package.json")), "dist/bin.js")

/**
 * How a run ended.
 *
 * @since 1.1.0
 * @category models
 */
export interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
}

/**
 * @since 1.1.0
 * @category models
 */
export interface RunOptions {
  /** Piped to its stdin (default: nothing, stdin closed at once). */
  readonly stdin?: string
  /** Killed, and the run failed, after this long (default 60 s). */
  readonly timeoutMs?: number
  readonly cwd?: string
  /** Its whole environment (default: this process's, with `NO_COLOR=1`). */
  readonly env?: NodeJS.ProcessEnv
  /** Flags for Node before the entry (`--import`, a hook). */
  readonly nodeArgs?: ReadonlyArray<string>
}

/**
 * Runs `loamy ARGS`; resolves when it exits, and fails if it has not
 * within `timeoutMs`, so no test can hang.
 *
 * @since 1.1.0
 * @category cli
 */
export const runLoamy = (args: ReadonlyArray<string>, options: RunOptions = {}): Promise<Ran> =>
  new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), loamyBin, ...args], {
      stdio: ["pipe", "pipe", "pipe"],
      cwd: options.cwd,
      env: options.env ?? { ...process.env, NO_COLOR: "1" }
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    const timeoutMs = options.timeoutMs ?? 60_000
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`loamy ${args.join(" ")} did not exit within ${timeoutMs} ms\nstderr: ${stderr}`))
    }, timeoutMs)
    child.on("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr, ms: performance.now() - started })
    })
    child.stdin.on("error", () => {
      // The CLI may exit before reading stdin (usage errors); that is not the test's failure.
    })
    child.stdin.end(options.stdin ?? "")
  })

/**
 * The JSON lines of the CLI's output: its records, as parsed JSON (typed
 * loosely: tests read their fields as the CLI's help describes them).
 *
 * @since 1.1.0
 * @category cli
 */
export const records = (stdout: string): Array<Record<string, any>> =>
  stdout.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line))

/**
 * `items` as JSONL: one JSON text a line.
 *
 * @since 1.1.0
 * @category cli
 */
export const jsonl = (items: ReadonlyArray<unknown>): string => items.map((item) => JSON.stringify(item)).join("\n") + "\n"
