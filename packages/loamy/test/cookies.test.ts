/**
 * `cookies` at the Promise and synchronous doors, against the core's cookie
 * server (two loopback hosts, two origins for cookies, see its
 * `cookie-server.ts`) in a child process, since the synchronous door blocks
 * this thread: one jar per call shared by its requests and their
 * redirects, never a cookie of one host sent to the other. The Promise door
 * takes a caller's `CookieJar` and leaves it holding what the call set; the
 * synchronous door refuses one (the jar cannot cross to its worker) and runs
 * `cookies: true` on the worker, the bundled worker that the packed package
 * ships included (tough-cookie is bundled into it).
 */
import { Clump, isInvalidOptionsError, sendRequests, sendRequestsSync } from "loamy"
import { type ChildProcess, execFileSync, fork } from "node:child_process"
import { copyFileSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { CookieJar } from "tough-cookie"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { setting } from "../../core/test/cookie-server.js"
// The shipped module itself, to point the door at a bundled worker.
import { config, testing } from "../dist/internal/sync.js"

interface Remote {
  readonly a: string
  readonly b: string
  /** How many requests the server has received. */
  readonly seen: () => Promise<number>
}

let child: ChildProcess
let server: Remote
beforeAll(async () => {
  child = fork(fileURLToPath(new URL("./fixtures/cookie-server.mjs", import.meta.url)), [], { stdio: "inherit" })
  const next = <A>(type: string) =>
    new Promise<A>((resolve, reject) => {
      const onMessage = (message: { type: string } & A) => {
        if (message.type !== type) return
        child.off("message", onMessage)
        resolve(message)
      }
      child.on("message", onMessage)
      child.once("exit", (code) => reject(new Error(`the cookie server exited (${code})`)))
    })
  const ready = await next<{ a: string; b: string }>("ready")
  server = {
    a: ready.a,
    b: ready.b,
    seen: async () => {
      const reply = next<{ count: number }>("seen")
      child.send({ type: "seen" })
      return (await reply).count
    }
  }
}, 60_000)
afterAll(async () => {
  await testing.stop()
  const exited = new Promise((resolve) => child.once("exit", resolve))
  child.disconnect()
  await exited
})

const get = (url: string) => ({ url, httpOp: "GET" as const })

const cookiesOf = (response: { readonly body: unknown } | undefined) =>
  (response!.body as { cookies: Record<string, string> }).cookies

/** A login on A that redirects within A, a redirect from A to B, then one request to each. */
const journey = () => [
  get(setting(server.a, "/login", ["sid=a1; HttpOnly"], `${server.a}/home`)),
  get(setting(server.a, "/away", [], setting(server.b, "/landing", ["bsid=b1"]))),
  get(`${server.a}/later`),
  get(`${server.b}/later`)
]

const expectJourney = (responses: ReadonlyArray<{ readonly body: unknown; readonly statusCode: number }>) => {
  for (const response of responses) expect(response.statusCode).toBe(200)
  expect(cookiesOf(responses[0])).toEqual({ sid: "a1" })
  expect(cookiesOf(responses[1])).toEqual({})
  expect(cookiesOf(responses[2])).toEqual({ sid: "a1" })
  expect(cookiesOf(responses[3])).toEqual({ bsid: "b1" })
}

describe("cookies at the Promise door", () => {
  it("cookies: true carries a cookie across a redirect and to the call's later requests of its host only", async () => {
    expectJourney(await sendRequests(journey(), { cookies: true, concurrency: 1 }))
    // The next call starts with an empty jar.
    const [fresh] = await sendRequests([get(`${server.a}/fresh`)], { cookies: true })
    expect(cookiesOf(fresh)).toEqual({})
  })

  it("a CookieJar of the caller's is read before the call and holds its cookies after it", async () => {
    const jar = new CookieJar()
    await jar.setCookie("pre=1", `${server.a}/`)
    const [home] = await sendRequests([get(setting(server.a, "/login", ["sid=a1"], `${server.a}/home`))], {
      cookies: jar
    })
    expect(cookiesOf(home)).toEqual({ pre: "1", sid: "a1" })
    expect(await jar.getCookieString(`${server.a}/`)).toBe("pre=1; sid=a1")
    expect(await jar.getCookieString(`${server.b}/`)).toBe("")
    // A second call with the same jar: a session that goes on.
    const [again] = await sendRequests([get(`${server.a}/again`)], { cookies: jar })
    expect(cookiesOf(again)).toEqual({ pre: "1", sid: "a1" })
  })

  it("without cookies nothing is kept (as before)", async () => {
    const [home] = await sendRequests([get(setting(server.a, "/login", ["sid=a1"], `${server.a}/home`))])
    expect(cookiesOf(home)).toEqual({})
  })
})

describe("cookies at the synchronous door", () => {
  it("cookies: true runs one jar per call on the worker", { timeout: 60_000 }, () => {
    expectJourney(sendRequestsSync(journey(), { cookies: true, concurrency: 1 }))
    expectJourney(new Clump(journey(), { cookies: true, concurrency: 1 }).sendRequests())
    // The worker remembers the options of a call, but the jar is the call's.
    const [fresh] = sendRequestsSync([get(`${server.a}/fresh`)], { cookies: true, concurrency: 1 })
    expect(cookiesOf(fresh)).toEqual({})
  })

  it("refuses a CookieJar, saying why and what to use, before anything is sent", { timeout: 60_000 }, async () => {
    const before = await server.seen()
    for (const call of [
      () => sendRequestsSync([get(`${server.a}/x`)], { cookies: new CookieJar() }),
      () => new Clump([get(`${server.a}/x`)], { cookies: new CookieJar() }).sendRequests()
    ]) {
      let error: unknown
      try {
        call()
      } catch (e) {
        error = e
      }
      expect(isInvalidOptionsError(error)).toBe(true)
      expect((error as { option: string }).option).toBe("cookies")
      expect((error as Error).message).toContain("use cookies: true (one jar for the call, on the worker) or sendRequests")
    }
    expect(await server.seen()).toBe(before)
  })

  it("works in the bundled worker the packed package ships", async () => {
    const dir = mkdtempSync(join(tmpdir(), "loamy-cookies-"))
    const saved = config.workerUrl
    try {
      copyFileSync(fileURLToPath(new URL("../dist/internal/worker.js", import.meta.url)), join(dir, "worker.js"))
      execFileSync(process.execPath, [
        fileURLToPath(new URL("../scripts/bundle-worker.js", import.meta.url)),
        join(dir, "worker.bundle.js")
      ], { stdio: "pipe", timeout: 120_000 })
      await testing.stop()
      config.workerUrl = pathToFileURL(join(dir, "worker.js"))
      expectJourney(sendRequestsSync(journey(), { cookies: true, concurrency: 1 }))
    } finally {
      await testing.stop()
      config.workerUrl = saved
      rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)
})
