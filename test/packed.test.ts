/**
 * The packages as a user gets them: `test/prepare-packed.mjs` (run by `npm test` before Vitest) packs every
 * workspace package and installs the tarballs with npm into blank projects under os.tmpdir(), outside the
 * workspace; here they are used there, without leaving the machine.
 *
 * - consumer (every package and its peers): ESM import, CJS require, TypeScript (nodenext and bundler
 *   resolution), the synchronous door against a test server in another process, `loamy --help`, `loamy demo`
 *   and `loamy cluster demo`;
 * - effect-door (`npm install <@loamy/core> effect`, no version given): the root README's Effect example
 *   type-checks and runs;
 * - promise-door (`npm install <loamy>` alone): loamy and nothing else is installed, within 3× the bytes of
 *   undici; the Promise and synchronous examples run; a TypeScript consumer type-checks against loamy's bundled
 *   declarations, strict and without skipLibCheck;
 * - effect-layer (`npm install <loamy> <@loamy/core> effect`): an Effect program runs on `loamy/UndiciHttpClient`
 *   with the project's one @loamy/core and effect, and type-checks;
 * - effect3 (`effect@3` installed, then `npm install <loamy>`): the same examples run beside Effect 3, no Effect 4;
 * - `npm ls effect --all` shows one Effect, 4.x, in the workspace and in every project that installed Effect 4,
 *   none where only loamy is installed, and only the project's Effect 3 in effect3.
 */
import { execFile, spawn } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { sha256Of, startRemoteRangeServer } from "@loamy/test-kit"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const run = promisify(execFile)
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const packages = ["core", "loamy", "cli", "test-server", "cluster"] as const
const record = path.join(root, "test/.packed.json")
const tsc = path.join(root, "node_modules/typescript/bin/tsc")
const npm = process.platform === "win32" ? "npm.cmd" : "npm"

let tmp: string
let consumer: string
let projects: { consumer: string; effectDoor: string; promiseDoor: string; effectLayer: string; effect3: string }
let contents: Record<string, Array<string>> = {}
let prepacks: Record<string, string | undefined> = {}

const sh = async (file: string, args: ReadonlyArray<string>, cwd: string, env: NodeJS.ProcessEnv = {}) => {
  try {
    return await run(file, args, {
      cwd,
      env: { ...process.env, npm_config_update_notifier: "false", ...env },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 180_000
    })
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string }
    throw new Error(`${file} ${args.join(" ")} failed in ${cwd}: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`)
  }
}

const write = (file: string, text: string, dir: string = consumer) => {
  fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true })
  fs.writeFileSync(path.join(dir, file), text)
}

const node = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = {}, dir: string = consumer) =>
  sh(process.execPath, args, dir, env)

/** The code of the first `ts` block under a heading of the root README. */
const readmeBlock = (heading: string): string => {
  const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")
  const at = readme.indexOf(`\n${heading}\n`)
  expect(at, heading).toBeGreaterThan(0)
  const start = readme.indexOf("```ts\n", at) + "```ts\n".length
  return readme.slice(start, readme.indexOf("```\n", start))
}

/**
 * Type-checks and compiles `src/` of a project into `dist/`, with nodenext resolution and without skipLibCheck:
 * the installed packages' declarations are checked too, against the Effect the project has.
 */
const typeCheck = async (dir: string, files: Record<string, string>) => {
  for (const [file, text] of Object.entries(files)) write(path.join("src", file), text, dir)
  write(
    "tsconfig.json",
    JSON.stringify({
      compilerOptions: {
        strict: true,
        exactOptionalPropertyTypes: true,
        target: "ES2022",
        module: "nodenext",
        moduleResolution: "nodenext",
        outDir: "dist",
        typeRoots: [path.join(root, "node_modules/@types")],
        types: ["node"]
      },
      include: ["src"]
    }),
    dir
  )
  await node([tsc, "-p", "tsconfig.json"], {}, dir)
}

interface LsNode {
  readonly version?: string
  readonly dependencies?: Record<string, LsNode>
}

/** `npm ls effect --all` in a directory: every version of effect it shows there. */
const effectVersions = async (dir: string) => {
  // npm ls exits 1 on any problem of the tree (an invalid or missing peer): that fails here too.
  const { stdout } = await sh(npm, ["ls", "effect", "--all", "--json"], dir)
  const versions = new Set<string>()
  const walk = (node: LsNode, name?: string) => {
    if (name === "effect" && node.version !== undefined) versions.add(node.version)
    for (const [child, sub] of Object.entries(node.dependencies ?? {})) walk(sub, child)
  }
  walk(JSON.parse(stdout) as LsNode)
  return [...versions]
}

