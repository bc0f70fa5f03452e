/**
 * What every door does with the same mistakes: options spelt the original's
 * way (snake_case) are refused at every door with the same message, before
 * anything is sent; a Promise-returning function rejects, it never throws.
 */
import { Clump as CoreClump } from "@loamy/core"
import { Effect } from "effect"
import { close, Clump, InvalidOptionsError, sendRequests, sendRequestsSync } from "loamy"
import * as UndiciHttpClient from "loamy/UndiciHttpClient"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
// The shipped module itself, to stop the synchronous door's worker at the end.
import { testing } from "../dist/internal/sync.js"
import { type RemoteServer, startRemote } from "./helpers.js"

let server: RemoteServer
beforeAll(async () => {
  server = await startRemote()
})
afterAll(async () => {
  await testing.stop()
  await server.close()
})

/** What `f` threw, or `undefined`. */
const thrown = (f: () => unknown): unknown => {
  try {
    f()
  } catch (error) {
    return error
  }
  return undefined
}

/** What `f` returned: it must be a Promise and must not throw. */
const returned = (f: () => unknown): Promise<unknown> => {
  let result: unknown
  expect(() => {
    result = f()
  }).not.toThrow()
  expect(result).toBeInstanceOf(Promise)
  return result as Promise<unknown>
}

describe("options spelt the original's way", () => {
  it("are refused at every door, with the same message naming the camelCase option, and nothing is sent", async () => {
    const requests = [{ url: `${server.url}/exception`, httpOp: "GET" as const }]
    const snake = { return_exceptions: false } as never
    await server.reset()
    const errors = [
      await sendRequests(requests, snake).catch((error: unknown) => error),
      thrown(() => sendRequestsSync(requests, snake)),
      thrown(() => new Clump(requests).sendRequests(snake)),
      thrown(() => new Clump(requests, snake).sendRequests()),
      thrown(() => new Clump(requests, snake).sendRequests({ returnExceptions: true })),
      await Effect.runPromise(
        Effect.flip(CoreClump.send(CoreClump.make(requests, snake))).pipe(Effect.provide(UndiciHttpClient.layer))
      )
    ]
    for (const [door, error] of errors.entries()) {
      expect(error, `door ${door}`).toBeInstanceOf(InvalidOptionsError)
      expect((error as InvalidOptionsError).option).toBe("return_exceptions")
      expect((error as InvalidOptionsError).message).toBe((errors[0] as InvalidOptionsError).message)
    }
    expect((errors[0] as InvalidOptionsError).detail).toMatch(/^unknown option; options are camelCase: did you mean returnExceptions\?/)
    expect((await server.stats()).requests).toBe(0)
  })

  it("are refused inside retry and rateLimit too, naming the camelCase field", async () => {
    const requests = [{ url: `${server.url}/`, httpOp: "GET" as const }]
    const error = await sendRequests(requests, { retry: { attempts: 2, base_delay: 10 } } as never).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InvalidOptionsError)
    expect((error as InvalidOptionsError).option).toBe("retry.base_delay")
    expect((error as InvalidOptionsError).detail).toContain("did you mean baseDelay?")
    // A name that is no option in any spelling gets no suggestion.
    const other = thrown(() => sendRequestsSync(requests, { retries: 2 } as never)) as InvalidOptionsError
    expect(other.detail).toMatch(/^unknown option \(expected one of/)
  })

  it("Clump's sendRequests takes returnExceptions only, checked as every door checks options", () => {
    const requests = [{ url: `${server.url}/exception`, httpOp: "GET" as const }]
    const other = thrown(() => new Clump(requests).sendRequests({ concurrency: 2 } as never)) as InvalidOptionsError
    expect(other).toBeInstanceOf(InvalidOptionsError)
    expect(other.option).toBe("concurrency")
    expect(other.detail).toContain("new Clump(requests, options)")
    const wrong = thrown(() => new Clump(requests).sendRequests({ returnExceptions: "no" } as never)) as InvalidOptionsError
    expect(wrong.option).toBe("returnExceptions")
    expect(thrown(() => new Clump(requests).sendRequests(null as never))).toBeInstanceOf(InvalidOptionsError)
    // Its returnExceptions overrides the clump's, both ways.
    expect(new Clump(requests, { returnExceptions: false }).sendRequests({ returnExceptions: true })[0]!.error)
      .toBeDefined()
    expect(thrown(() => new Clump(requests).sendRequests({ returnExceptions: false }))).toBeDefined()
    expect(thrown(() => new Clump(requests, { returnExceptions: false }).sendRequests({}))).toBeDefined()
  })
})

describe("sendRequests rejects, never throws", () => {
  const request = () => ({ url: `${server.url}/`, httpOp: "GET" as const })

  it("for an iterable whose iterator throws (a generator that fails)", async () => {
    const failure = new Error("the generator failed")
    function* failing() {
      yield request()
      throw failure
    }
    await expect(returned(() => sendRequests(failing()))).rejects.toBe(failure)
    const iteratorGetter = {
      get [Symbol.iterator](): () => Iterator<never> {
        throw failure
      }
    }
    await expect(returned(() => sendRequests(iteratorGetter as never))).rejects.toBe(failure)
    const nextThrows = {
      [Symbol.iterator]: () => ({
        next: () => {
          throw failure
        }
      })
    }
    await expect(returned(() => sendRequests(nextThrows as never))).rejects.toBe(failure)
  })

  it("for options or a request with a getter that throws", async () => {
    const failure = new Error("the getter failed")
    const options = {
      get concurrency(): number {
        throw failure
      }
    }
    await expect(returned(() => sendRequests([request()], options))).rejects.toBeDefined()
    const signalGetter = {
      get signal(): AbortSignal {
        throw failure
      }
    }
    await expect(returned(() => sendRequests([request()], signalGetter))).rejects.toBe(failure)
    const badRequest = {
      httpOp: "GET",
      get url(): string {
        throw failure
      }
    }
    await expect(returned(() => sendRequests([badRequest as never]))).rejects.toBeDefined()
  })

  it("for bad options and bad input", async () => {
    await expect(returned(() => sendRequests([request()], { concurrency: 0 }))).rejects.toBeInstanceOf(InvalidOptionsError)
    await expect(returned(() => sendRequests([request()], 5 as never))).rejects.toBeInstanceOf(InvalidOptionsError)
    await expect(returned(() => sendRequests(null as never))).rejects.toMatchObject({ _tag: "InvalidInputError" })
    await expect(returned(() => sendRequests([{ url: "not a url", httpOp: "GET" }]))).rejects.toMatchObject({
      _tag: "InvalidInputError",
      index: 0
    })
  })

  it("and close() is a Promise too", async () => {
    await expect(returned(() => close())).resolves.toBeUndefined()
  })
})
