/**
 * Distributed batches on real components, all on 127.0.0.1: an embedded Postgres, runner processes
 * (fixtures/runner.js), coordinator processes (fixtures/coordinator.js) and the loopback test server. One Postgres
 * and one pair of runners serve the tests in order: a shared rate limit, a coordinator killed and run again, then
 * a runner killed mid-run; then two more runners sharing a rate limit through Redis. Requests carry `i=<index>` and the sending runner's port in their query, so the
 * server's log tells what was sent, by whom and how often. The rate-limit tests time arrivals on a test server in
 * a process of its own (`startProcess`).
 */
import { until } from "@loamy/test-kit"
import { createDatabase, type Postgres, redisServer, startPostgres, startRedis } from "@loamy/test-kit/services"
import { arrivalSlack, shortestSpan, start, startProcess, type TestServer } from "@loamy/test-server"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { arrivalsOf, maxInSpan, type RunnerProcess, startCoordinator, startRunner, untilBalanced } from "./helpers.js"

// Short, so that the test waits seconds for a dead runner's shards, not effect/cluster's default 35.
const lockMs = 4_000
let pg: Postgres
let server: TestServer
const runners: Array<RunnerProcess> = []

beforeAll(async () => {
  ;[pg, server] = await Promise.all([startPostgres(), start()])
  // One after the other: the first creates the cluster's tables.
  runners.push(await startRunner(pg.url, { lockMs }))
  runners.push(await startRunner(pg.url, { lockMs }))
  await untilBalanced(pg.url, 2, 30_000)
}, 60_000)

afterAll(async () => {
  await Promise.all(runners.map((runner) => runner.kill()))
  await server?.close()
  await pg?.stop()
}, 30_000)

const counts = (arrivals: ReadonlyArray<{ readonly i: number }>) => {
  const out = new Map<number, number>()
  for (const a of arrivals) out.set(a.i, (out.get(a.i) ?? 0) + 1)
  return out
}

describe("a shared per-origin rate limit without Redis", () => {
  it("two runners each take half: no origin sees more than the limit in any second", async () => {
    const done = await rateLimitedRun(pg.url, "rate-split", 80, 10)
    console.log(`rate (split): 80 requests at 10/s per origin in ${done?.["ms"]} ms`)
  }, 60_000)
})

/**
 * Runs a job of `n` requests over two origins (even to one, odd to the other) at `limit`/s per origin, against a
 * server in a process of its own: its arrival times are not bunched by this busy test process.
 */
const rateLimitedRun = async (db: string, job: string, n: number, limit: number) => {
  const timing = await startProcess()
  try {
    const coordinator = startCoordinator([db, job, `${timing.url},${timing.otherUrl}`, n, 5, 8, "/echo", `${limit}/1000/origin`])
    const { code, done, stderr } = await coordinator.result
    expect(code, stderr).toBe(0)
    expect(done).toMatchObject({ count: n, inOrder: true, statuses: { 200: n } })
    const arrivals = arrivalsOf(await timing.stats())
    expect(arrivals).toHaveLength(n)
    // Both runners sent some.
    expect(new Set(arrivals.map((a) => a.runner)).size).toBe(2)
    for (const origin of [0, 1]) {
      const times = arrivals.filter((a) => a.i % 2 === origin).map((a) => a.at)
      const gaps = times.slice(1).map((t, k) => Math.round(t - times[k]!))
      console.log(`${job}, origin ${origin}: at most ${maxInSpan(times, 1_000)} requests in any second; gaps (ms) ${gaps.join(",")}`)
      // No more than `limit` in a second: any `limit + 1` arrivals span a second, less what a busy machine's
      // scheduler may squeeze between the runners' starts and their arrival (a fixed window shows far shorter spans).
      expect(shortestSpan(times, limit), `origin ${origin}`).toBeGreaterThanOrEqual(1_000 - arrivalSlack(1_000))
      // Paced, not let through: n / 2 requests at `limit`/s take at least (n / 2 - limit) / limit seconds from the
      // first to the last, whatever the pacing within a second.
      expect(Math.max(...times) - Math.min(...times), `origin ${origin}`).toBeGreaterThan(((n / 2 - limit) / limit) * 1_000)
    }
    return done
  } finally {
    await timing.close()
  }
}