/** Which effect the project in `dir` (or a package installed there) gets when it imports "effect". */
const effectSeenBy = (dir: string, from?: string): string => {
  const at = from === undefined ? dir : fs.realpathSync(path.join(dir, "node_modules", from))
  const requireFrom = createRequire(path.join(at, "package.json"))
  return (JSON.parse(fs.readFileSync(requireFrom.resolve("effect/package.json"), "utf8")) as { version: string }).version
}

/** Every package installed under a project's node_modules, nested ones included, as name@version. */
const installed = (dir: string): Array<string> => {
  const found: Array<string> = []
  const walk = (modules: string) => {
    if (!fs.existsSync(modules)) return
    for (const name of fs.readdirSync(modules)) {
      if (name.startsWith(".")) continue
      const names = name.startsWith("@") ? fs.readdirSync(path.join(modules, name)).map((sub) => `${name}/${sub}`) : [name]
      for (const full of names) {
        const at = path.join(modules, full)
        found.push(`${full}@${(JSON.parse(fs.readFileSync(path.join(at, "package.json"), "utf8")) as { version: string }).version}`)
        walk(path.join(at, "node_modules"))
      }
    }
  }
  walk(path.join(dir, "node_modules"))
  return found.sort()
}

/** The bytes of the files under a directory, as `du -b` counts them (and bench/startup.js). */
const fileBytes = (dir: string): number =>
  fs.readdirSync(dir, { withFileTypes: true }).reduce((sum, entry) => {
    const at = path.join(dir, entry.name)
    return sum + (entry.isDirectory() ? fileBytes(at) : entry.isFile() ? fs.statSync(at).size : 0)
  }, 0)

/** The examples in examples/, run as a user runs them, and what they print. */
const example = async (dir: string, file: string, url: string) => {
  fs.copyFileSync(path.join(root, "examples", file), path.join(dir, file))
  return (await node(["--no-warnings", file, url], {}, dir)).stdout.trim().split("\n")
}

