import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { command, plain } from "../dist/Cli.js"
import { attachValues } from "../dist/internal/argv.js"
import { table } from "../dist/internal/demo.js"
import { progressLine } from "../dist/internal/stats.js"
import { hasScript, inTerminal, loamy, render, within } from "./helpers.js"

/** Runs the CLI with stdout and stderr piped and exactly the given environment (the helpers' runner sets NO_COLOR). */
const raw = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv, stdin = "") => loamy(args, { env, stdin })

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
    // Each command with its description, and usage lines that name the program (effect/cli's own usage lines).
    expect(root!.stdout).toMatch(/send\s+Send the requests/)
    expect(root!.stdout).toMatch(/demo\s+Start the embedded test server/)
    expect(root!.stdout).toContain("loamy <subcommand> [flags]")
    expect(root!.stdout).toContain("loamy send requests.jsonl > responses.jsonl")
    expect(send!.stdout).toContain("loamy send [flags] [<FILE>]")
    expect(send!.stdout).not.toMatch(/^\s*send \[flags\]/m)
    // Repeatable flags are not shown as required, and say that they are repeatable.
    expect(send!.stdout).not.toMatch(/\(-H, --header 'NAME: VALUE'\)\.\.\. \[/)
    expect(send!.stdout).toMatch(/--header, -H 'NAME: VALUE' +.*Repeatable/)
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

describe("flags as effect/cli reads them", () => {
  it("accepts every flag of send, with values in both forms, after the file too, and a file named after --", async () => {
    const env = withoutNoColor()
    const missing = "no-such-dir/in.jsonl"
    const [all, afterFile, dashed] = await Promise.all([
      raw(["send", "-o", "out.jsonl", "--ordered", "-c", "5", "--concurrency-per-origin=2", "--timeout", "5s",
        "--deadline=1m", "--retry", "3", "--rate", "10/1s", "--rate-per-origin", "-H", "A: b", "--header=C: d",
        "--header", "-X: y", "--header", "X-Count: -1", "--fail-fast", "--max-body-bytes", "1000", "--body-budget=100000", "--reorder-buffer",
        "10", "--max-redirects=0", "--redact", "X-Key", "--proxy", "http://127.0.0.1:9", "--show-secrets", "-q",
        "--resume", "out.jsonl", "--retry-failed", "--shard", "0/2", missing], env),
      raw(["send", missing, "-q", "--timeout", "5s"], env),
      raw(["send", "--", "--odd-file-name"], env)
    ])
    // Every flag parsed and every value accepted: the run got as far as opening its input.
    for (const r of [all, afterFile]) {
      expect(r.code, r.stderr).toBe(2)
      expect(r.stderr).toContain(`cannot read ${missing}`)
    }
    expect(dashed.code, dashed.stderr).toBe(2)
    expect(dashed.stderr).toContain("cannot read --odd-file-name")
    // A value that starts with "-" is the flag's value, as it always was (effect/cli alone wants --header=-X: y).
    expect(attachValues(command, ["send", "--header", "-X: y", "-o", "-", "f"])).toEqual(["send", "--header=-X: y", "-o", "-", "f"])
    expect(attachValues(command, ["send", "-qH", "-X: y", "--", "-H", "-z"])).toEqual(["send", "-qH=-X: y", "--", "-H", "-z"])
    expect(attachValues(command, ["send", "--ordered", "-f"])).toEqual(["send", "--ordered", "-f"])
  }, 120_000)

  it("refuses unknown flags, missing values and non-integers", async () => {
    const env = withoutNoColor()
    const cases: Array<[Array<string>, string]> = [
      [["send", "--bogus", "FILE"], `loamy send: unknown option "--bogus"`],
      [["send", "--bogus=1"], `loamy send: unknown option "--bogus"`],
      [["send", "--retry"], "loamy send --retry needs a value"],
      [["send", "--max-redirects=two"], `loamy send --max-redirects: "two" is not an integer`],
      // effect/cli reads 1e3 as the integer 1000 (the check before it refused it); a fraction is no integer.
      [["send", "-c", "1.5"], `loamy send --concurrency: "1.5" is not an integer`],
      // A flag that sets one field of an option (rateLimit.perOrigin) needs the flag of the whole option.
      [["send", "--rate-per-origin", "-"], "loamy: --rate-per-origin needs --rate"]
    ]
    const results = await Promise.all(cases.map(([args]) => raw(args, env)))
    results.forEach((r, i) => {
      const [args, message] = cases[i]!
      expect(r.code, args.join(" ")).toBe(2)
      expect(r.stderr, args.join(" ")).toContain(message)
      expect(r.stdout, args.join(" ")).toBe("")
    })
  }, 120_000)
})

describe("plain", () => {
  it("is plain unless a terminal without NO_COLOR, or FORCE_COLOR without NO_COLOR", () => {
    const saved = { NO_COLOR: process.env["NO_COLOR"], FORCE_COLOR: process.env["FORCE_COLOR"] }
    try {
      delete process.env["NO_COLOR"]
      delete process.env["FORCE_COLOR"]
      expect(plain({ isTTY: true })).toBe(false)
      expect(plain({ isTTY: false })).toBe(true)
      expect(plain({})).toBe(true)
      process.env["NO_COLOR"] = "1"
      expect(plain({ isTTY: true })).toBe(true)
      process.env["NO_COLOR"] = ""
      expect(plain({ isTTY: true })).toBe(false)
      process.env["FORCE_COLOR"] = "1"
      expect(plain({ isTTY: false })).toBe(false)
      for (const off of ["0", "false", ""]) {
        process.env["FORCE_COLOR"] = off
        expect(plain({ isTTY: false }), off).toBe(true)
      }
      process.env["FORCE_COLOR"] = "1"
      process.env["NO_COLOR"] = "1"
      expect(plain({ isTTY: true })).toBe(true)
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
    }
  })
})

describe("progressLine", () => {
  it("leaves the last three columns free, however narrow the terminal (a Ctrl-C echoed as ^C must not wrap it)", () => {
    const tracker = { done: 123456, failed: 789, inFlight: 100, total: 1000000 }
    for (let columns = 1; columns <= 200; columns++) {
      const line = progressLine(tracker, 12345.6, columns)
      expect(line.length, `${columns} columns`).toBeLessThanOrEqual(Math.max(1, columns - 3))
    }
    // Wide enough: the bar and all the numbers.
    expect(progressLine(tracker, 12345.6, 200)).toMatch(/^\[#*-*\] 123456\/1000000 {2}failed 789 {2}in flight 100/)
    expect(progressLine({ ...tracker, total: undefined }, 0, 50)).toBe("123456  failed 789  in flight 100  0 req/s")
  })
})

describe("at the terminal", () => {
  const env = withoutNoColor()

  it("suggests the nearest command or flag for a mistyped one (exit 2)", async () => {
    const [mistyped, flag, short, far] = await Promise.all([
      raw(["sned", "in.jsonl"], env),
      raw(["send", "--retyr", "3", "in.jsonl"], env),
      raw(["send", "--conurrency=3", "in.jsonl"], env),
      raw(["send", "--zzzzzz", "in.jsonl"], env)
    ])
    expect(mistyped.code).toBe(2)
    expect(mistyped.stderr).toContain(`loamy: unknown command "sned"; did you mean send?`)
    expect(flag.code).toBe(2)
    expect(flag.stderr).toContain(`unknown option "--retyr"; did you mean --retry?`)
    expect(short.stderr).toContain(`did you mean --concurrency?`)
    // Nothing near enough: no suggestion.
    expect(far.code).toBe(2)
    expect(far.stderr).toContain(`unknown option "--zzzzzz"`)
    expect(far.stderr).not.toContain("did you mean")
    for (const r of [mistyped, flag, short, far]) expect(r.stdout).toBe("")
  }, 120_000)

  it("accepts flags after a positional - (stdin)", async () => {
    const [quiet, more] = await Promise.all([
      raw(["send", "-", "-q"], env, "\n"),
      raw(["send", "-", "-c", "3", "--ordered"], env, "\n")
    ])
    expect(quiet.code, quiet.stderr).toBe(0)
    expect(quiet.stderr).toBe("")
    expect(more.code, more.stderr).toBe(0)
    expect(more.stderr).toContain("0 requests")
    // effect/cli reads flags after a positional (no reordering needed); a flag's value is not the positional: -o -
    // is stdout, and after -- a "-" is the file.
    expect(attachValues(command, ["send", "-", "-q"])).toEqual(["send", "-", "-q"])
    expect(attachValues(command, ["send", "-o", "-", "in.jsonl"])).toEqual(["send", "-o", "-", "in.jsonl"])
    expect(attachValues(command, ["send", "--", "-"])).toEqual(["send", "--", "-"])
    const toStdout = await raw(["send", "-o", "-", "-"], env, "\n")
    expect(toStdout.code, toStdout.stderr).toBe(0)
  }, 120_000)

  it("warns when a --header value holds a shell variable as it is (single quotes), without showing the value", async () => {
    const r = await raw(["send", "-H", "Authorization: Bearer $TOKEN", "-H", "X-Trace: abc-secret", "-"], env, "\n")
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain(
      `loamy: warning: --header Authorization: its value holds $TOKEN as it is, not the variable's value (single quotes keep the shell from expanding it: use double quotes`
    )
    expect(r.stderr).not.toContain("X-Trace")
    // A header with no name is refused without being echoed.
    const nameless = await raw(["send", "-H", "Bearer s3cr3t-value", "-"], env, "\n")
    expect(nameless.code).toBe(2)
    expect(nameless.stderr).toContain(`--header number 1 has no "Name:" in front of its value`)
    expect(nameless.stderr).not.toContain("s3cr3t-value")
  }, 120_000)

  it("the README passes the token in double quotes, so the shell expands it", () => {
    const readme = fs.readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../README.md"), "utf8")
    expect(readme).toContain(`-H "Authorization: Bearer $TOKEN"`)
    expect(readme).not.toMatch(/-H '[^']*\$[A-Z]/)
  })

  it.skipIf(!hasScript)("loamy demo on a terminal: NO_COLOR gives no colour; at 40 columns every row fits and starts with its status", async () => {
    const colours = /\x1b\[[0-9;]*m/
    const noColor = inTerminal(["demo", "-q"], { columns: 120, env: { ...env, NO_COLOR: "1" } })
    expect(await within(noColor.exited, 60_000, "demo")).toBe(0)
    expect(noColor.screen).toContain("BODY OR ERROR")
    expect(noColor.screen).not.toMatch(colours)
    const coloured = inTerminal(["demo", "-q"], { columns: 120, env })
    expect(await within(coloured.exited, 60_000, "demo")).toBe(0)
    expect(coloured.screen).toMatch(colours)
    const narrow = inTerminal(["demo", "-q"], { columns: 40, env: { ...env, NO_COLOR: "1" } })
    expect(await within(narrow.exited, 60_000, "demo")).toBe(0)
    const rows = render(narrow.screen, 40).filter((line) => /^(STATUS|\d{3}|-) /.test(line))
    expect(rows[0]).toMatch(/^STATUS\s+#\s+PATH\s+BODY OR ERROR$/)
    expect(rows).toHaveLength(34)
    for (const row of rows) expect(row.length, row).toBeLessThanOrEqual(39)
    expect(rows.find((row) => row.includes("/status/4"))).toMatch(/^404 .*\{"status":404\}/)
    expect(rows.find((row) => row.includes("/exception"))).toMatch(/^500 .*BodyDecode/)
  }, 120_000)

  it("FORCE_COLOR colours the demo table even in a pipe", async () => {
    const r = await raw(["demo", "-q"], { ...env, FORCE_COLOR: "1" })
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/\x1b\[1mSTATUS/)
  }, 120_000)
})

describe("the demo table", () => {
  const rows = Array.from({ length: 12 }, (_, i) => ({
    status: i % 3 === 0 ? "-" : String(200 + i),
    index: String(i),
    method: i % 2 === 0 ? "GET" : "OPTIONS",
    time: `${i * 123.4} ms`,
    path: `/some/long/path/${"x".repeat(i * 3)}?q=${i}`,
    outcome: i % 3 === 0 ? `TransportError: ${"y".repeat(i * 10)}` : JSON.stringify({ n: i, pad: "z".repeat(i * 8) }),
    failed: i % 3 === 0
  }))
  it("fits any width from 20 to 200 columns, status first", () => {
    for (let width = 20; width <= 200; width++) {
      const lines = table(rows, width, false)
      expect(lines[0]!.startsWith("STATUS")).toBe(true)
      lines.forEach((line, n) => {
        expect(line.length, `${width} columns, line ${n}: ${line}`).toBeLessThanOrEqual(width)
        if (n > 0) expect(line.startsWith(rows[n - 1]!.status.padEnd(6))).toBe(true)
      })
    }
  })
})
