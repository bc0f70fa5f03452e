/**
 * A run stopped short, as real processes: SIGTERM and Ctrl-C (SIGINT, typed
 * on a pseudo-terminal) stop the sending, every response already received is
 * written (in `--ordered`, those held behind a request still in flight too),
 * the run exits 143 or 130 and prints the `--resume` command that completes
 * it, which is then run as printed, through a shell. An output that cannot
 * be written (a full tmpfs, /dev/full) stops the run with exit 4, saying how
 * many requests were sent and records written.
 */
import { listen } from "@loamy/test-kit"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bin, hasScript, inTerminal, jsonl, loamy, records, render, shQuote, spawnLoamy, within } from "./helpers.js"

/**
 * `/hang?i=N` answers only once `release()` was called; `/fast?i=N` at once,
 * with a body of `bytes` characters. `sent` counts the requests per `i`.
 */
const startServer = async () => {
  let released = false
  const held: Array<() => void> = []
  const sent = new Map<number, number>()
  let answered = 0
  const server = await listen((req, res) => {
    const url = new URL(req.url!, "http://x")
    const i = Number(url.searchParams.get("i"))
    sent.set(i, (sent.get(i) ?? 0) + 1)
    const answer = () => {
      res.setHeader("content-type", "application/json")
      res.end(JSON.stringify({ i, pad: "x".repeat(Number(url.searchParams.get("bytes") ?? "0")) }))
      answered++
    }
    if (url.pathname === "/hang" && !released) held.push(answer)
    else answer()
  })
  return {
    url: server.url,
    sent,
    get answered() {
      return answered
    },
    release: () => {
      released = true
      for (const answer of held.splice(0)) answer()
    },
    close: server.close
  }
}

let server: Awaited<ReturnType<typeof startServer>>
let dir: string
beforeAll(async () => {
  server = await startServer()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "loamy-cli-signals-"))
})
afterAll(async () => {
  await server?.close()
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
})

let files = 0
const fresh = (name: string) => path.join(dir, `${++files}-${name}`)

/** Runs a command line as a shell reads it, with `loamy` standing for this build of it. */
const runPrinted = (command: string, cwd: string) =>
  new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    const child = spawn("sh", ["-c", `loamy() { ${shQuote(process.execPath)} ${shQuote(bin)} "$@"; }\n${command}`], {
      cwd,
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, NO_COLOR: "1" }
    })
    let stderr = ""
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`${command} did not exit`))
    }, 60_000)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stderr })
    })
  })

/** The `--resume` command a stopped run printed (up to the end of its line). */
const printedCommand = (text: string): string => {
  const match = /to complete the run: (loamy [^\r\n]*)/.exec(text)
  if (match === null) throw new Error(`no command to complete the run in:\n${text}`)
  return match[1]!
}

/**
 * 30 requests in input order: index 0 hangs, 1 to 10 are answered at once and
 * wait in `--ordered` behind index 0 (with `--reorder-buffer 0` their workers
 * wait with them), 11 to 29 are not sent before the stop.
 */
const orderedInput = () => {
  const file = fresh("in.jsonl")
  fs.writeFileSync(
    file,
    jsonl(Array.from({ length: 30 }, (_, i) => ({ url: `${server.url}/${i === 0 ? "hang" : "fast"}?i=${i}`, httpOp: "GET" })))
  )
  return file
}

/** After the stop: records for exactly the answered indices 1 to 10, each once, every line whole. */
const expectAnsweredWritten = (out: string) => {
  const text = fs.readFileSync(out, "utf8")
  expect(text.endsWith("\n")).toBe(true)
  expect(records(text).map((r) => r["index"])).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
}

/** Runs the printed command once /hang answers; the file is then complete and nothing answered was sent again. */
const expectCompletedBy = async (command: string, out: string) => {
  server.release()
  const completed = await runPrinted(command, dir)
  expect(completed.code, completed.stderr).toBe(0)
  expect(records(fs.readFileSync(out, "utf8")).map((r) => r["index"]).sort((a, b) => a - b)).toEqual([...Array(30).keys()])
  // Index 0 was in flight at the stop and is sent again; every other index once.
  expect([...server.sent.entries()].sort((a, b) => a[0] - b[0])).toEqual(
    [...Array(30).keys()].map((i) => [i, i === 0 ? 2 : 1])
  )
}

