import { loamyBin as bin } from "@loamy/test-kit/cli"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"

/** The built CLI, run as a user runs it (the real executable in a child process): from the test kit. */
export { jsonl, loamyBin as bin, records, runLoamy as loamy } from "@loamy/test-kit/cli"
export { within } from "@loamy/test-kit"

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

/** `script` (util-linux) runs a command on a pseudo-terminal of its own: how these tests give loamy a terminal. */
export const hasScript = spawnSync("script", ["--version"]).status === 0

/** An argument for `sh -c`, single-quoted. */
export const shQuote = (arg: string): string => `'${arg.replaceAll("'", `'\\''`)}'`

/**
 * Runs `loamy ARGS` on a pseudo-terminal `columns` wide (through `script`),
 * as a user at a terminal would: stdin, stdout and stderr are the terminal.
 * `screen` is everything the terminal was sent (the program's output and the
 * echo of what was typed); `type` types on its keyboard (`"\x03"` is Ctrl-C,
 * which the terminal turns into SIGINT); `pid` is loamy's own process id, once
 * it is known; `exited` gives its exit code.
 */
export const inTerminal = (
  args: ReadonlyArray<string>,
  options: { readonly columns?: number; readonly env?: NodeJS.ProcessEnv; readonly cwd?: string } = {}
) => {
  const command = `stty cols ${options.columns ?? 80} rows 50; echo "loamy-pid $$"; exec ${
    [process.execPath, bin, ...args].map(shQuote).join(" ")
  }`
  const child = spawn("script", ["-qfec", command, "/dev/null"], {
    stdio: ["pipe", "pipe", "pipe"],
    cwd: options.cwd,
    env: options.env ?? { ...process.env, NO_COLOR: "1" }
  })
  let screen = ""
  const waiters: Array<{ readonly test: (screen: string) => boolean; readonly resolve: () => void }> = []
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    screen += chunk
    for (const waiter of waiters.splice(0)) {
      if (waiter.test(screen)) waiter.resolve()
      else waiters.push(waiter)
    }
  })
  child.stderr.resume()
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on("error", reject)
    child.on("close", (code) => resolve(code))
  })
  return {
    child,
    exited,
    get screen() {
      return screen
    },
    /** Resolves once the screen so far passes `test` (checked at every output). */
    until: (test: (screen: string) => boolean): Promise<void> =>
      test(screen) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ test, resolve })),
    type: (text: string) => child.stdin.write(text),
    pid: (): number | undefined => {
      const match = /loamy-pid (\d+)/.exec(screen)
      return match === null ? undefined : Number(match[1])
    }
  }
}

/**
 * What a terminal `columns` wide shows once it has been sent `output`: the
 * lines of its screen, without trailing spaces. Knows what loamy and a
 * terminal's line discipline send: text (wrapping at the last column),
 * CR, LF, erase line (`ESC [2K`, `ESC [K`), and ignores colours.
 */
export const render = (output: string, columns: number): Array<string> => {
  const rows: Array<Array<string>> = [[]]
  let row = 0
  let col = 0
  // A character in the last column leaves the cursor there; the next one wraps (as xterm and the Linux console do).
  let pendingWrap = false
  const line = () => (rows[row] ??= [])
  for (let i = 0; i < output.length; i++) {
    const ch = output[i]!
    if (ch === "\x1b") {
      const match = /^\x1b\[([0-9;?]*)([A-Za-z])/.exec(output.slice(i, i + 16))
      if (match === null) continue
      i += match[0].length - 1
      if (match[2] === "K") {
        const mode = match[1] === "" ? "0" : match[1]
        if (mode === "2") rows[row] = []
        else if (mode === "0") line().length = Math.min(line().length, col)
      }
      continue
    }
    if (ch === "\r") {
      col = 0
      pendingWrap = false
    } else if (ch === "\n") {
      row++
      line()
      pendingWrap = false
    } else if (ch >= " ") {
      if (pendingWrap) {
        row++
        col = 0
        pendingWrap = false
      }
      const cells = line()
      while (cells.length < col) cells.push(" ")
      cells[col] = ch
      if (col === columns - 1) pendingWrap = true
      else col++
    }
  }
  return rows.map((cells) => cells.join("").trimEnd())
}

/**
 * A temporary directory for one test file, made before its tests and removed after them: `dir` is its path,
 * `at(name)` a path in it, `file(name, content)` writes a file there and returns its path.
 */
export const scratchDir = (prefix: string) => {
  let dir = ""
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  })
  afterAll(() => {
    if (dir !== "") fs.rmSync(dir, { recursive: true, force: true })
  })
  const at = (name: string): string => path.join(dir, name)
  return {
    get dir() {
      return dir
    },
    at,
    file: (name: string, content: string | Uint8Array): string => {
      const p = at(name)
      fs.writeFileSync(p, content)
      return p
    }
  }
}
