/**
 * The synchronous door's wire and wait: a reply the worker cannot post, or
 * this thread cannot read, costs only the responses it cannot carry; the
 * wait never loses a finished result; a worker that stops showing signs of
 * life is given up on. Against real servers in child processes (the door
 * blocks this thread), with the worker's test hooks where a failure has to
 * be made whatever the core lets through.
 */
import { deepValue, type HostileProcess, startHostileProcess } from "@loamy/test-kit"
import {
  BodyDecodeError,
  DeadlineError,
  isWorkerError,
  sendRequestsSync,
  TimeoutError
} from "loamy"
import { MessageChannel, receiveMessageOnPort } from "node:worker_threads"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
// The shipped modules themselves, for the hooks the public API does not expose.
import { config, testing } from "../dist/internal/sync.js"
import { encodeResponses, type Part, Parts, postReply, type Reply } from "../dist/internal/wire.js"
import { type RemoteServer, startRemote } from "./helpers.js"

let server: RemoteServer
/** Its `/deep?n=N` nests JSON as deep as asked, `/ok?i=I` answers `{"ok":I}`; each says its route in `x-route`. */
let deep: HostileProcess
beforeAll(async () => {
  server = await startRemote()
  deep = await startHostileProcess()
})
afterAll(async () => {
  await testing.stop()
  await Promise.all([server.close(), deep.close()])
})

const saved = { ...config }
afterEach(() => {
  Object.assign(config, saved)
})

const ok = (i: number) => ({ url: `${deep.url}/ok?i=${i}`, httpOp: "GET" as const })

/** The responses at `intact` are the `/ok` answers they should be. */
const expectIntact = (responses: ReadonlyArray<{ statusCode: number; body: unknown; error?: unknown }>, intact: ReadonlyArray<number>) => {
  for (const i of intact) {
    expect(responses[i]!.error, `response ${i}`).toBeUndefined()
    expect(responses[i]!.statusCode).toBe(200)
    expect(responses[i]!.body).toEqual({ ok: i })
  }
}

/** The deepest array this thread can clone, to a few levels. */
const cloneLimit = (): number => {
  let low = 10
  let high = 1_000_000
  while (high - low > 16) {
    const mid = (low + high) >> 1
    try {
      structuredClone(deepValue(mid))
      low = mid
    } catch {
      high = mid
    }
  }
  return low
}

describe("the synchronous door's wire", () => {
  it("gives a body nested too deeply to pass its own typed error, at once, and the rest of the call intact", () => {
    // 4,000 levels: the worker posts it and this thread cannot read it. 100,000: the worker cannot post it.
    // (Before this was handled, the second waited for the whole default wait: here 20 s, not 5 minutes.)
    config.defaultWaitMs = 20_000
    const requests = [
      ok(0),
      { url: `${deep.url}/deep?n=4000`, httpOp: "GET" as const },
      ok(2),
      { url: `${deep.url}/deep?n=100000`, httpOp: "GET" as const },
      ok(4)
    ]
    const responses = sendRequestsSync(requests)
    expect(responses).toHaveLength(5)
    expectIntact(responses, [0, 2, 4])
    for (const i of [1, 3]) {
      const response = responses[i]!
      expect(response.requestMap).toEqual(requests[i])
      expect(response.statusCode).toBe(200)
      expect(response.headers["x-route"]).toBe("/deep")
      expect(response.error).toBeInstanceOf(BodyDecodeError)
      expect(response.error!.message).toContain(`GET ${deep.url}/deep`)
    }
    // The door is as good as before.
    expectIntact(sendRequestsSync([ok(0), ok(1)]), [0, 1])
  }, 60_000)

  it("gives a body the worker cannot post a NotCarried error, and keeps its status and headers", () => {
    // Made uncloneable in the worker, after the core: whatever the core lets through or not.
    testing.spoilNextReply([1, 3], "uncloneable")
    const responses = sendRequestsSync([0, 1, 2, 3, 4].map(ok))
    expectIntact(responses, [0, 2, 4])
    for (const i of [1, 3]) {
      const response = responses[i]!
      expect(response.statusCode).toBe(200)
      expect(response.headers["x-route"]).toBe("/ok")
      expect(response.body).toBeNull()
      expect(response.error).toBeInstanceOf(BodyDecodeError)
      const error = response.error as BodyDecodeError
      expect(error.reason).toBe("NotCarried")
      // Error fields name the URL without its query string.
      expect(error.url).toBe(ok(i).url.split("?")[0])
      expect(error.message).toContain("could not pass from its worker thread: cloning it in the worker thread failed")
    }
  })

  it("asks again, in parts, for a reply this thread cannot read, and loses only the body it cannot read", () => {
    // The worker thread has a 4 MB stack, this one about a quarter of it: twice what this thread can clone is a
    // body the worker posts and this thread cannot read.
    const depth = 2 * cloneLimit()
    testing.spoilNextReply([2], depth)
    const responses = sendRequestsSync([0, 1, 2, 3].map(ok))
    expectIntact(responses, [0, 1, 3])
    const error = responses[2]!.error as BodyDecodeError
    expect(error).toBeInstanceOf(BodyDecodeError)
    expect(error.reason).toBe("NotCarried")
    expect(error.detail).toContain("reading it on the calling thread failed")
    expect(responses[2]!.statusCode).toBe(200)
    expect(responses[2]!.headers["x-route"]).toBe("/ok")
    // With returnExceptions: false, that error fails the call, as any failure does.
    testing.spoilNextReply([1], depth)
    expect(() => sendRequestsSync([0, 1].map(ok), { returnExceptions: false })).toThrow(BodyDecodeError)
    expectIntact(sendRequestsSync([0, 1].map(ok)), [0, 1])
  })

  it("gives a response whose error is not one of loamy's a typed error instead of losing the call", () => {
    testing.spoilNextReply([1], "foreign")
    const responses = sendRequestsSync([0, 1, 2].map(ok))
    expectIntact(responses, [0, 2])
    const error = responses[1]!.error as BodyDecodeError
    expect(error).toBeInstanceOf(BodyDecodeError)
    expect(error.reason).toBe("NotCarried")
    expect(error.url).toBe(ok(1).url.split("?")[0])
    expect(error.detail).toContain("not one of loamy's (TypeError)")
  })

  it("fails a call the worker failed with an error that is not one of loamy's with a WorkerError naming it", () => {
    testing.dieNextCall("something unexpected")
    let error: unknown
    try {
      sendRequestsSync([ok(0)])
    } catch (e) {
      error = e
    }
    expect(isWorkerError(error)).toBe(true)
    expect((error as Error).message).toContain("unexpected TypeError: something unexpected")
    expect(((error as Error).cause as Error).name).toBe("TypeError")
    expectIntact(sendRequestsSync([ok(0)]), [0])
  })

  it("posts in parts what cannot be posted whole (the wire functions alone)", () => {
    const { port1, port2 } = new MessageChannel()
    try {
      const response = (i: number, body: unknown) => ({
        requestMap: ok(i),
        statusCode: 200,
        body,
        headers: { "x-route": "/ok" },
        elapsedMs: 1,
        attempts: 1
      })
      const requests = [ok(0), ok(1), ok(2)]
      const reply: Reply = {
        id: 7,
        ok: true,
        responses: encodeResponses([response(0, { ok: 0 }), response(1, { f: () => 1 }), response(2, { ok: 2 })])
      }
      postReply(port1, reply)
      const header = receiveMessageOnPort(port2)!.message as Reply
      expect(header).toEqual({ id: 7, parts: 3 })
      const parts = new Parts(7, requests, 3)
      while (!parts.done) parts.take(receiveMessageOnPort(port2)!.message as Part)
      expect(receiveMessageOnPort(port2)).toBeUndefined()
      const responses = parts.finish(false)
      expectIntact(responses, [0, 2])
      expect(responses[1]!.error).toBeInstanceOf(BodyDecodeError)
      expect((responses[1]!.error as BodyDecodeError).detail).toContain("DataCloneError")
      // The value that could not be cloned is not quoted.
      expect((responses[1]!.error as BodyDecodeError).detail).not.toContain("=>")
      expect(responses.map((r) => r.requestMap)).toEqual(requests)
    } finally {
      port1.close()
      port2.close()
    }
  })
})

