/**
 * The fault suite of issue 5 at the CLI door: the real built `loamy send`,
 * run as a process on JSONL files mixing the fault routes (every route once
 * with fixed flags, then random mixes with random flags), against a loopback
 * test server started here. Each input line gets exactly one output record,
 * every index once, with the status and error tag the fault table predicts,
 * attempts within `--retry`, the server never sees more than `--concurrency`
 * requests at once, and the exit code is 1 exactly when some record failed.
 */
import { closedPort, expectedOutcome, faultOrigin, type FaultRoute, faultRoutes, start, type TestServer } from "@loamy/test-server"
import fc from "fast-check"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { jsonl, loamy, records } from "./helpers.js"

let server: TestServer
let refusedPort: number
let dir: string
let files = 0
beforeAll(async () => {
  ;[server, refusedPort] = await Promise.all([start(), closedPort()])
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "loamy-cli-faults-"))
})
afterAll(async () => {
  await server?.close()
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
})

let keys = 0
const uniqueKey = () => `cli-faults-${process.pid}-${++keys}-${Math.random().toString(36).slice(2, 8)}`

const originOf = (route: FaultRoute): string =>
  faultOrigin(route, { serverUrl: server.url, refusedPort, invalidHost: "loamy-cli-faults.invalid" })

interface Pick {
  readonly route: number
  readonly snake: boolean
}

interface Flags {
  readonly concurrency: number
  /** Milliseconds; given to the CLI as `--timeout`, with a unit or without. */
  readonly timeoutMs: number | undefined
  readonly timeoutUnit: boolean
  readonly retry: number | undefined
  readonly maxBodyBytes: number | undefined
  readonly ordered: boolean
  readonly quiet: boolean
}

const argsOf = (flags: Flags): Array<string> => {
  const args = ["-c", String(flags.concurrency)]
  if (flags.timeoutMs !== undefined) {
    args.push("--timeout", flags.timeoutMs % 1000 === 0 && flags.timeoutUnit ? `${flags.timeoutMs / 1000}s` : String(flags.timeoutMs))
  }
  if (flags.retry !== undefined) args.push("--retry", String(flags.retry))
  if (flags.maxBodyBytes !== undefined) args.push("--max-body-bytes", String(flags.maxBodyBytes))
  if (flags.ordered) args.push("--ordered")
  if (flags.quiet) args.push("--quiet")
  return args
}

/** Writes the JSONL file for `picks`, runs `loamy send FILE` on it and checks every record. */
const runAndCheck = async (picks: ReadonlyArray<Pick>, flags: Flags) => {
  server.resetStats()
  const routes = picks.map((p) => faultRoutes[p.route]!)
  const lines = picks.map((p, n) => {
    const route = routes[n]!
    const url = `${originOf(route)}${route.keyed === true ? `${route.path}&key=${uniqueKey()}` : route.path}`
    const headers = { "X-Request": String(n) }
    const body = route.method === "POST" ? { n, tags: ["a", null, { deep: true }] } : undefined
    const canonical = { url, httpOp: route.method, headers, ...(body !== undefined ? { body } : {}) }
    const given = p.snake
      ? { url, http_op: route.method.toLowerCase(), headers, ...(body !== undefined ? { body } : {}) }
      : canonical
    return { canonical, given }
  })
  const file = path.join(dir, `faults-${++files}.jsonl`)
  fs.writeFileSync(file, jsonl(lines.map((l) => l.given)))
  const args = ["send", file, ...argsOf(flags)]
  // Bounded: the helper kills the process (SIGKILL) and rejects after 60 s (a busy machine is slow to start it).
  const ran = await loamy(args, { timeoutMs: 60_000 })
  const where = `loamy ${args.slice(2).join(" ")}\nstderr: ${ran.stderr}`

  const out = records(ran.stdout)
  expect(out, where).toHaveLength(picks.length)
  const seen = new Set<number>()
  let anyFailed = false
  out.forEach((record, position) => {
    const index = record["index"] as number
    expect(Number.isInteger(index) && index >= 0 && index < picks.length, `${where}\nindex ${index}`).toBe(true)
    expect(seen.has(index), `${where}\nindex ${index} written twice`).toBe(false)
    seen.add(index)
    if (flags.ordered) expect(index, `${where}\n--ordered wrote index ${index} at ${position}`).toBe(position)
    const route = routes[index]!
    const expected = expectedOutcome(route, {
      timeoutMs: flags.timeoutMs,
      maxBodyBytes: flags.maxBodyBytes,
      attempts: flags.retry
    })
    const at = `${where}\n#${index} ${route.name}: ${JSON.stringify(record).slice(0, 600)}`
    expect(record["line"], at).toBe(index + 1)
    expect(record["requestMap"], at).toEqual(lines[index]!.canonical)
    expect(record["statusCode"], at).toBe(expected.status)
    const error = record["error"] as { _tag?: string; message?: string; reason?: string } | undefined
    if (expected.errorTag === undefined) {
      expect(error, at).toBeUndefined()
      expect(record, at).toHaveProperty("body")
      expect(record["body"], at).not.toBeNull()
    } else {
      anyFailed = true
      expect(error?._tag, at).toBe(expected.errorTag)
      expect(typeof error?.message === "string" && error.message.includes(route.method), at).toBe(true)
      if (route.transportReason !== undefined) expect(error?.reason, at).toBe(route.transportReason)
    }
    expect(record["attempts"], at).toBeGreaterThanOrEqual(1)
    expect(record["attempts"], at).toBeLessThanOrEqual(flags.retry ?? 1)
    expect(record["attempts"], at).toBe(expected.maxAttempts)
    expect(record["elapsedMs"], at).toBeGreaterThanOrEqual(0)
  })
  expect(seen.size, where).toBe(picks.length)
  expect(ran.code, where).toBe(anyFailed ? 1 : 0)
  expect(server.stats.maxInFlight, `${where}\nserver saw ${server.stats.maxInFlight} in flight`)
    .toBeLessThanOrEqual(flags.concurrency)
  if (flags.quiet) expect(ran.stderr, where).toBe("")
  else expect(ran.stderr, where).toContain(`${picks.length} requests`)
  return ran
}