describe("a coordinator killed and run again with the same job", () => {
  it("finishes from storage: every request reaches the server exactly once", async () => {
    server.resetStats()
    const n = 600
    const chunkSize = 30
    const args = [pg.url, "resume", server.url, n, chunkSize, 4, "/delay/300"]
    const first = startCoordinator(args)
    await until(() => first.chunks() >= 4, 60_000, "four chunks finished")
    first.child.kill("SIGKILL")
    await first.result
    // The chunks the first run reported (in order, 0 to finished - 1) are stored; the ones it had sent and not
    // yet seen finish go on running on the runners.
    const finished = first.chunks()
    const beforeRerun = arrivalsOf(server.stats).length
    const second = startCoordinator(args)
    const { code, done, stderr } = await second.result
    expect(code, stderr).toBe(0)
    expect(done).toMatchObject({ count: n, inOrder: true, statuses: { 200: n } })
    const arrivals = arrivalsOf(server.stats)
    const seen = counts(arrivals)
    expect(seen.size).toBe(n)
    expect([...seen.values()].every((c) => c === 1)).toBe(true)
    // Nothing of a finished chunk reached the server again.
    const later = arrivals.slice(beforeRerun)
    expect(later.length).toBeGreaterThan(0)
    expect(later.filter((a) => Math.floor(a.i / chunkSize) < finished)).toEqual([])
    console.log(
      `resume: the first run had finished ${finished} chunks (${beforeRerun} requests at the server); ` +
        `after the second started the server saw ${later.length} more (the rest of the chunks still running and ` +
        `those never sent); the second run took ${done?.["ms"]} ms`
    )
  }, 90_000)
})

describe("a runner killed mid-run", () => {
  it("gives every response once, in order; only the dead runner's running chunks are sent twice", async () => {
    server.resetStats()
    const n = 1_000
    const chunkSize = 50
    const [victim, survivor] = runners as [RunnerProcess, RunnerProcess]
    // Each request waits 1 s at the server: a chunk (its 50 requests at once) runs for about a second.
    const coordinator = startCoordinator([pg.url, "failover", server.url, n, chunkSize, 8, "/delay/1000"])
    // Kill the victim as soon as its first requests arrive: that chunk is surely running.
    await until(() => arrivalsOf(server.stats).some((a) => a.runner === victim.port), 60_000, "a request from the victim")
    await victim.kill()
    const killedAt = Date.now()
    const { code, done, stderr } = await coordinator.result
    const afterKill = Date.now() - killedAt
    expect(code, stderr).toBe(0)
    expect(done).toMatchObject({ count: n, inOrder: true, statuses: { 200: n } })

    const arrivals = arrivalsOf(server.stats)
    const seen = counts(arrivals)
    expect(seen.size).toBe(n)
    const chunkOf = (i: number) => Math.floor(i / chunkSize)
    // Everything the victim sent, it sent before it died (some reached the server only after the kill), all of
    // chunks still running (each request takes a second, and it died at its first).
    const sentByVictim = arrivals.filter((a) => a.runner === victim.port).map((a) => a.i)
    const twice = [...seen].filter(([, c]) => c > 1).map(([i]) => i)
    // Its running chunks are sent again, whole, by the survivor: what the victim had sent is sent twice, nothing
    // else is, and nothing more than twice.
    expect(twice.length).toBeGreaterThan(0)
    expect(twice.sort((a, b) => a - b)).toEqual([...new Set(sentByVictim)].sort((a, b) => a - b))
    expect(twice.every((i) => seen.get(i) === 2)).toBe(true)
    const resent = arrivals.filter((a) => twice.includes(a.i) && a.runner === survivor.port)
    expect(resent).toHaveLength(twice.length)
    console.log(
      `failover: done ${afterKill} ms after the kill (lock expiry ${lockMs} ms); ` +
        `${twice.length} requests of ${new Set(twice.map(chunkOf)).size} chunks sent twice; ` +
        `the coordinator took ${done?.["ms"]} ms in all`
    )
    expect(afterKill).toBeLessThan(lockMs + 15_000)
  }, 90_000)
})

const redis = redisServer()
// CI installs redis-server and sets LOAMY_REQUIRE_REDIS, so there the test runs (or fails) instead of skipping.
const requireRedis = process.env["LOAMY_REQUIRE_REDIS"] === "1"
if (redis === undefined && !requireRedis) {
  console.log("skipping the Redis rate-limit test: no redis-server on the PATH (apt-get install redis-server)")
}

describe.skipIf(redis === undefined && !requireRedis)("a per-origin rate limit shared through Redis", () => {
  it("two runners share one pace: no origin sees more than the limit in any second", async () => {
    if (redis === undefined) throw new Error("LOAMY_REQUIRE_REDIS=1 but there is no redis-server on the PATH")
    const store = await startRedis(redis)
    // A cluster of its own (another database of the same Postgres), whose runners use the Redis.
    const db = await createDatabase(pg.url, "shared_limit")
    const pair: Array<RunnerProcess> = []
    try {
      pair.push(await startRunner(db, { lockMs, redis: store.url }))
      pair.push(await startRunner(db, { lockMs, redis: store.url }))
      await untilBalanced(db, 2, 30_000)
      const done = await rateLimitedRun(db, "rate-redis", 80, 10)
      console.log(`rate (Redis): 80 requests at 10/s per origin in ${done?.["ms"]} ms`)
    } finally {
      await Promise.all(pair.map((runner) => runner.kill()))
      await store.stop()
    }
  }, 90_000)
})
