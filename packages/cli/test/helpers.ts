import { spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

/** The built CLI: the tests run the real executable, as a user would. */
export const bin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist/bin.js")

export interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
  readonly ms: number
}

/**
 * Runs `loamy ARGS` with `stdin` piped in; kills it and fails after
 * `timeoutMs`, so no test can hang.
 */
export const loamy = (
  args: ReadonlyArray<string>,
  options: { readonly stdin?: string; readonly timeoutMs?: number; readonly cwd?: string } = {}
): Promise<Ran> =>
  new Promise((resolve, reject) => {
    const started = performance.now()
    const child = spawn(process.execPath, [bin, ...args], {
      stdio: ["pipe", "pipe", "pipe"],
      cwd: options.cwd,
      env: { ...process.env, NO_COLOR: "1" }
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

/** The JSON lines of the CLI's stdout. */
export const records = (stdout: string): Array<Record<string, any>> =>
  stdout.split("\n").filter((line) => line.trim() !== "").map((line) => JSON.parse(line))

export const jsonl = (items: ReadonlyArray<unknown>): string => items.map((item) => JSON.stringify(item)).join("\n") + "\n"

/**
 * Starts `loamy ARGS` with stdout piped and returns the child, for tests
 * that need to act on the stream (close it early). stderr is collected.
 */
export const spawnLoamy = (args: ReadonlyArray<string>, stdio: { readonly stdout?: number } = {}) => {
  const child = spawn(process.execPath, [bin, ...args], {
    stdio: ["ignore", stdio.stdout ?? "pipe", "pipe"],
    env: { ...process.env, NO_COLOR: "1" }
  })
  let stderr = ""
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve, reject) => {
    child.on("error", reject)
    child.on("close", (code, signal) => resolve({ code, signal, stderr }))
  })
  return { child, exited }
}

/** Fails with a message after `ms` unless `promise` settles first; the timer never outlives the promise. */
export const within = <A>(promise: Promise<A>, ms: number, what: string, onTimeout?: () => void): Promise<A> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        onTimeout?.()
        reject(new Error(`${what} did not finish within ${ms} ms`))
      }, ms)
    })
  ]).finally(() => clearTimeout(timer))
}