const promiseExampleOutput = [
  `GET / 200 {"message":"Hello, world!"}`,
  `POST /foo 200 {"foo":"bar"}`,
  expect.stringMatching(/^GET \/echo 200 \{"method":"GET"/),
  `GET /status/404 404 {"status":404}`,
  "GET /exception 500 BodyDecodeError"
]
const syncExampleOutput = ["GET / 200", "POST /foo 200", "GET /echo 200", "GET /status/404 404", "thrown: BodyDecodeError"]

const readJson = (file: string) => JSON.parse(fs.readFileSync(path.join(root, file), "utf8")) as {
  version: string
  devDependencies: Record<string, string>
}

/** A port on 127.0.0.1 that nothing listens on (a server bound it, then closed). */
const closedPortTs = `const closedPort = await new Promise<number>((resolve) => {
  const server = net.createServer().listen(0, "127.0.0.1", () => {
    const { port } = server.address() as net.AddressInfo
    server.close(() => resolve(port))
  })
})
`

/**
 * A TypeScript program that uses `loamy` as its declarations describe it: the doors, the option types, the
 * errors narrowed by `_tag` and matched with the exported classes and refinements. Its `typed` line fails to
 * compile when any of the types it names is `any`, as a declaration that does not resolve would make it.
 */
const consumerTs = `import * as net from "node:net"
import {
  AbortError, BodyDecodeError, Clump, isAbortError, isInvalidInputError, isRefused, isRequestError, sendRequests,
  sendRequestsSync, streamRequests, TransportError,
  type InvalidInputError, type Options, type Progress, type PromiseOptions, type Refused, type RequestError,
  type RequestInput, type RequestResponse, type RetryOptions, type Streamed
} from "loamy"

type IsAny<T> = 0 extends 1 & T ? true : false
type NoAny<T extends ReadonlyArray<unknown>> = { [K in keyof T]: IsAny<T[K]> }[number] extends false ? true : false
export const typed: NoAny<[
  RequestResponse, RequestResponse["error"], RequestResponse["statusCode"], RequestResponse["headers"],
  RequestResponse["requestMap"], RequestError, RequestError["_tag"], RequestInput, RequestInput["headers"], Options,
  Options["retry"], Options["timeout"], PromiseOptions["onProgress"], Progress, RetryOptions, TransportError,
  TransportError["reason"], InvalidInputError, InvalidInputError["field"], Refused, Streamed,
  ReturnType<typeof sendRequestsSync>, Parameters<typeof sendRequests>[1], typeof Clump, BodyDecodeError
]> = true

export const refused = () => {
  // @ts-expect-error: not a method
  void sendRequests([{ url: "http://127.0.0.1:1/", httpOp: "FETCH" }])
  // @ts-expect-error: not an option
  void sendRequests([], { concurrence: 2 })
  // @ts-expect-error: not a tag of RequestError
  const tag: RequestError["_tag"] = "NoSuchError"
  return tag
}

${closedPortTs}
const url = process.argv[2]!
const requests: Array<RequestInput> = [
  { url: url + "/", httpOp: "GET" },
  { url: url + "/status/404", httpOp: "GET", headers: { "x-from": "consumer" } },
  { url: url + "/exception", httpOp: "GET" },
  { url: "http://127.0.0.1:" + closedPort + "/", httpOp: "GET" }
]
const describe = (response: RequestResponse): string => {
  const error = response.error
  if (error === undefined) return String(response.statusCode)
  switch (error._tag) {
    case "TransportError":
      return response.statusCode + " " + error._tag + " " + error.reason
    case "TimeoutError":
      return error._tag + " " + error.timeoutMs
    default:
      return response.statusCode + " " + error._tag
  }
}
const progress: Array<number> = []
const options: PromiseOptions = {
  concurrency: 2,
  timeout: "10s",
  retry: { attempts: 1, baseDelay: "10ms" },
  onProgress: (p: Progress) => progress.push(p.done)
}
const viaPromise = await sendRequests(requests, options)
const viaSync = sendRequestsSync(requests, { concurrency: 2, timeout: 10_000 } satisfies Options)
const viaClump = new Clump(requests.slice(0, 1)).sendRequests({ returnExceptions: true })
const streamed: Array<string> = []
for await (const item of streamRequests([...requests.slice(0, 2), "not json"])) {
  const one: Streamed = item
  streamed.push(one.index + " " + (isRefused(one.response) ? one.response.error._tag : one.response.statusCode))
}
let invalid = ""
try {
  await sendRequests([{ url: "not a url", httpOp: "GET" }])
} catch (error) {
  if (isInvalidInputError(error)) invalid = error._tag + " " + error.index + " " + error.field
}
const controller = new AbortController()
controller.abort()
const aborted = await sendRequests(requests.slice(0, 1), { signal: controller.signal }).then(
  () => false,
  (error: unknown) => isAbortError(error) && error instanceof AbortError
)
const failed = viaPromise[3]!.error
console.log(JSON.stringify({
  viaPromise: viaPromise.map(describe),
  viaSync: viaSync.map(describe),
  viaClump: viaClump.map(describe),
  streamed: streamed.sort(),
  invalid,
  classes: [failed instanceof TransportError, isRequestError(failed), viaSync[2]!.error instanceof BodyDecodeError],
  aborted,
  progressed: progress.length > 0
}))
`
const consumerOutput = {
  viaPromise: ["200", "404", "500 BodyDecodeError", "0 TransportError ConnectionRefused"],
  viaSync: ["200", "404", "500 BodyDecodeError", "0 TransportError ConnectionRefused"],
  viaClump: ["200"],
  streamed: ["0 200", "1 404", "2 InvalidInputError"],
  invalid: "InvalidInputError 0 url",
  classes: [true, true, true],
  aborted: true,
  progressed: true
}

/** An Effect program on `loamy/UndiciHttpClient` with the project's own @loamy/core and effect. */
const layerTs = `import * as net from "node:net"
import { Clump, LoamyError } from "@loamy/core"
import { Effect } from "effect"
import { layer, make, makeAgent } from "loamy/UndiciHttpClient"

// Type-checked only: the layer's undici types (Agent, Dispatcher) come with its declarations.
export const client = Effect.map(makeAgent({ connections: 4 }), (agent) => make(agent))

${closedPortTs}
const url = process.argv[2]!
const responses = await Clump.send(Clump.make([
  { url: url + "/", httpOp: "GET" },
  { url: url + "/status/404", httpOp: "GET" },
  { url: "http://127.0.0.1:" + closedPort + "/", httpOp: "GET" }
], { retry: 1 })).pipe(Effect.provide(layer), Effect.runPromise)
const failed = responses[2]!.error
console.log(JSON.stringify({
  statuses: responses.map((response) => response.statusCode),
  tags: responses.map((response) => response.error?._tag ?? null),
  coreClass: failed instanceof LoamyError.TransportError,
  reason: failed instanceof LoamyError.TransportError ? failed.reason : null
}))
`

/** Starts the installed test server's main.js in a process of its own. */
const startServer = () =>
  new Promise<{ url: string; stop: () => void }>((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(consumer, "node_modules/@loamy/test-server/dist/main.js")], {
      stdio: ["ignore", "pipe", "inherit"]
    })
    let out = ""
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      out += chunk
      if (out.includes("\n")) {
        resolve({ url: (JSON.parse(out.slice(0, out.indexOf("\n"))) as { url: string }).url, stop: () => child.kill() })
      }
    })
    child.on("exit", (code) => reject(new Error(`the test server exited (${code})`)))
  })

