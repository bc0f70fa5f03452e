import {
  Clump,
  isAbortError,
  type RequestResponse,
  sendRequests,
  sendRequestsSync,
  TransportError
} from "loamy"
import { describe, expectTypeOf, it } from "vitest"

// Type-level checks of the public API: run by `tsc -p tsconfig.test.json`; the calls are never made.
describe("types", () => {
  it("gives a Promise of an array at the Promise door and an array at the sync door", () => {
    expectTypeOf(sendRequests).returns.toEqualTypeOf<Promise<Array<RequestResponse>>>()
    expectTypeOf(sendRequestsSync).returns.toEqualTypeOf<Array<RequestResponse>>()
    expectTypeOf<Clump["sendRequests"]>().returns.toEqualTypeOf<Array<RequestResponse>>()
  })

  it("accepts the original's snake_case fields and durations in milliseconds or the duration grammar", () => {
    const never = false as boolean
    if (never) {
      void sendRequests([{ url: "http://x/", http_op: "get", query_params: { a: "1" } }], { timeout: 1_000 })
      void sendRequests([{ url: "http://x/", httpOp: "GET" }], { retry: { attempts: 2, baseDelay: 10 } })
      // The core's one duration grammar, as in the CLI's flags (issue 19: the same grammar at every door).
      void sendRequests([{ url: "http://x/", httpOp: "GET" }], { timeout: "5 seconds", rateLimit: "10/1s" })
      // @ts-expect-error a duration is a number of milliseconds or text, not a boolean
      void sendRequests([{ url: "http://x/", httpOp: "GET" }], { timeout: true })
      // @ts-expect-error not a method
      void sendRequests([{ url: "http://x/", httpOp: "FETCH" }])
      // @ts-expect-error signal is for the Promise door only
      sendRequestsSync([{ url: "http://x/", httpOp: "GET" }], { signal: AbortSignal.abort() })
    }
  })

  it("narrows errors with guards and classes", () => {
    expectTypeOf(isAbortError).guards.toEqualTypeOf<import("loamy").AbortError>()
    expectTypeOf<RequestResponse["error"]>().extract<TransportError>().toEqualTypeOf<TransportError>()
  })
})