/** The progress bar once the core counts 10 requests done (answered) and 1 in flight. */
const tenDone = /(?<!\d)10\/30 {2}failed 0 {2}in flight 1/

describe.runIf(hasScript)("a signal in the middle of a run", () => {
  it("SIGTERM: nothing more is sent, the answers held back by --ordered are written, exit 143, and the printed --resume command completes the run", async () => {
    server.sent.clear()
    const input = orderedInput()
    const out = fresh("out.jsonl")
    const run = inTerminal(["send", "--ordered", "--reorder-buffer", "0", "-c", "11", "--resume", out, input], { columns: 120 })
    // An event, not a time: the bar draws the core's figures, 10 done (answered) and 1 in flight.
    await within(run.until((screen) => tenDone.test(screen)), 60_000, "10 answers", () => run.child.kill("SIGKILL"))
    process.kill(run.pid()!, "SIGTERM")
    const code = await within(run.exited, 60_000, "loamy after SIGTERM", () => run.child.kill("SIGKILL"))
    const said = run.screen.replace(/\r\n/g, "\n")
    expect(code, said).toBe(143)
    expectAnsweredWritten(out)
    // Nothing was sent after the stop: 11 requests at the server, 0 to 10.
    expect([...server.sent.keys()].sort((a, b) => a - b)).toEqual([...Array(11).keys()])
    expect(said).toContain("loamy: interrupted by SIGTERM: 11 requests sent, 10 records written")
    expect(said).toContain("1 request in flight abandoned")
    const command = printedCommand(said)
    expect(command).toBe(`loamy send --ordered --reorder-buffer 0 -c 11 --resume ${out} ${input}`)
    await expectCompletedBy(command, out)
  }, 120_000)

  it("Ctrl-C at 40 columns: the same with exit 130, -o FILE becomes --resume FILE, and no stale progress line is left", async () => {
    server.sent.clear()
    // The hang route holds again for this run.
    const fresh2 = await startServer()
    const previous = server
    server = fresh2
    try {
      const input = orderedInput()
      const out = fresh("out with space.jsonl")
      const run = inTerminal(["send", "--ordered", "--reorder-buffer", "0", "-c", "11", "-o", out, input], { columns: 40 })
      await within(run.until((screen) => tenDone.test(screen)), 60_000, "10 answers", () => run.child.kill("SIGKILL"))
      run.type("\x03")
      const code = await within(run.exited, 60_000, "loamy after Ctrl-C", () => run.child.kill("SIGKILL"))
      const screen = render(run.screen, 40)
      expect(code, screen.join("\n")).toBe(130)
      // What stays on the screen: no progress line (it would read "N/30  failed ...").
      expect(screen.filter((line) => /\d+\/30 {2}failed/.test(line)), screen.join("\n")).toEqual([])
      expectAnsweredWritten(out)
      // The message wraps on a narrow terminal: read it from what was sent, not from the screen.
      const said = run.screen.replace(/\r\n/g, "\n")
      expect(said).toContain("loamy: interrupted by SIGINT: 11 requests sent, 10 records written")
      const command = printedCommand(said)
      expect(command).toBe(`loamy send --resume '${out}' --ordered --reorder-buffer 0 -c 11 ${input}`)
      await expectCompletedBy(command, out)
    } finally {
      server = previous
      await fresh2.close()
    }
  }, 120_000)
})

/** Whether this process may mount a tmpfs (root with CAP_SYS_ADMIN, as in CI); the test is skipped, saying so, if not. */
const tinyFs = (() => {
  if (process.platform !== "linux") return undefined
  const mountPoint = fs.mkdtempSync(path.join(os.tmpdir(), "loamy-cli-tinyfs-"))
  const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", mountPoint]).status === 0
  if (!mounted) {
    fs.rmdirSync(mountPoint)
    console.warn("signals.test.ts: cannot mount a tmpfs here (needs root): the full-disk test is skipped")
    return undefined
  }
  return mountPoint
})()
afterAll(() => {
  if (tinyFs === undefined) return
  spawnSync("umount", [tinyFs])
  fs.rmSync(tinyFs, { recursive: true, force: true })
})