beforeAll(() => {
  if (!fs.existsSync(record)) {
    throw new Error("the packed packages are not installed: run `node test/prepare-packed.mjs` first (`npm test` does)")
  }
  const prepared = JSON.parse(fs.readFileSync(record, "utf8")) as {
    tmp: string
    projects: typeof projects
    contents: Record<string, { prepack: string | undefined; files: Array<string> }>
  }
  tmp = prepared.tmp
  projects = prepared.projects
  consumer = projects.consumer
  contents = Object.fromEntries(Object.entries(prepared.contents).map(([name, entry]) => [name, entry.files]))
  prepacks = Object.fromEntries(Object.entries(prepared.contents).map(([name, entry]) => [name, entry.prepack]))
})

afterAll(() => {
  if (tmp !== undefined) fs.rmSync(tmp, { recursive: true, force: true })
  fs.rmSync(record, { force: true })
})

describe("packed packages", () => {
  it("ship a LICENSE, their dist and no tsbuildinfo", () => {
    // prepare-packed.mjs ran the bundling these prepack scripts do.
    expect(prepacks["loamy"]).toBe("node scripts/bundle-worker.js && node scripts/bundle-entry.js")
    expect(prepacks["cli"]).toBe("node scripts/bundle.js")
    for (const name of packages) {
      expect(contents[name], name).toContain("LICENSE")
      expect(contents[name]!.filter((file) => file.includes("tsbuildinfo")), name).toEqual([])
    }
    expect(contents["core"]).toContain("dist/index.js")
    expect(contents["loamy"]).toContain("dist/internal/worker.bundle.js")
    // The V8 code cache of the bundle, made at prepack for the first synchronous call.
    expect(contents["loamy"]).toContain("dist/internal/worker.bundle.cache")
    // The main entry bundled in one module (scripts/bundle-entry.js); tsc's module tree it replaced stays out.
    expect(contents["loamy"]).toContain("dist/internal/index.bundle.js")
    expect(contents["loamy"]).not.toContain("dist/index.tree.js")
    // loamy is its two bundled entries and their declarations, the sync door's worker entry and bundle: no module
    // of the tsc build, no source, no source map.
    expect([...contents["loamy"]!].sort()).toEqual([
      "LICENSE",
      "README.md",
      "dist/UndiciHttpClient.d.ts",
      "dist/UndiciHttpClient.js",
      "dist/index.d.ts",
      "dist/index.js",
      "dist/internal/index.bundle.js",
      "dist/internal/worker.bundle.cache",
      "dist/internal/worker.bundle.js",
      "dist/internal/worker.js",
      "package.json"
    ])
    // The CLI is its bin and the bundle: no module of the tsc build, nothing else to install.
    const cliFiles = contents["cli"]!.filter((file) => file.endsWith(".js")).sort()
    expect(cliFiles).toContain("bin/loamy.js")
    expect(cliFiles).toContain("dist/bundle/loamy.js")
    expect(cliFiles.filter((file) => file !== "bin/loamy.js" && !file.startsWith("dist/bundle/"))).toEqual([])
  })

  it("install outside the workspace, the CLI and loamy without dependencies, loamy's Effect door on optional peers", async () => {
    const lock = JSON.parse(fs.readFileSync(path.join(consumer, "package-lock.json"), "utf8")) as {
      packages: Record<string, {
        dependencies?: Record<string, string>
        peerDependencies?: Record<string, string>
        peerDependenciesMeta?: Record<string, { optional?: boolean }>
      }>
    }
    expect(lock.packages["node_modules/@loamy/cli"]?.dependencies ?? {}).toEqual({})
    // `npm install loamy` installs loamy alone: its entry and its layer are bundles. The layer imports the program's
    // effect and @loamy/core, optional peers; effect's range is any, so that a project on Effect 3 can still install
    // loamy for its Promise door (@loamy/core's own peer asks for Effect 4 where the layer is used).
    expect(lock.packages["node_modules/loamy"]?.dependencies ?? {}).toEqual({})
    expect(lock.packages["node_modules/loamy"]?.peerDependencies).toEqual({ "@loamy/core": expect.any(String), effect: "*" })
    expect(lock.packages["node_modules/loamy"]?.peerDependenciesMeta).toEqual({
      "@loamy/core": { optional: true },
      effect: { optional: true }
    })
    expect(lock.packages["node_modules/@loamy/core"]?.peerDependencies).toEqual({ effect: expect.stringMatching(/^\^4\./) })
    for (const [name, entry] of Object.entries(lock.packages)) {
      // No Effect 3 package anywhere: @effect/platform and friends are folded into effect 4.
      expect(name).not.toMatch(/node_modules\/@effect\/(platform|cli|cluster|rpc|sql|experimental|workflow)$/)
      expect(Object.keys({ ...entry.dependencies, ...entry.peerDependencies }), name).not.toContain("@effect/platform")
    }
    // Every project's packages are installed copies, none a link into the workspace.
    for (const dir of Object.values(projects)) {
      const modules = path.join(dir, "node_modules")
      const names = fs.readdirSync(modules).flatMap((name) =>
        name.startsWith("@") ? fs.readdirSync(path.join(modules, name)).map((sub) => `${name}/${sub}`) : [name]
      )
      expect(names, dir).toContain(dir === projects.effectDoor ? "@loamy/core" : "loamy")
      for (const name of names) {
        expect(fs.realpathSync(path.join(modules, name)).startsWith(fs.realpathSync(root)), `${dir}: ${name}`).toBe(false)
      }
    }
  })

  it("import as ESM and send with the Promise door", async () => {
    write(
      "esm.mjs",
      `import { Clump, RequestMap } from "@loamy/core"
import * as LoamyError from "@loamy/core/LoamyError"
import { sendRequests } from "loamy"
import { layer } from "loamy/UndiciHttpClient"
import { start } from "@loamy/test-server"
import { ChunkEntity, Distributed, Runner, SharedRateLimit } from "@loamy/cluster"
if (typeof Distributed.streamFrom !== "function" || typeof Runner.layer !== "function") throw new Error("cluster exports")
if (typeof ChunkEntity !== "object" || typeof SharedRateLimit !== "object") throw new Error("cluster modules")
if (typeof Clump.send !== "function" || typeof RequestMap !== "object" || typeof layer !== "object") throw new Error("exports")
if (typeof LoamyError.TransportError !== "function") throw new Error("LoamyError")
const server = await start()
const [response] = await sendRequests([{ url: server.url + "/", httpOp: "GET" }])
await server.close()
console.log(JSON.stringify({ status: response.statusCode, body: response.body }))
`
    )
    const { stdout } = await node(["esm.mjs"])
    expect(JSON.parse(stdout)).toEqual({ status: 200, body: { message: "Hello, world!" } })
  })

  it("require from CommonJS, every entry point", async () => {
    write(
      "cjs.cjs",
      `const names = {}
for (const id of ["@loamy/core", "@loamy/core/Clump", "@loamy/core/RequestMap", "@loamy/core/RequestResponse",
  "@loamy/core/LoamyError", "loamy", "loamy/UndiciHttpClient", "@loamy/test-server", "@loamy/cluster"]) {
  names[id] = Object.keys(require(id)).length
}
console.log(JSON.stringify(names))
`
    )
    const { stdout } = await node(["--no-warnings", "cjs.cjs"])
    const counts = JSON.parse(stdout) as Record<string, number>
    expect(Object.keys(counts)).toHaveLength(9)
    for (const [id, count] of Object.entries(counts)) expect(count, id).toBeGreaterThan(0)
  })

  it("use the synchronous door from CommonJS against a server in another process", async () => {
    const server = await startServer()
    try {
      write(
        "sync.cjs",
        `const { Clump, sendRequestsSync } = require("loamy")
const url = process.argv[2]
const a = sendRequestsSync([{ url: url + "/", httpOp: "get" }, { url: url + "/status/404", httpOp: "GET" }])
const b = new Clump([{ url: url + "/foo", http_op: "POST", body: {} }]).sendRequests({ returnExceptions: true })
console.log(JSON.stringify([...a, ...b].map((r) => r.statusCode)))
`
      )
      const { stdout } = await node(["--no-warnings", "sync.cjs", server.url])
      expect(JSON.parse(stdout)).toEqual([200, 404, 200])
    } finally {
      server.stop()
    }
  })

  it("post a form, text and a multipart file from the packed packages: Promise, sync and the CLI", async () => {
    const server = await startServer()
    try {
      write("upload.txt", "packed upload\n")
      write(
        "forms.cjs",
        `const { sendRequests, sendRequestsSync } = require("loamy")
const url = process.argv[2] + "/parse"
const requests = [
  { url, httpOp: "POST", form: { name: "Ada Lovelace", tag: ["a&b", "c"] } },
  { url, httpOp: "POST", text: "plain" },
  { url, httpOp: "POST", multipart: [{ name: "title", value: "t" }, { name: "file", path: "upload.txt" }] }
]
const show = (r) => [r.body.contentType.split(";")[0], r.body.form ?? r.body.text ?? r.body.parts]
sendRequests(requests).then((a) => {
  const b = sendRequestsSync(requests)
  console.log(JSON.stringify([a.map(show), b.map(show)]))
})
`
      )
      const { stdout } = await node(["--no-warnings", "forms.cjs", server.url])
      const expected = [
        ["application/x-www-form-urlencoded", [["name", "Ada Lovelace"], ["tag", "a&b"], ["tag", "c"]]],
        ["text/plain", "plain"],
        ["multipart/form-data", [
          { name: "title", value: "t" },
          { name: "file", filename: "upload.txt", type: "application/octet-stream", size: 14, sha256: expect.any(String) }
        ]]
      ]
      expect(JSON.parse(stdout)).toEqual([expected, expected])
      write("forms.jsonl", JSON.stringify({ url: "/parse", httpOp: "POST", form: { a: "1" } }) + "\n")
      const bin = path.join(consumer, "node_modules/.bin/loamy")
      const sent = await sh(bin, ["send", "forms.jsonl", "--base-url", server.url, "-q"], consumer)
      expect(JSON.parse(sent.stdout).body).toMatchObject({ form: [["a", "1"]] })
    } finally {
      server.stop()
    }
  })

  it("download to files from the packed packages: Promise, sync (resumed with Range) and the CLI", async () => {
    // The range server comes from the workspace's test kit, in a process of its own (the sync door blocks).
    const server = await startRemoteRangeServer()
    try {
      const url = server.url
      fs.rmSync(path.join(consumer, "dl"), { recursive: true, force: true })
      fs.mkdirSync(path.join(consumer, "dl"))
      write(
        "download.cjs",
        `const { sendRequests, sendRequestsSync } = require("loamy")
const url = process.argv[2]
const cut = { url: url + "/bytes/400000?cut=150000&seed=2", httpOp: "GET", options: { saveTo: "dl/b.bin" } }
sendRequests([{ url: url + "/bytes/300000?seed=1", httpOp: "GET", options: { saveTo: "dl/a.bin" } }]).then(([a]) => {
  const [first] = sendRequestsSync([cut])
  const [second] = sendRequestsSync([cut])
  console.log(JSON.stringify([a.saved, first.error._tag, second.statusCode, second.saved]))
})
`
      )
      const { stdout } = await node(["--no-warnings", "download.cjs", url])
      expect(JSON.parse(stdout)).toEqual([
        { path: "dl/a.bin", bytes: 300000, sha256: sha256Of(300000, 1) },
        "TransportError",
        206,
        { path: "dl/b.bin", bytes: 400000, sha256: sha256Of(400000, 2) }
      ])
      write("download.jsonl", JSON.stringify({ url: `${url}/bytes/5000?seed=3`, httpOp: "GET" }) + "\n")
      const bin = path.join(consumer, "node_modules/.bin/loamy")
      const sent = await sh(bin, ["send", "download.jsonl", "--save-dir", "dl", "--save-name", "{index}.bin", "-q"], consumer)
      expect(JSON.parse(sent.stdout).saved).toEqual({ path: path.join("dl", "0.bin"), bytes: 5000, sha256: sha256Of(5000, 3) })
      expect(fs.readdirSync(path.join(consumer, "dl")).sort()).toEqual(["0.bin", "a.bin", "b.bin"])
    } finally {
      await server.close()
    }
  })

  it("type-check a TypeScript consumer with nodenext and bundler resolution", async () => {
    write(
      "src/index.ts",
      `import { Clump, type RequestResponse } from "@loamy/core"
import { sendRequests, sendRequestsSync, type RequestResponse as LoamyResponse } from "loamy"
import { layer } from "loamy/UndiciHttpClient"
import { start, type TestServer } from "@loamy/test-server"
import { Distributed, Runner } from "@loamy/cluster"
import { Effect, Stream } from "effect"

export const program = Clump.send(Clump.make([{ url: "http://127.0.0.1:1/", httpOp: "GET" }])).pipe(Effect.provide(layer))
// loamy's doors give loamy's own types (its bundled copy of the core's, as its values are the bundle's classes).
export const viaPromise: Promise<ReadonlyArray<LoamyResponse>> = sendRequests([{ url: "http://127.0.0.1:1/", httpOp: "POST", body: { a: 1 } }])
export const viaSync: ReadonlyArray<LoamyResponse> = sendRequestsSync([])
export const core: Array<RequestResponse.RequestResponse> = []
export const server: Promise<TestServer> = start()
export const runner = Runner.layer({ db: "postgres://127.0.0.1:1/x", host: "127.0.0.1", port: 1 })
export const distributed = (job: string) => Stream.runDrain(Distributed.streamFrom(Stream.empty, { job }))
// @ts-expect-error: not a method
sendRequests([{ url: "http://127.0.0.1:1/", httpOp: "FETCH" }])
`
    )
    // skipLibCheck keeps this to seconds; a declaration of ours that failed to resolve would still show: the
    // expected error on "FETCH" above would then be missing.
    const base = {
      strict: true,
      noEmit: true,
      target: "ES2022",
      skipLibCheck: true,
      typeRoots: [path.join(root, "node_modules/@types")],
      types: ["node"]
    }
    write(
      "tsconfig.nodenext.json",
      JSON.stringify({ compilerOptions: { ...base, module: "nodenext", moduleResolution: "nodenext" }, include: ["src"] })
    )
    write(
      "tsconfig.bundler.json",
      JSON.stringify({ compilerOptions: { ...base, module: "esnext", moduleResolution: "bundler" }, include: ["src"] })
    )
    await node([tsc, "-p", "tsconfig.nodenext.json"])
    await node([tsc, "-p", "tsconfig.bundler.json"])
  })

  it("run `loamy --help` and `loamy demo` from the installed bin", async () => {
    const bin = path.join(consumer, "node_modules/.bin/loamy")
    const help = await sh(bin, ["--help"], consumer)
    expect(help.stdout).toContain("send")
    expect(help.stdout).toContain("demo")
    expect(help.stdout).not.toContain("\x1b[")
    expect((await sh(bin, ["--version"], consumer)).stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(root, "packages/cli/package.json"), "utf8")).version)
    const demo = await sh(bin, ["demo"], consumer)
    expect(demo.stdout).toContain("/exception")
    expect(demo.stderr).toContain("33 requests")
  })

  it("run `loamy cluster demo` from the installed bin: an embedded Postgres and two workers", async () => {
    const bin = path.join(consumer, "node_modules/.bin/loamy")
    const demo = await sh(bin, ["cluster", "demo", "--requests", "100", "-q"], consumer)
    expect(demo.stderr).toContain("two workers ready")
    expect(demo.stderr).toContain("100 responses for 100 requests, in input order")
  })
})

