import { describe, expect, it } from "vitest"
// From the build (as users get it): the child is dist/child.js.
import { startProcess } from "@loamy/test-server"

describe("startProcess", () => {
  it("serves from a child process and answers for its stats, arrivals included, and resets them", async () => {
    const server = await startProcess()
    try {
      const a = await fetch(`${server.url}/echo?i=1`)
      expect(a.status).toBe(200)
      await a.text()
      const b = await fetch(`${server.otherUrl}/`)
      expect(await b.json()).toEqual({ message: "Hello, world!" })
      const stats = await server.stats()
      expect(stats.requests).toBe(2)
      expect(stats.arrivalPaths).toEqual(["/echo?i=1", "/"])
      expect(stats.arrivals).toHaveLength(2)
      expect(stats.arrivals[1]!).toBeGreaterThanOrEqual(stats.arrivals[0]!)
      // Answers are matched to questions, also when several are asked at once.
      const [one, , two] = await Promise.all([server.stats(), server.resetStats(), server.stats()])
      expect(one.requests).toBe(2)
      expect(two.requests).toBe(0)
      expect(two.arrivals).toEqual([])
    } finally {
      await server.close()
    }
    // The process is gone: nothing listens any more, and questions fail at once instead of waiting.
    await expect(fetch(`${server.url}/`)).rejects.toThrow()
    await expect(server.stats()).rejects.toThrow("is gone")
  }, 30_000)
})
