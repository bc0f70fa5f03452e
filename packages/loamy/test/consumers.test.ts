import { execFile } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { start, type TestServer } from "@loamy/test-server"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

let server: TestServer
let dir: string
beforeAll(async () => {
  server = await start()
  // A project of its own with loamy in node_modules, as an installed package would be.
  dir = mkdtempSync(join(tmpdir(), "loamy-consumer-"))
  mkdirSync(join(dir, "node_modules"))
  symlinkSync(fileURLToPath(new URL("..", import.meta.url)), join(dir, "node_modules", "loamy"), "dir")
})
afterAll(async () => {
  await server.close()
  rmSync(dir, { recursive: true, force: true })
})

const run = (file: string, source: string) => {
  writeFileSync(join(dir, file), source)
  return new Promise<{ code: number | null; stdout: string; stderr: string; ms: number }>((resolve) => {
    const started = Date.now()
    const child = execFile(process.execPath, [file], { cwd: dir, env: { ...process.env, URL: server.url }, timeout: 30_000 }, (_error, stdout, stderr) =>
      resolve({ code: child.exitCode, stdout, stderr, ms: Date.now() - started }))
  })
}

const body = `
const requests = [{ url: process.env.URL + "/", httpOp: "GET" }, { url: process.env.URL + "/foo", http_op: "POST", body: {} }]
const sync = loamy.sendRequestsSync(requests)
const clump = new loamy.Clump(requests).sendRequests({ returnExceptions: true })
loamy.sendRequests(requests).then((async) => {
  console.log(JSON.stringify([sync, clump, async].map((rs) => rs.map((r) => r.statusCode))))
})
`

describe("consumers", () => {
  it("works from require() in a plain .cjs script, and the process exits by itself", async () => {
    const result = await run("consumer.cjs", `const loamy = require("loamy")\n${body}`)
    expect(result.stderr.replace(/.*ExperimentalWarning.*\n?|.*--trace-warnings.*\n?/g, "")).toBe("")
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual([[200, 200], [200, 200], [200, 200]])
  })

  it("works from import in a plain .mjs script, and the process exits by itself", async () => {
    const result = await run("consumer.mjs", `import * as loamy from "loamy"\n${body}`)
    expect(result.stderr).toBe("")
    expect(result.code).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual([[200, 200], [200, 200], [200, 200]])
  })
})