describe("the synchronous door's wait", () => {
  it("never loses a finished result to the wait: a request that never answers gets its TimeoutError next to the 200", () => {
    // The default wait (5 minutes) was the default timeout (5 minutes); here both are a second.
    config.defaultWaitMs = 1_000
    const responses = sendRequestsSync([
      { url: `${server.url}/`, httpOp: "GET" },
      { url: `${server.url}/stall-headers`, httpOp: "GET" }
    ], { timeout: 1_000 })
    expect(responses[0]!.statusCode).toBe(200)
    expect(responses[0]!.body).toEqual({ message: "Hello, world!" })
    expect(responses[1]!.error).toBeInstanceOf(TimeoutError)
  })

  it("waits as long as the requests' own bounds make the call run, past the default wait", () => {
    config.defaultWaitMs = 300
    const responses = sendRequestsSync([
      { url: `${server.url}/delay/1500`, httpOp: "GET" },
      { url: `${server.url}/stall-headers`, httpOp: "GET" }
    ], { timeout: 3_000, concurrency: 1 })
    expect(responses[0]!.body).toEqual({ delayed: 1500 })
    expect(responses[1]!.error).toBeInstanceOf(TimeoutError)
  })

  it("gives a call with no timeout and no deadline the default wait as its deadline, keeping what finished", () => {
    config.defaultWaitMs = 1_000
    const responses = sendRequestsSync([
      { url: `${server.url}/`, httpOp: "GET" },
      { url: `${server.url}/stall-headers`, httpOp: "GET" }
    ], { timeout: Infinity })
    expect(responses[0]!.statusCode).toBe(200)
    expect(responses[1]!.error).toBeInstanceOf(DeadlineError)
    expect((responses[1]!.error as DeadlineError).deadlineMs).toBe(1_000)
  })

  it("gives up on a worker that shows no sign of life, and the next call gets a fresh worker", async () => {
    await testing.stop()
    config.heartbeatMs = 50
    config.stuckMs = 1_000
    sendRequestsSync([{ url: `${server.url}/`, httpOp: "GET" }])
    const before = testing.worker()
    testing.blockNextCall(15_000)
    let error: unknown
    try {
      sendRequestsSync([{ url: `${server.url}/`, httpOp: "GET" }])
    } catch (e) {
      error = e
    }
    expect(isWorkerError(error)).toBe(true)
    expect((error as Error).message).toContain("no sign of life for 1000 ms")
    // A busy worker is alive: a call longer than the silence bound comes back.
    expect(sendRequestsSync([{ url: `${server.url}/delay/2500`, httpOp: "GET" }])[0]!.body).toEqual({ delayed: 2500 })
    expect(testing.worker()).not.toBe(before)
    await testing.stop()
  }, 60_000)
})
