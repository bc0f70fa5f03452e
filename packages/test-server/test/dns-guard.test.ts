/**
 * The DNS guard (@loamy/test-kit's setup/dns-guard.mjs, a setup file of every package):
 * `.invalid` names fail like the resolver fails them, loopback names resolve,
 * any other name throws, here, in child processes and in worker threads
 * started with `execArgv: []` (as the sync door's worker is).
 */
import { execFile } from "node:child_process"
import dns from "node:dns"
import { lookup as namedLookup } from "node:dns"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import { start, type TestServer } from "@loamy/test-server"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { forbidden } from "@loamy/test-kit/dns-guard"

const lookup = (name: string, options: dns.LookupOptions = {}) =>
  new Promise<unknown>((resolve, reject) =>
    dns.lookup(name, options, (error, address) => (error ? reject(error) : resolve(address))))

let server: TestServer
beforeAll(async () => {
  server = await start()
})
afterAll(() => server.close())

// The throws this file provokes on purpose must not fail it in the setup file's afterEach.
afterEach(() => {
  forbidden.splice(0)
})

const probe = new URL("./fixtures/resolve-probe.mjs", import.meta.url)

describe("dns guard", () => {
  it("fails a .invalid name with the resolver's ENOTFOUND shape, without a query", async () => {
    const error = await lookup("x.invalid").catch((e: unknown) => e)
    expect(error).toBeInstanceOf(Error)
    expect(error).toMatchObject({ code: "ENOTFOUND", errno: -3008, syscall: "getaddrinfo", hostname: "x.invalid" })
    expect((error as Error).message).toBe("getaddrinfo ENOTFOUND x.invalid")
    await expect(lookup("x.invalid", { all: true })).rejects.toMatchObject({ code: "ENOTFOUND" })
    await expect(dns.promises.lookup("y.invalid")).rejects.toMatchObject({ code: "ENOTFOUND", hostname: "y.invalid" })
    await expect(new Promise((_, reject) => namedLookup("z.invalid", reject))).rejects.toMatchObject({ code: "ENOTFOUND" })
  })

  it("resolves loopback names", async () => {
    expect(await lookup("127.0.0.1")).toBe("127.0.0.1")
    expect(await lookup("::1")).toBe("::1")
    expect(await lookup("localhost", { all: true })).toEqual([{ address: "127.0.0.1", family: 4 }, { address: "::1", family: 6 }])
    expect(await lookup("localhost", { family: 6 })).toBe("::1")
    expect(await lookup("LOCALHOST.")).toBe("127.0.0.1")
    expect(await dns.promises.lookup("localhost")).toEqual({ address: "127.0.0.1", family: 4 })
    const response = await fetch(`http://localhost:${server.port}/`)
    expect(await response.json()).toEqual({ message: "Hello, world!" })
  })

  it("throws for any other name, and fetch reports it", async () => {
    expect(() => dns.lookup("app.localhost", () => {})).toThrow(/A test tried to resolve "app.localhost"/)
    forbidden.splice(0)
    expect(() => dns.lookup("example.com", () => {})).toThrow(/A test tried to resolve "example.com"/)
    await expect(dns.promises.lookup("example.org")).rejects.toThrow(/A test tried to resolve "example.org"/)
    const failure = (await fetch("http://example.net/").catch((e: Error) => e.cause)) as Error
    expect(failure.message).toMatch(/A test tried to resolve "example.net"/)
    expect(forbidden).toEqual(["example.com", "example.org", "example.net"])
  })

  it("fetch of a .invalid host fails with ENOTFOUND", async () => {
    const failure = (await fetch("http://loamy-guard.invalid/").catch((e: Error) => e.cause)) as NodeJS.ErrnoException
    expect(failure).toMatchObject({ code: "ENOTFOUND", hostname: "loamy-guard.invalid" })
  })

  it("is in force in child processes (through NODE_OPTIONS)", async () => {
    const stdout = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [fileURLToPath(probe)], { timeout: 60_000 }, (error, out) => (error ? reject(error) : resolve(out))))
    expect(JSON.parse(stdout.trim())).toEqual([
      "ENOTFOUND getaddrinfo x.invalid",
      expect.stringMatching(/^threw: A test tried to resolve "example.com"/)
    ])
  }, 60_000)

  it("is in force in worker threads started with execArgv: []", async () => {
    const worker = new Worker(probe, { execArgv: [] })
    const message = await new Promise<string>((resolve, reject) => {
      worker.once("message", resolve)
      worker.once("error", reject)
    })
    await worker.terminate()
    expect(JSON.parse(message)).toEqual([
      "ENOTFOUND getaddrinfo x.invalid",
      expect.stringMatching(/^threw: A test tried to resolve "example.com"/)
    ])
  }, 60_000)
})
