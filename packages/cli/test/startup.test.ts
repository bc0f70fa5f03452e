import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

/** The executable npm links: it runs the bundle when there is one, else dist/bin.js. */
const binEntry = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../bin/loamy.js")

describe("start-up", () => {
  it("the loamy executable turns on Node's compile cache, so later runs do not compile the command again", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "loamy-compile-cache-"))
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", TMPDIR: tmp }
      delete env["NODE_COMPILE_CACHE"]
      delete env["NODE_DISABLE_COMPILE_CACHE"]
      // A help request starts the command itself, even where dist/bundle/help.json would answer it.
      env["LOAMY_FULL_HELP"] = "1"
      const ran = spawnSync(process.execPath, [binEntry, "--help"], { env, encoding: "utf8", timeout: 60_000 })
      expect(ran.status, ran.stderr).toBe(0)
      expect(ran.stdout).toContain("loamy")
      // Node writes the cache under os.tmpdir() (TMPDIR here) as the process exits.
      const cache = path.join(tmp, "node-compile-cache")
      expect(fs.existsSync(cache)).toBe(true)
      const files = fs.readdirSync(cache, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile())
      expect(files.length).toBeGreaterThan(0)
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true })
    }
  }, 60_000)
})
