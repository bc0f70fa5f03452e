/**
 * The DNS guard (@loamy/test-kit's setup/dns-guard.mjs) reaches the sync door's worker
 * thread, which is started with `execArgv: []`: through NODE_OPTIONS, which the
 * setup file sets and a worker reads from its env. No test code is shipped.
 */
import { sendRequestsSync } from "loamy"
import { afterEach, describe, expect, it } from "vitest"
import { forbidden } from "@loamy/test-kit/dns-guard"

afterEach(() => {
  forbidden.splice(0)
})

describe("dns guard in the sync door's worker", () => {
  it("a .invalid name fails as the resolver fails it", () => {
    const [response] = sendRequestsSync([{ url: "http://loamy-sync-guard.invalid/", httpOp: "GET" }], {
      returnExceptions: true
    })
    expect(response!.statusCode).toBe(0)
    expect(response!.error!._tag).toBe("TransportError")
    expect(JSON.stringify(response!.error)).toContain("ENOTFOUND")
    expect(forbidden).toEqual([])
  }, 60_000)

  it("a public name is refused in the worker, and the test process hears of it", async () => {
    const [response] = sendRequestsSync([{ url: "http://example.com/", httpOp: "GET" }], { returnExceptions: true })
    expect(response!.statusCode).toBe(0)
    expect(response!.error).toBeDefined()
    // The worker posts the name on a BroadcastChannel; give the message a bounded number of turns to arrive.
    for (let i = 0; i < 100 && forbidden.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(forbidden).toEqual(["example.com"])
  }, 60_000)
})
