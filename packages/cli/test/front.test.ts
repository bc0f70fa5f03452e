import { spawn } from "node:child_process"
import { describe, expect, it } from "vitest"
import { checkFlags, plain } from "../dist/Cli.js"
import { progressLine } from "../dist/internal/stats.js"
import { bin } from "./helpers.js"

/** Runs the CLI with stdout and stderr piped and the given environment (the helpers' runner sets NO_COLOR). */
const raw = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"], env })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`loamy ${args.join(" ")} did not exit`))
    }, 60_000)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })

const withoutNoColor = () => {
  const env = { ...process.env }
  delete env["NO_COLOR"]
  delete env["FORCE_COLOR"]
  return env
}

describe("help as users meet it", () => {
  it("is plain text when piped, even without NO_COLOR", async () => {
    const env = withoutNoColor()
    const results = await Promise.all([["--help"], ["send", "--help"], ["demo", "--help"], ["--version"]].map((args) =>
      raw(args, env)
    ))
    for (const r of results) {
      expect(r.code).toBe(0)
      expect(r.stdout).not.toContain("\x1b[")
    }
    const [root, send] = results
    // Each command with its description, and usage lines that name the program.
    expect(root!.stdout).toMatch(/send\s+Send the requests/)
    expect(root!.stdout).toMatch(/demo\s+Start the embedded test server/)
    expect(root!.stdout).toContain("$ loamy send [FLAGS] [FILE | -]")
    expect(send!.stdout).toContain("$ loamy send [FLAGS] [FILE | -]")
    expect(send!.stdout).not.toMatch(/^\$ send/m)
    // Repeatable flags are not shown as required.
    expect(send!.stdout).not.toMatch(/\(-H, --header 'NAME: VALUE'\)\.\.\. \[/)
    expect(send!.stdout).toContain("zero or more times")
  }, 120_000)

  it("names an unknown flag, and says a value is not an integer, with exit code 2", async () => {
    const env = withoutNoColor()
    const [bogus, notInteger, demo] = await Promise.all([
      raw(["send", "--bogus", "FILE"], env),
      raw(["send", "-c", "abc", "FILE"], env),
      raw(["demo", "--fast"], env)
    ])
    expect(bogus.code).toBe(2)
    expect(bogus.stderr).toContain(`unknown option "--bogus"`)
    expect(bogus.stderr).not.toContain("FILE")
    expect(notInteger.code).toBe(2)
    expect(notInteger.stderr).toContain(`--concurrency: "abc" is not an integer`)
    expect(demo.code).toBe(2)
    expect(demo.stderr).toContain(`unknown option "--fast"`)
    for (const r of [bogus, notInteger, demo]) expect(r.stderr).not.toContain("\x1b[")
  }, 120_000)
})

describe("checkFlags", () => {
  it("accepts every flag of send and demo, with values in both forms", () => {
    expect(checkFlags(["send", "-o", "out.jsonl", "--ordered", "-c", "5", "--timeout", "5s", "--deadline=1m",
      "--retry", "3", "--rate", "10/1s", "--rate-per-origin", "-H", "A: b", "--header=C: d", "--fail-fast",
      "--max-body-bytes", "1000", "--max-redirects=0", "--redact", "X-Key", "--show-secrets", "-q", "in.jsonl"])).toBe(
        undefined
      )
    expect(checkFlags(["send", "-"])).toBe(undefined)
    expect(checkFlags(["send", "--", "--odd-file-name"])).toBe(undefined)
    expect(checkFlags(["demo", "--quiet"])).toBe(undefined)
    // A flag's value is not a flag.
    expect(checkFlags(["send", "--header", "-X: y", "f"])).toBe(undefined)
  })

  it("refuses unknown flags, missing values and non-integers", () => {
    expect(checkFlags(["send", "--bogus", "FILE"])).toBe(`send: unknown option "--bogus"`)
    expect(checkFlags(["send", "--bogus=1"])).toBe(`send: unknown option "--bogus"`)
    expect(checkFlags(["send", "--retry"])).toBe("send --retry needs a value")
    expect(checkFlags(["send", "--max-redirects=two"])).toBe(`send --max-redirects: "two" is not an integer`)
    expect(checkFlags(["send", "-c", "1e3"])).toBe(`send --concurrency: "1e3" is not an integer`)
  })
})

describe("plain", () => {
  it("is plain unless a terminal without NO_COLOR", () => {
    const saved = process.env["NO_COLOR"]
    try {
      delete process.env["NO_COLOR"]
      expect(plain({ isTTY: true })).toBe(false)
      expect(plain({ isTTY: false })).toBe(true)
      expect(plain({})).toBe(true)
      process.env["NO_COLOR"] = "1"
      expect(plain({ isTTY: true })).toBe(true)
      process.env["NO_COLOR"] = ""
      expect(plain({ isTTY: true })).toBe(false)
    } finally {
      if (saved === undefined) delete process.env["NO_COLOR"]
      else process.env["NO_COLOR"] = saved
    }
  })
})

describe("progressLine", () => {
  it("never reaches the last column, however narrow the terminal", () => {
    const tracker = { done: 123456, failed: 789, inFlight: 100, total: 1000000 }
    for (let columns = 1; columns <= 200; columns++) {
      const line = progressLine(tracker, 12345.6, columns)
      expect(line.length, `${columns} columns`).toBeLessThanOrEqual(Math.max(1, columns - 1))
    }
    // Wide enough: the bar and all the numbers.
    expect(progressLine(tracker, 12345.6, 200)).toMatch(/^\[#*-*\] 123456\/1000000 {2}failed 789 {2}in flight 100/)
    expect(progressLine({ ...tracker, total: undefined }, 0, 50)).toBe("123456  failed 789  in flight 100  0 req/s")
  })
})