describe("an output that cannot be written", () => {
  it.runIf(tinyFs !== undefined)("a full disk (a 64 KiB tmpfs): exit 4, how many requests were sent and records written; --resume completes once there is room", async () => {
    server.sent.clear()
    const size = 400
    const input = fresh("big.jsonl")
    // Records of about 700 bytes: 64 KiB fills after about 90 of them.
    fs.writeFileSync(input, jsonl(Array.from({ length: size }, (_, i) => ({ url: `${server.url}/fast?i=${i}&bytes=500`, httpOp: "GET" }))))
    const out = path.join(tinyFs!, "out.jsonl")
    const r = await loamy(["send", "-q", "-c", "4", "--resume", out, input], { timeoutMs: 60_000 })
    expect(r.code, r.stderr).toBe(4)
    expect(r.stderr).toMatch(new RegExp(`^loamy: cannot write ${out}: ENOSPC`, "m"))
    const counts = /loamy: the run stopped: its output could not be written: (\d+) requests? sent, (\d+) records? written to /.exec(r.stderr)
    expect(counts, r.stderr).not.toBeNull()
    const [sent, written] = [Number(counts![1]), Number(counts![2])]
    // The records it says were written are the whole lines in the file.
    const text = fs.readFileSync(out, "utf8")
    const whole = text.split("\n").length - 1
    expect(written).toBe(whole)
    expect(whole).toBeGreaterThan(0)
    expect(whole).toBeLessThan(size)
    const atServer = [...server.sent.values()].reduce((a, b) => a + b, 0)
    expect(sent).toBeGreaterThanOrEqual(written)
    // Sent: handed to the HTTP client; of the (at most 4) in flight at the stop, some may not have reached the server.
    expect(sent).toBeLessThanOrEqual(atServer + 4)
    expect(sent).toBeGreaterThanOrEqual(atServer)
    // Room again, then the printed command completes the run (a torn last line is cut away).
    expect(spawnSync("mount", ["-o", "remount,size=4m", tinyFs!]).status).toBe(0)
    const completed = await runPrinted(printedCommand(r.stderr), dir)
    expect(completed.code, completed.stderr).toBe(0)
    expect(records(fs.readFileSync(out, "utf8")).map((x) => x["index"]).sort((a, b) => a - b)).toEqual([...Array(size).keys()])
  }, 120_000)

  const hasDevFull = fs.existsSync("/dev/full")

  it.runIf(hasDevFull)("-o /dev/full: exit 4 (not 2, which means nothing was sent), naming the file and the counts", async () => {
    const input = fresh("few.jsonl")
    fs.writeFileSync(input, jsonl(Array.from({ length: 5 }, (_, i) => ({ url: `${server.url}/fast?i=${i}`, httpOp: "GET" }))))
    const r = await loamy(["send", input, "-q", "-o", "/dev/full"], { timeoutMs: 60_000 })
    expect(r.code).toBe(4)
    expect(r.stderr).toMatch(/^loamy: cannot write \/dev\/full: ENOSPC/m)
    expect(r.stderr).toMatch(/requests? sent, 0 records written to \/dev\/full/)
    expect(r.stderr).toContain("/dev/full, which loamy cannot read back")
    expect(r.stderr).not.toMatch(/\n\s+at /)
  }, 60_000)

  it.runIf(hasDevFull)("stdout on /dev/full: exit 4, and no --resume command (stdout cannot be read back)", async () => {
    const input = fresh("one.jsonl")
    fs.writeFileSync(input, jsonl([{ url: `${server.url}/fast?i=0`, httpOp: "GET" }]))
    const full = fs.openSync("/dev/full", "w")
    try {
      const { exited, child } = spawnLoamy(["send", input, "-q"], { stdout: full })
      const r = await within(exited, 60_000, "loamy", () => child.kill("SIGKILL"))
      expect(r.code).toBe(4)
      expect(r.stderr).toMatch(/^loamy: cannot write stdout: ENOSPC/m)
      expect(r.stderr).toContain("stdout, which loamy cannot read back")
    } finally {
      fs.closeSync(full)
    }
  }, 60_000)
})
