import { waitUntil } from "@loamy/test-kit"
import {
  BodyDecodeError,
  Clump,
  DeadlineError,
  InvalidInputError,
  isInvalidOptionsError,
  isSyncTimeoutError,
  isWorkerError,
  sendRequestsSync,
  TimeoutError,
  warmUpSync
} from "loamy"
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import { appendFileSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { MessageChannel, Worker } from "node:worker_threads"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
// The shipped module itself, for the hooks the public API does not expose.
import { config, testing } from "../dist/internal/sync.js"
import { originalBatch, type RemoteServer, startRemote } from "./helpers.js"

let server: RemoteServer
beforeAll(async () => {
  server = await startRemote()
})
afterAll(async () => {
  await testing.stop()
  await server.close()
})

describe("sendRequestsSync", () => {
  it("sends the original's 100 mixed requests and returns them, in order, without a Promise", () => {
    const batch = originalBatch(server.url)
    const responses = sendRequestsSync(batch)
    expect(Array.isArray(responses)).toBe(true)
    expect(responses).toHaveLength(100)
    responses.forEach((response, i) => {
      expect(response.error).toBeUndefined()
      expect(response.statusCode).toBe(200)
      expect(response.requestMap.url).toBe(batch[i]!.url)
      expect(response.body).toEqual(i % 2 === 0 ? { message: "Hello, world!" } : { foo: "bar" })
      if (i % 2 === 1) expect(response.headers["x-test"]).toBe("Test")
    })
  })

  it("has the original's shape: new Clump(requests).sendRequests({ returnExceptions })", () => {
    const batch = [...originalBatch(server.url), { url: `${server.url}/exception`, http_op: "GET" as const }]
    const responses = new Clump(batch).sendRequests({ returnExceptions: true })
    const failures = responses.filter((r) => r.error !== undefined)
    expect(failures).toHaveLength(1)
    expect(failures[0]!.statusCode).toBe(500)
    // Errors cross the thread boundary as the same classes.
    expect(failures[0]!.error).toBeInstanceOf(BodyDecodeError)
    expect(failures[0]!.error!.message).toContain("/exception")
    expect(() => new Clump(batch).sendRequests({ returnExceptions: false })).toThrow(BodyDecodeError)
  })

  it("keeps input order under random delays", () => {
    const delays = Array.from({ length: 30 }, () => Math.floor(Math.random() * 50))
    const responses = sendRequestsSync(delays.map((ms) => ({ url: `${server.url}/delay/${ms}`, httpOp: "GET" })))
    expect(responses.map((r) => (r.body as { delayed: number }).delayed)).toEqual(delays)
  })

  it("throws bad input at once, posting nothing", async () => {
    await server.reset()
    expect(() =>
      sendRequestsSync([{ url: `${server.url}/`, httpOp: "GET" }, { url: "ftp://x/", httpOp: "GET" }])
    ).toThrow(InvalidInputError)
    expect(() => sendRequestsSync([{ url: `${server.url}/`, httpOp: "GET" }], { deadline: "soon" } as never))
      .toSatisfy((f: () => unknown) => {
        try {
          f()
          return false
        } catch (e) {
          return isInvalidOptionsError(e)
        }
      })
    expect((await server.stats()).requests).toBe(0)
  })

  it("returns on time when the deadline expires, with DeadlineErrors for what did not finish", () => {
    const started = Date.now()
    const responses = sendRequestsSync([
      { url: `${server.url}/`, httpOp: "GET" },
      { url: `${server.url}/stall?ms=20000`, httpOp: "GET" },
      { url: `${server.url}/stall?ms=20000`, httpOp: "GET" }
    ], { deadline: 300 })
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(responses[0]!.error).toBeUndefined()
    expect(responses[1]!.error).toBeInstanceOf(DeadlineError)
    expect(responses[2]!.error).toBeInstanceOf(DeadlineError)
  })

  it("applies the other options in the worker too", () => {
    const responses = sendRequestsSync([
      { url: `${server.url}/stall?ms=20000`, httpOp: "GET" },
      { url: `${server.url}/big?bytes=50000`, httpOp: "GET" },
      { url: `${server.url}/echo`, httpOp: "GET" }
    ], { timeout: 200, maxBodyBytes: 1000, headers: { "x-default": "d" }, concurrency: 2 })
    expect(responses[0]!.error).toBeInstanceOf(TimeoutError)
    expect(responses[1]!.error?._tag).toBe("BodyTooLargeError")
    expect(responses[2]!.body).toMatchObject({ headers: { "x-default": "d" } })
  })

  it("gives each options value its own prepared pipeline in the worker, calls in a row alternating", () => {
    const echo = [{ url: `${server.url}/echo`, httpOp: "GET" as const }]
    const redirect = [{ url: `${server.url}/redirect?to=${encodeURIComponent(`${server.url}/`)}`, httpOp: "GET" as const }]
    const failing = [{ url: `${server.url}/exception`, httpOp: "GET" as const }]
    const header = (responses: ReadonlyArray<{ body: unknown }>) =>
      (responses[0]!.body as { headers: Record<string, string> }).headers["x-default"]
    for (let round = 0; round < 3; round++) {
      expect(header(sendRequestsSync(echo, { headers: { "x-default": "a" } }))).toBe("a")
      expect(header(sendRequestsSync(echo, { headers: { "x-default": "b" } }))).toBe("b")
      expect(header(sendRequestsSync(echo))).toBeUndefined()
      // A deadline is per call: such options are never prepared, and the call still behaves.
      expect(header(sendRequestsSync(echo, { headers: { "x-default": "c" }, deadline: 10_000 }))).toBe("c")
      expect(sendRequestsSync(redirect)[0]!.statusCode).toBe(200)
      expect(sendRequestsSync(redirect, { maxRedirects: 0 })[0]!.statusCode).toBe(302)
      expect(sendRequestsSync(failing)[0]!.error).toBeInstanceOf(BodyDecodeError)
      expect(() => sendRequestsSync(failing, { returnExceptions: false })).toThrow(BodyDecodeError)
      // The same options as a batch of two (the scheduler) and of one (the short path) agree.
      const two = sendRequestsSync([...echo, ...echo], { headers: { "x-default": "a" } })
      expect(two.map((r) => (r.body as { headers: Record<string, string> }).headers["x-default"])).toEqual(["a", "a"])
      expect(two[0]!.requestMap).toEqual(echo[0])
    }
  })

  it("runs as many requests at once as the call's concurrency, above the default too, on sockets capped at it", async () => {
    // Each request waits at the server long enough for the worker to start the whole first wave, even on a busy
    // machine.
    const slow = (n: number) => Array.from({ length: n }, () => ({ url: `${server.url}/delay/1000`, httpOp: "GET" as const }))
    // The worker keeps the route (sockets capped at the concurrency) of the last options between calls: a call
    // with other options gets its own, the smaller cap first here so that keeping the last one would show.
    await server.reset()
    expect(sendRequestsSync(slow(24), { concurrency: 8 }).every((r) => r.statusCode === 200)).toBe(true)
    let stats = await server.stats()
    expect(stats.maxInFlight).toBe(8)
    expect(stats.connections).toBeLessThanOrEqual(8)
    await server.reset()
    expect(sendRequestsSync(slow(300), { concurrency: 150 }).every((r) => r.statusCode === 200)).toBe(true)
    stats = await server.stats()
    expect(stats.maxInFlight).toBe(150)
    expect(stats.connections).toBeLessThanOrEqual(150)
  }, 60_000)

  it("keeps answering when the agent a prepared pipeline was made on has been closed for a newer one", () => {
    // Each concurrency has an agent of its own and a few are kept: cycling through more closes the oldest, and
    // the pipelines prepared on them must not send through a closed agent.
    const echo = [{ url: `${server.url}/echo`, httpOp: "GET" as const }]
    for (let round = 0; round < 3; round++) {
      for (let concurrency = 1; concurrency <= 7; concurrency++) {
        const [response] = sendRequestsSync(echo, { concurrency })
        expect(response!.error, `concurrency ${concurrency}, round ${round}`).toBeUndefined()
        expect(response!.statusCode).toBe(200)
      }
    }
  }, 60_000)

  it("keeps working past the number of options values the worker remembers", () => {
    const echo = [{ url: `${server.url}/echo`, httpOp: "GET" as const }]
    for (let i = 0; i < 150; i++) {
      const value = `v${i % 75}`
      const [response] = sendRequestsSync(echo, { headers: { "x-default": value } })
      expect((response!.body as { headers: Record<string, string> }).headers["x-default"]).toBe(value)
    }
  })

  it("throws a SyncTimeoutError past its wait bound and aborts the batch in the worker", async () => {
    sendRequestsSync([{ url: `${server.url}/`, httpOp: "GET" }])
    await server.reset()
    // The worker always replies by the deadline: a margin below zero makes the caller give up before it does.
    const saved = config.deadlineMarginMs
    config.deadlineMarginMs = -9_700
    try {
      const started = Date.now()
      let error: unknown
      try {
        sendRequestsSync([{ url: `${server.url}/stall?ms=20000`, httpOp: "GET" }], { deadline: 10_000 })
      } catch (e) {
        error = e
      }
      expect(isSyncTimeoutError(error)).toBe(true)
      expect(Date.now() - started).toBeLessThan(5_000)
    } finally {
      config.deadlineMarginMs = saved
    }
    // The worker got the abort: the stalled request's socket closes long before the stall ends.
    expect(await waitUntil(async () => (await server.stats()).inFlight === 0, 5_000)).toBe(true)
    expect(sendRequestsSync([{ url: `${server.url}/`, httpOp: "GET" }])[0]!.statusCode).toBe(200)
  })

  it("runs the next call at once after one it gave up on, while that one is being stopped", async () => {
    sendRequestsSync([{ url: `${server.url}/`, httpOp: "GET" }])
    await server.reset()
    const saved = config.deadlineMarginMs
    config.deadlineMarginMs = -9_700
    let error: unknown
    try {
      sendRequestsSync(
        Array.from({ length: 3 }, () => ({ url: `${server.url}/stall?ms=20000`, httpOp: "GET" as const })),
        { deadline: 10_000 }
      )
    } catch (e) {
      error = e
    } finally {
      config.deadlineMarginMs = saved
    }
    expect(isSyncTimeoutError(error)).toBe(true)
    // No wait in between: the worker takes this batch on a new fiber while the old one's requests are aborted.
    const responses = sendRequestsSync(Array.from({ length: 5 }, () => ({ url: `${server.url}/`, httpOp: "GET" as const })))
    expect(responses.map((r) => r.statusCode)).toEqual([200, 200, 200, 200, 200])
    expect(await waitUntil(async () => (await server.stats()).inFlight === 0, 5_000)).toBe(true)
  })

  it("reports a worker that dies mid-call, and the next call gets a fresh worker", () => {
    sendRequestsSync([{ url: `${server.url}/`, httpOp: "GET" }])
    const before = testing.worker()
    testing.crashNextCall(100)
    const started = Date.now()
    let error: unknown
    try {
      sendRequestsSync([{ url: `${server.url}/stall?ms=20000`, httpOp: "GET" }])
    } catch (e) {
      error = e
    }
    expect(isWorkerError(error)).toBe(true)
    expect((error as Error).message).toContain("crashed on purpose")
    expect(Date.now() - started).toBeLessThan(10_000)
    const responses = sendRequestsSync([{ url: `${server.url}/`, httpOp: "GET" }])
    expect(responses[0]!.statusCode).toBe(200)
    expect(testing.worker()).not.toBe(before)
  })

  it("starts a fresh worker after the old one was terminated", async () => {
    sendRequestsSync([{ url: `${server.url}/`, httpOp: "GET" }])
    const worker = testing.worker()!
    await worker.terminate()
    expect(sendRequestsSync([{ url: `${server.url}/`, httpOp: "GET" }])[0]!.statusCode).toBe(200)
    expect(testing.worker()).not.toBe(worker)
  })

  it("makes 1,000 sequential calls without growing open handles or server connections", async () => {
    const request = [{ url: `${server.url}/`, httpOp: "GET" as const }]
    sendRequestsSync(request)
    await server.reset()
    const handlesBefore = process.getActiveResourcesInfo().length
    for (let i = 0; i < 1_000; i++) {
      const [response] = sendRequestsSync(request)
      if (response!.statusCode !== 200) throw new Error(`call ${i} answered ${response!.statusCode}`)
    }
    const stats = await server.stats()
    expect(stats.requests).toBe(1_000)
    // Keep-alive: one connection serves every call.
    expect(stats.connections).toBeLessThanOrEqual(2)
    expect(process.getActiveResourcesInfo().length).toBeLessThanOrEqual(handlesBefore)
  })

  it("warmUpSync starts the worker without blocking, once, and the next call uses it", async () => {
    await testing.stop()
    expect(testing.worker()).toBeUndefined()
    warmUpSync()
    const started = testing.worker()
    expect(started).toBeDefined()
    warmUpSync()
    expect(testing.worker()).toBe(started)
    // The worker loads while this thread goes on.
    await new Promise<void>((resolve, reject) => {
      started!.once("online", resolve)
      started!.once("error", reject)
      setTimeout(resolve, 20_000).unref()
    })
    expect(sendRequestsSync([{ url: `${server.url}/`, httpOp: "GET" }])[0]!.statusCode).toBe(200)
    expect(testing.worker()).toBe(started)
    // A worker that has died is replaced.
    await started!.terminate()
    warmUpSync()
    expect(testing.worker()).not.toBe(started)
    expect(sendRequestsSync([{ url: `${server.url}/`, httpOp: "GET" }])[0]!.statusCode).toBe(200)
  }, 60_000)

  it("runs the bundled worker that the packed package ships", async () => {
    // The bundle, its cache and the entry alone in a directory: the worker cannot fall back to the module tree.
    const dir = packedWorker()
    try {
      await callThrough(dir)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)

  it("reports a worker that fails to start, then starts a working one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "loamy-broken-"))
    const saved = config.workerUrl
    try {
      await testing.stop()
      config.workerUrl = pathToFileURL(join(dir, "missing.js"))
      expect(() => sendRequestsSync([{ url: `${server.url}/`, httpOp: "GET" }])).toThrow(/could not start/)
      // An entry whose imports fail: the worker dies while loading, and the caller hears of it at once.
      copyFileSync(fileURLToPath(new URL("../dist/internal/worker.js", import.meta.url)), join(dir, "worker.js"))
      config.workerUrl = pathToFileURL(join(dir, "worker.js"))
      const started = Date.now()
      let error: unknown
      try {
        sendRequestsSync([{ url: `${server.url}/`, httpOp: "GET" }])
      } catch (e) {
        error = e
      }
      expect(isWorkerError(error)).toBe(true)
      expect((error as Error).message).toContain("workerMain.js")
      expect(Date.now() - started).toBeLessThan(20_000)
    } finally {
      config.workerUrl = saved
      rmSync(dir, { recursive: true, force: true })
    }
    expect(sendRequestsSync([{ url: `${server.url}/`, httpOp: "GET" }])[0]!.statusCode).toBe(200)
  })
})

/** The packed layout in a directory of its own: the entry, the bundle and its code cache. */
const packedWorker = (): string => {
  const dir = mkdtempSync(join(tmpdir(), "loamy-cache-"))
  copyFileSync(fileURLToPath(new URL("../dist/internal/worker.js", import.meta.url)), join(dir, "worker.js"))
  execFileSync(process.execPath, [
    fileURLToPath(new URL("../scripts/bundle-worker.js", import.meta.url)),
    join(dir, "worker.bundle.js")
  ], { stdio: "pipe", timeout: 120_000 })
  return dir
}

/** Two requests through the worker entry in `dir`, on a fresh worker (stopped again after). */
const callThrough = async (dir: string) => {
  const saved = config.workerUrl
  try {
    await testing.stop()
    config.workerUrl = pathToFileURL(join(dir, "worker.js"))
    const responses = sendRequestsSync([
      { url: `${server.url}/`, httpOp: "GET" },
      { url: `${server.url}/exception`, httpOp: "GET" }
    ])
    expect(responses[0]!.body).toEqual({ message: "Hello, world!" })
    expect(responses[1]!.error).toBeInstanceOf(BodyDecodeError)
  } finally {
    await testing.stop()
    config.workerUrl = saved
  }
}

/** Starts the entry in `dir` and asks it what became of its code cache. */
const cacheStatus = async (dir: string): Promise<string> => {
  const { port1, port2 } = new MessageChannel()
  const cache = new MessageChannel()
  const worker = new Worker(pathToFileURL(join(dir, "worker.js")), {
    workerData: { port: port2, state: new SharedArrayBuffer(8), cachePort: cache.port2 },
    transferList: [port2, cache.port2],
    execArgv: []
  })
  try {
    const answer = new Promise<{ status: string }>((resolve, reject) => {
      cache.port1.once("message", resolve)
      worker.once("error", reject)
      setTimeout(() => reject(new Error("no answer from the worker in 30 s")), 30_000).unref()
    })
    cache.port1.postMessage("status")
    return (await answer).status
  } finally {
    cache.port1.close()
    port1.close()
    await worker.terminate()
  }
}

describe("the bundled worker's code cache", () => {
  let dir: string
  let good: Buffer
  beforeAll(() => {
    dir = packedWorker()
    good = readFileSync(join(dir, "worker.bundle.cache"))
  }, 120_000)
  afterAll(async () => {
    await testing.stop()
    rmSync(dir, { recursive: true, force: true })
  })


  it("is made at bundling and used by the worker", async () => {
    expect(good.length).toBeGreaterThan(1000)
    expect(await cacheStatus(dir)).toBe("used")
    await callThrough(dir)
  }, 60_000)

  it("is ignored, not handed to V8, when damaged, cut short, foreign or stale", async () => {
    const cacheFile = join(dir, "worker.bundle.cache")
    const newline = good.indexOf(10)
    const header = JSON.parse(good.subarray(0, newline).toString("utf8")) as Record<string, unknown>
    const payload = good.subarray(newline + 1)
    const damaged = Buffer.from(good)
    // Bytes flipped all over the cache itself, the header left as it was: V8 would crash on this.
    for (let i = newline + 64; i < damaged.length; i += 97) damaged[i] = damaged[i]! ^ 0x5a
    const source = readFileSync(join(dir, "worker.bundle.js"))
    const sealed = (h: Record<string, unknown>, data: Buffer) =>
      Buffer.concat([Buffer.from(`${JSON.stringify(h)}\n`), data])
    const otherV8 = sealed({
      ...header,
      v8: "0.0.0",
      sha256: createHash("sha256").update(source).update(payload).digest("hex")
    }, payload)
    const cases: ReadonlyArray<readonly [string, Buffer]> = [
      ["damaged", damaged],
      ["cut short", good.subarray(0, Math.floor(good.length / 2))],
      ["no header", payload],
      ["empty", Buffer.alloc(0)],
      ["another V8", otherV8]
    ]
    try {
      for (const [name, bytes] of cases) {
        writeFileSync(cacheFile, bytes)
        expect(await cacheStatus(dir), name).toBe("mismatch")
      }
      await callThrough(dir)
      // The bundle changed after the cache was made (same V8): stale.
      writeFileSync(cacheFile, good)
      appendFileSync(join(dir, "worker.bundle.js"), "\n// changed\n")
      expect(await cacheStatus(dir)).toBe("mismatch")
      await callThrough(dir)
      rmSync(cacheFile)
      expect(existsSync(cacheFile)).toBe(false)
      expect(await cacheStatus(dir)).toBe("absent")
      await callThrough(dir)
    } finally {
      writeFileSync(join(dir, "worker.bundle.js"), source)
      writeFileSync(cacheFile, good)
    }
  }, 120_000)
})
