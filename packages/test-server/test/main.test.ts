import { spawn } from "node:child_process"
import { once } from "node:events"
import { createRequire } from "node:module"
import { describe, expect, it } from "vitest"

const main = createRequire(import.meta.url).resolve("@loamy/test-server/main")

const startMain = (args: ReadonlyArray<string>) => {
  // stdin is closed from the start, as for `node main.js &` in a non-interactive shell.
  const child = spawn(process.execPath, [main, ...args], { stdio: ["ignore", "pipe", "inherit"] })
  const url = new Promise<string>((resolve, reject) => {
    let out = ""
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      out += chunk
      const newline = out.indexOf("\n")
      if (newline >= 0) resolve((JSON.parse(out.slice(0, newline)) as { url: string }).url)
    })
    child.on("exit", (code) => reject(new Error(`main.js exited (${code}) before printing its URL`)))
  })
  url.catch(() => undefined) // awaited by the tests that expect a URL
  return { child, url }
}

describe("main.js", () => {
  it("serves with its stdin closed until it is signalled", async () => {
    const { child, url } = startMain([])
    try {
      const base = await url
      // Several round trips after stdin closed: a server tied to its stdin would be gone.
      for (let i = 0; i < 5; i++) {
        const response = await fetch(`${base}/`)
        expect(await response.json()).toEqual({ message: "Hello, world!" })
      }
      expect(child.exitCode).toBe(null)
      const exited = once(child, "exit")
      child.kill("SIGTERM")
      const [code] = await exited
      expect(code).toBe(0)
    } finally {
      child.kill("SIGKILL")
    }
  }, 60_000)

  it("exits with its stdin when asked to (--exit-with-stdin)", async () => {
    const { child, url } = startMain(["--exit-with-stdin"])
    const exited = once(child, "exit")
    try {
      await url
      const [code] = await exited
      expect(code).toBe(0)
    } finally {
      child.kill("SIGKILL")
    }
  }, 60_000)

  it("refuses an unknown argument", async () => {
    const { child } = startMain(["--bogus"])
    const [code] = await once(child, "exit")
    expect(code).toBe(2)
  }, 60_000)
})