describe("blank projects, as the README installs them", () => {
  it("`npm install @loamy/core effect`: the README's Effect example type-checks and runs (Effect 4)", async () => {
    const dir = projects.effectDoor
    expect(JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).dependencies).toEqual({
      "@loamy/core": expect.stringMatching(/^file:/),
      effect: expect.stringMatching(/^\^4\./)
    })
    const example = readmeBlock("## Effect example")
    expect(example).toContain(`from "effect/http"`)
    const server = await startServer()
    try {
      // The README's code as it is, sent to the test server (it has the same routes) instead of api.example.com.
      await typeCheck(dir, {
        "example.ts": example.replaceAll("https://api.example.com", server.url),
        "result.ts": readmeBlock("## Coming from Effect 3")
      })
      const { stdout } = await node(["--no-warnings", "dist/example.js"], {}, dir)
      expect(stdout.trim().split("\n")).toEqual([`200 { message: 'Hello, world!' }`, `200 { foo: 'bar' }`])
      // Result where Effect 3's Either was.
      expect((await node(["dist/result.js"], {}, dir)).stdout.trim()).toBe(
        `url "ftp://example.com/" is not an http or https URL`
      )
    } finally {
      server.stop()
    }
  })

  it("`npm install loamy` alone: the Promise and synchronous examples run, and its types check", async () => {
    const dir = projects.promiseDoor
    expect(Object.keys(JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")).dependencies)).toEqual(["loamy"])
    const server = await startServer()
    try {
      expect(await example(dir, "promise.mjs", server.url)).toEqual(promiseExampleOutput)
      expect(await example(dir, "sync.cjs", server.url)).toEqual(syncExampleOutput)
    } finally {
      server.stop()
    }
    await typeCheck(dir, { "promise.ts": `${readmeBlock("## Without Effect: Promise and synchronous")}export {}\n` })
  })

  it("`npm install loamy` installs loamy alone, within 3× the bytes of `npm install undici`", () => {
    // Issue 20's goal. No effect, no @loamy/core, no undici: the entry, the layer and the worker are bundles.
    expect(installed(projects.promiseDoor)).toEqual([`loamy@${readJson("packages/loamy/package.json").version}`])
    // The workspace's undici is the one loamy bundles, as `npm install undici@<that version>` installs it.
    const undici = path.join(root, "node_modules/undici")
    expect(readJson("node_modules/undici/package.json").version).toBe(readJson("packages/loamy/package.json").devDependencies.undici)
    const bytes = fileBytes(path.join(projects.promiseDoor, "node_modules"))
    expect(bytes / fileBytes(undici)).toBeLessThanOrEqual(3)
  })

  it("a TypeScript consumer with only loamy installed type-checks (strict, no skipLibCheck) and runs", async () => {
    const dir = projects.promiseDoor
    await typeCheck(dir, { "consumer.ts": consumerTs })
    const server = await startServer()
    try {
      const { stdout } = await node(["--no-warnings", "dist/consumer.js", server.url], {}, dir)
      expect(JSON.parse(stdout)).toEqual(consumerOutput)
    } finally {
      server.stop()
    }
  })

  it("`npm install loamy @loamy/core effect`: an Effect program runs on loamy/UndiciHttpClient and type-checks", async () => {
    const dir = projects.effectLayer
    // One of each: the layer uses the project's @loamy/core and effect, and brings no undici of its own.
    const names = installed(dir).map((name) => name.slice(0, name.lastIndexOf("@")))
    expect(names.filter((name) => ["effect", "@loamy/core", "loamy", "undici"].includes(name))).toEqual(["@loamy/core", "effect", "loamy"])
    expect(fs.existsSync(path.join(dir, "node_modules/loamy/node_modules"))).toBe(false)
    await typeCheck(dir, { "layer.ts": layerTs })
    const server = await startServer()
    try {
      const { stdout } = await node(["--no-warnings", "dist/layer.js", server.url], {}, dir)
      expect(JSON.parse(stdout)).toEqual({
        statuses: [200, 404, 0],
        tags: [null, null, "TransportError"],
        // The error is an instance of the project's @loamy/core class: the layer has no copy of its own.
        coreClass: true,
        reason: "ConnectionRefused"
      })
    } finally {
      server.stop()
    }
  })

  it("`import \"loamy\"` reads its bundled entry alone: no module of effect, @loamy/core or undici", async () => {
    const dir = projects.promiseDoor
    write(
      "loaded.mjs",
      `import { registerHooks } from "node:module"
const loaded = []
registerHooks({ load: (url, context, next) => { loaded.push(url); return next(url, context) } })
const loamy = await import("loamy")
if (typeof loamy.sendRequests !== "function") throw new Error("sendRequests")
console.log(JSON.stringify(loaded.filter((url) => !url.startsWith("node:")).map((url) => url.slice(url.lastIndexOf("node_modules/")))))
`,
      dir
    )
    const { stdout } = await node(["--no-warnings", "loaded.mjs"], {}, dir)
    expect(JSON.parse(stdout)).toEqual(["node_modules/loamy/dist/index.js", "node_modules/loamy/dist/internal/index.bundle.js"])
  })

  it("a project on effect@3 installs loamy: its Effect 3 stays the only one, loamy runs on its bundles", async () => {
    const dir = projects.effect3
    expect(effectSeenBy(dir)).toMatch(/^3\./)
    // loamy brings no Effect: its doors are bundles, and Effect 3 satisfies its optional peer's range.
    expect(installed(dir).filter((name) => /^(effect|@loamy\/core|undici)@/.test(name))).toEqual([
      expect.stringMatching(/^effect@3\./)
    ])
    const server = await startServer()
    try {
      expect(await example(dir, "promise.mjs", server.url)).toEqual(promiseExampleOutput)
      expect(await example(dir, "sync.cjs", server.url)).toEqual(syncExampleOutput)
      // One program with both: the application's own Effect 3 and loamy's Promise door.
      write(
        "both.mjs",
        `import { Effect } from "effect"
import { sendRequests } from "loamy"
const statuses = await Effect.runPromise(Effect.map(
  Effect.promise(() => sendRequests([{ url: process.argv[2] + "/", httpOp: "GET" }])),
  (responses) => responses.map((r) => r.statusCode)
))
console.log(JSON.stringify({ statuses, either: typeof (await import("effect")).Either }))
`,
        dir
      )
      expect(JSON.parse((await node(["both.mjs", server.url], {}, dir)).stdout)).toEqual({ statuses: [200], either: "object" })
    } finally {
      server.stop()
    }
    expect(await effectVersions(dir)).toEqual([expect.stringMatching(/^3\./)])
  })

  it("`npm ls effect --all` shows one Effect, 4.x, in the workspace and the packed installs with Effect, none with loamy alone", async () => {
    for (const dir of [root, projects.consumer, projects.effectDoor, projects.effectLayer]) {
      const versions = await effectVersions(dir)
      expect(versions, dir).toHaveLength(1)
      expect(versions[0], dir).toMatch(/^4\./)
    }
    // (`npm ls effect` fails where it finds none.)
    expect(installed(projects.promiseDoor).filter((name) => name.startsWith("effect@"))).toEqual([])
  })
})
