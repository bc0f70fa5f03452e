/**
 * `loamy --help` as the packed command answers it: bin/loamy.js prints the
 * help that scripts/bundle.js recorded in dist/bundle/help.json, without
 * starting the bundle. Here a package directory like the installed one
 * (package.json, bin/, dist/bundle/ written by scripts/bundle.js) is built
 * once, and every help request is run both ways: through the fast path, and
 * through the full command (LOAMY_FULL_HELP=1, which only tests set).
 */
import * as CommandSpec from "effect/cli/CommandSpec"
import * as Option from "effect/Option"
import { execFile, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { command } from "../dist/Cli.js"
import { hasScript, shQuote } from "./helpers.js"

const cliDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")

let dir = ""
let bin = ""
let hook = ""
let runs = 0
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "loamy-fast-help-"))
  fs.copyFileSync(path.join(cliDir, "package.json"), path.join(dir, "package.json"))
  fs.cpSync(path.join(cliDir, "bin"), path.join(dir, "bin"), { recursive: true })
  const bundled = spawnSync(process.execPath, [path.join(cliDir, "scripts/bundle.js"), path.join(dir, "dist/bundle")], {
    encoding: "utf8",
    timeout: 170_000
  })
  if (bundled.status !== 0) throw new Error(`scripts/bundle.js exited ${bundled.status}: ${bundled.stderr}`)
  bin = path.join(dir, "bin/loamy.js")
  // Records every module Node loads (the bin, the bundle, its chunks), written as the process exits to the file
  // LOADED names.
  hook = path.join(dir, "loaded-hook.mjs")
  fs.writeFileSync(
    hook,
    `import { registerHooks } from "node:module"
import { writeFileSync } from "node:fs"
const loaded = []
registerHooks({ load: (url, context, next) => { loaded.push(url); return next(url, context) } })
process.on("exit", () => writeFileSync(process.env.LOADED, JSON.stringify(loaded)))
`
  )
}, 180_000)
afterAll(() => {
  if (dir !== "") fs.rmSync(dir, { recursive: true, force: true })
})

interface Ran {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** The environment without the colour variables, plus `extra`. */
const envWith = (extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv => {
  const env = { ...process.env }
  delete env["NO_COLOR"]
  delete env["FORCE_COLOR"]
  delete env["LOAMY_FULL_HELP"]
  return { ...env, ...extra }
}

/** Runs `node [nodeArgs] entry args` with stdout and stderr piped, bounded by 60 s. */
const run = (entry: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv, nodeArgs: ReadonlyArray<string> = []) =>
  new Promise<Ran>((resolve, reject) => {
    const options = { env, encoding: "utf8", timeout: 60_000, maxBuffer: 16 << 20 } as const
    const child = execFile(process.execPath, [...nodeArgs, entry, ...args], options, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== "number") return reject(error)
      resolve({ code: error === null ? 0 : (error.code as number), stdout, stderr })
    })
    child.stdin?.end()
  })

/** `args` through the fast path and through the full command, in the same environment. */
const bothWays = async (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) => {
  const [fast, full] = await Promise.all([run(bin, args, env), run(bin, args, { ...env, LOAMY_FULL_HELP: "1" })])
  return { fast, full }
}

/** The modules of the package directory that `loamy args` loaded, as paths relative to it. */
const loadedBy = async (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) => {
  const loadedFile = path.join(dir, `loaded-${runs++}.json`)
  const ran = await run(bin, args, { ...env, LOADED: loadedFile }, ["--import", pathToFileURL(hook).href])
  const prefix = pathToFileURL(dir).href + "/"
  const loaded = (JSON.parse(fs.readFileSync(loadedFile, "utf8")) as Array<string>)
    .filter((url) => url.startsWith(prefix))
    .map((url) => url.slice(prefix.length))
  return { ran, loaded }
}

const helpJson = () =>
  JSON.parse(fs.readFileSync(path.join(dir, "dist/bundle/help.json"), "utf8")) as {
    readonly texts: ReadonlyArray<string>
    readonly argv: Record<string, { readonly plain: number; readonly colour: number }>
  }

