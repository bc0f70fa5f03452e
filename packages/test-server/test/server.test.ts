import { closedPort, start } from "@loamy/test-server"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

describe("test server", () => {
  let server: Awaited<ReturnType<typeof start>>
  beforeAll(async () => {
    server = await start()
  })
  afterAll(() => server.close())

  it("serves the original project's routes", async () => {
    const root = await fetch(`${server.url}/`)
    expect(await root.json()).toEqual({ message: "Hello, world!" })
    const foo = await fetch(`${server.url}/foo`, { method: "POST", body: "{}" })
    expect(foo.headers.get("x-test")).toBe("Test")
    expect(await foo.json()).toEqual({ foo: "bar" })
    const exception = await fetch(`${server.url}/exception`)
    expect(exception.status).toBe(500)
    expect(await exception.text()).toContain("<html>")
  })

  it("counts requests by path", async () => {
    server.resetStats()
    await fetch(`${server.url}/status/418`)
    expect(server.stats.byPath["/status/418"]).toBe(1)
    expect(server.stats.requests).toBe(1)
  })

  it("finds a port that refuses connections", async () => {
    const port = await closedPort()
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow()
  })
})