describe("loamy send over the fault routes", () => {
  it("every route once, fixed flags: one record each, with the predicted status or error tag, exit 1", async () => {
    const picks = faultRoutes.map((_, route) => ({ route, snake: route % 2 === 1 }))
    const ran = await runAndCheck(picks, {
      concurrency: 4,
      timeoutMs: 1_000,
      timeoutUnit: true,
      retry: 2,
      maxBodyBytes: 4_096,
      ordered: false,
      quiet: false
    })
    expect(ran.code).toBe(1)
  }, 120_000)

  /** About how long a route keeps a slot under these flags (stalls, timeouts retried, a 1 s Retry-After date). */
  const slowMs = (route: FaultRoute, flags: Flags): number => {
    const attempts = flags.retry ?? 1
    if (route.stallMs !== undefined) {
      return flags.timeoutMs !== undefined && flags.timeoutMs < route.stallMs ? flags.timeoutMs * attempts : route.stallMs
    }
    return route.path.startsWith("/retry-after-date") && attempts > 1 ? 1_000 : 0
  }

  it("property: random mixes with random flags keep one record per line and the predicted outcomes", async () => {
    let runs = 0
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({ route: fc.integer({ min: 0, max: faultRoutes.length - 1 }), snake: fc.boolean() }),
          { minLength: 1, maxLength: 10 }
        ),
        fc.record({
          concurrency: fc.integer({ min: 1, max: 6 }),
          timeoutMs: fc.constantFrom(undefined, 1_000, 10_000),
          timeoutUnit: fc.boolean(),
          retry: fc.constantFrom(undefined, 1, 2, 3),
          maxBodyBytes: fc.constantFrom(undefined, 4_096, 1_000_000),
          ordered: fc.boolean(),
          quiet: fc.boolean()
        }),
        async (picks, flags) => {
          // A time budget, not a check: mixes that would keep the CLI busy for more than about 5 s
          // (eight stalls at concurrency 1) are skipped, so the file stays well under 40 s.
          const slow = picks.map((p) => slowMs(faultRoutes[p.route]!, flags))
          fc.pre(slow.reduce((a, b) => a + b, 0) / flags.concurrency + Math.max(...slow) <= 5_000)
          runs++
          await runAndCheck(picks, flags)
        }
      ),
      { numRuns: 5, endOnFailure: true }
    )
    expect(runs).toBe(5)
    // Five processes, each bounded by 60 s.
  }, 300_000)
})