/** Every command path of the tree, as typed after `loamy`. */
const commandPaths = (): Array<Array<string>> => {
  const out: Array<Array<string>> = []
  const walk = (specPath: ReadonlyArray<string>) => {
    const spec = Option.getOrThrow(CommandSpec.resolve(command, specPath))
    out.push(specPath.slice(1))
    for (const sub of spec.subcommands) walk([...specPath, sub.name])
  }
  walk([command.name])
  return out
}

/** A few at a time: the machine is shared. */
const inTurn = async <A, B>(items: ReadonlyArray<A>, f: (item: A) => Promise<B>): Promise<Array<B>> => {
  const out: Array<B> = []
  const queue = [...items]
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) out.push(await f(item))
  }
  await Promise.all([worker(), worker()])
  return out
}

describe("loamy --help without starting the command (bin/loamy.js and dist/bundle/help.json)", () => {
  it("help.json answers --help and -h for every command of the tree, and --version and -v", () => {
    const paths = commandPaths()
    expect(paths.length).toBeGreaterThanOrEqual(9)
    expect(paths).toContainEqual(["jobs", "prune"])
    const expected = [["--version"], ["-v"], ...paths.flatMap((p) => [[...p, "--help"], [...p, "-h"]])]
    expect(Object.keys(helpJson().argv).sort()).toEqual(expected.map((args) => JSON.stringify(args)).sort())
  })

  it("for every help request, the fast path prints what the full command prints, plain and in colour: stdout, stderr, exit code", async () => {
    const requests = Object.keys(helpJson().argv).map((key) => JSON.parse(key) as Array<string>)
    const cases = requests.flatMap((args) => [
      { args, env: envWith({ NO_COLOR: "1" }) },
      { args, env: envWith({ FORCE_COLOR: "1" }) }
    ])
    const results = await inTurn(cases, async ({ args, env }) => ({
      args,
      colour: env["FORCE_COLOR"],
      ...(await bothWays(args, env))
    }))
    expect(results.length).toBe(requests.length * 2)
    for (const { args, colour, fast, full } of results) {
      expect(fast, `loamy ${args.join(" ")}${colour === undefined ? "" : " (FORCE_COLOR=1)"}`).toEqual(full)
      expect(full.code).toBe(0)
      expect(full.stdout.length).toBeGreaterThan(0)
      if (args.at(-1)!.startsWith("-h") || args.at(-1) === "--help") {
        expect(/\x1b\[/.test(full.stdout)).toBe(colour !== undefined)
      }
    }
  }, 240_000)

  it("the recorded help is what the repository's module tree prints (dist/bin.js)", async () => {
    for (const args of [["--help"], ["send", "--help"], ["jobs", "prune", "-h"], ["--version"]]) {
      const env = envWith({ NO_COLOR: "1" })
      const [fast, tree] = await Promise.all([run(bin, args, env), run(path.join(cliDir, "dist/bin.js"), args, env)])
      expect(fast, `loamy ${args.join(" ")}`).toEqual(tree)
    }
  }, 120_000)

  it("colour follows the command's rule: NO_COLOR, FORCE_COLOR and their empty, 0 and false values", async () => {
    const envs: Array<NodeJS.ProcessEnv> = [
      {},
      { NO_COLOR: "" },
      { NO_COLOR: "", FORCE_COLOR: "1" },
      { NO_COLOR: "1", FORCE_COLOR: "1" },
      { FORCE_COLOR: "" },
      { FORCE_COLOR: "0" },
      { FORCE_COLOR: "false" },
      { FORCE_COLOR: "FALSE" },
      { FORCE_COLOR: "yes" }
    ]
    const results = await inTurn(envs, async (extra) => ({ extra, ...(await bothWays(["send", "--help"], envWith(extra))) }))
    let coloured = 0
    for (const { extra, fast, full } of results) {
      expect(fast, JSON.stringify(extra)).toEqual(full)
      if (/\x1b\[/.test(full.stdout)) coloured++
    }
    // Both kinds were seen, so the comparison covered both answers of the rule.
    expect(coloured).toBeGreaterThan(0)
    expect(coloured).toBeLessThan(envs.length)
  }, 120_000)

  it.skipIf(!hasScript)("on a terminal (no colour variable set), the fast path prints the coloured help the full command does", async () => {
    const onTerminal = (env: NodeJS.ProcessEnv) =>
      new Promise<string>((resolve, reject) => {
        const line = [process.execPath, bin, "--help"].map(shQuote).join(" ")
        execFile("script", ["-qfec", line, "/dev/null"], { env, encoding: "utf8", timeout: 60_000 }, (error, stdout) => {
          if (error !== null) return reject(error)
          resolve(stdout)
        })
      })
    const fast = await onTerminal(envWith({}))
    const full = await onTerminal(envWith({ LOAMY_FULL_HELP: "1" }))
    expect(fast).toMatch(/\x1b\[1mDESCRIPTION/)
    expect(fast).toEqual(full)
  }, 120_000)

  it("a reader that has gone (`loamy --help | true`): exit 0 and nothing on stderr, as the full command", async () => {
    /** `loamy args` with stdout a pipe whose reading end is closed before the child can write (it takes tens of ms to start). */
    const readerGone = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) =>
      new Promise<{ readonly code: number | null; readonly stderr: string }>((resolve, reject) => {
        const child = spawn(process.execPath, [bin, ...args], { env, stdio: ["ignore", "pipe", "pipe"] })
        child.stdout.destroy()
        let stderr = ""
        child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
        const timer = setTimeout(() => child.kill("SIGKILL"), 60_000)
        child.on("error", reject)
        child.on("close", (code) => {
          clearTimeout(timer)
          resolve({ code, stderr })
        })
      })
    for (const args of [["--help"], ["send", "--help"], ["--version"]]) {
      const env = envWith({ NO_COLOR: "1" })
      const full = await readerGone(args, { ...env, LOAMY_FULL_HELP: "1" })
      expect(full).toEqual({ code: 0, stderr: "" })
      expect(await readerGone(args, env), `loamy ${args.join(" ")}`).toEqual(full)
    }
  }, 120_000)

  it("a help request loads bin/loamy.js alone: not the bundle", async () => {
    const env = envWith({ NO_COLOR: "1" })
    for (const args of [["--help"], ["send", "-h"], ["jobs", "prune", "--help"], ["--version"]]) {
      const { ran, loaded } = await loadedBy(args, env)
      expect(ran.code).toBe(0)
      expect(loaded, `loamy ${args.join(" ")}`).toEqual(["bin/loamy.js"])
    }
    // The hook sees the bundle when the full command runs.
    const full = await loadedBy(["--help"], { ...env, LOAMY_FULL_HELP: "1" })
    expect(full.loaded).toContain("dist/bundle/loamy.js")
  }, 120_000)

  it("any other argv goes to the full command, unchanged: a help flag elsewhere, an unknown command, after --", async () => {
    const env = envWith({ NO_COLOR: "1" })
    const others = [
      ["--help", "send"],
      ["send", "requests.jsonl", "--help"],
      ["sned", "--help"],
      ["send", "--", "--help"],
      ["jobs prune", "--help"],
      ["constructor", "--help"],
      ["send", "--version"],
      ["-v", "--help"],
      ["--helpx"]
    ]
    const results = await inTurn(others, async (args) => ({
      args,
      ...(await loadedBy(args, env)),
      full: await run(bin, args, { ...env, LOAMY_FULL_HELP: "1" })
    }))
    for (const { args, ran, loaded, full } of results) {
      expect(loaded, `loamy ${args.join(" ")}`).toContain("dist/bundle/loamy.js")
      expect(ran, `loamy ${args.join(" ")}`).toEqual(full)
    }
    // Some of them are usage errors, some print help: both kinds went through.
    expect(results.some((r) => r.ran.code === 2)).toBe(true)
    expect(results.some((r) => r.ran.code === 0)).toBe(true)
  }, 240_000)
})
