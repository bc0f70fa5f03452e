/**
 * Runs every example as a user would (`node examples/X URL`), against the test server started in a process of
 * its own on 127.0.0.1 (the synchronous door cannot call a server on its own thread).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { createRequire } from "node:module"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const here = path.dirname(fileURLToPath(import.meta.url))
const run = promisify(execFile)
const serverMain = createRequire(import.meta.url).resolve("@loamy/test-server/main")
const loamyBin = path.resolve(here, "../packages/cli/bin/loamy.js")

let server: ChildProcess
let url: string

const example = async (file: string, command: string = process.execPath, args: ReadonlyArray<string> = [file]) => {
  try {
    const { stdout, stderr } = await run(command, [...args.map((a) => a === file ? path.join(here, file) : a), url], {
      cwd: here,
      env: { ...process.env, LOAMY: `${process.execPath} ${loamyBin}`, NO_COLOR: "1" },
      timeout: 100_000
    })
    return { stdout, stderr }
  } catch (error) {
    const e = error as { message: string; stdout?: string; stderr?: string }
    throw new Error(`${file} failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`)
  }
}

beforeAll(async () => {
  server = spawn(process.execPath, [serverMain, "--exit-with-stdin"], { stdio: ["pipe", "pipe", "inherit"] })
  url = await new Promise<string>((resolve, reject) => {
    let out = ""
    server.stdout!.setEncoding("utf8")
    server.stdout!.on("data", (chunk: string) => {
      out += chunk
      if (out.includes("\n")) resolve((JSON.parse(out.slice(0, out.indexOf("\n"))) as { url: string }).url)
    })
    server.on("exit", (code) => reject(new Error(`the test server exited (${code})`)))
  })
  expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
})

afterAll(() => {
  server?.kill()
})

describe("examples", () => {
  it("promise.mjs: the Promise door from an ES module", async () => {
    const { stdout } = await example("promise.mjs")
    expect(stdout.trim().split("\n")).toEqual([
      `GET / 200 {"message":"Hello, world!"}`,
      `POST /foo 200 {"foo":"bar"}`,
      expect.stringMatching(/^GET \/echo 200 \{"method":"GET"/),
      `GET /status/404 404 {"status":404}`,
      "GET /exception 500 BodyDecodeError"
    ])
  })

  it("forms.mjs: form, text, bytes and multipart bodies, a request's own timeout, baseUrl and failOn", async () => {
    const { stdout } = await example("forms.mjs")
    expect(stdout.trim().split("\n")).toEqual([
      `POST /parse application/x-www-form-urlencoded [["name","Ada Lovelace"],["tags","math"],["tags","engines"]]`,
      `POST /parse text/plain "hello, plain text"`,
      `PUT /parse application/octet-stream "AAEC/w=="`,
      `POST /parse multipart/form-data ["Q3","forms.mjs","raw.bin"]`,
      "GET /delay/2000 TimeoutError",
      "GET /status/503 HttpStatusError"
    ])
  })

  it("downloads.mjs: bodies to files under saveDir and a request's own saveTo, a 404 kept in memory", async () => {
    const { stdout } = await example("downloads.mjs")
    expect(stdout.trim().split("\n")).toEqual([
      expect.stringMatching(/^GET \/big-stream 200 saved 0-big-stream\.bin 5000000 bytes sha256 [0-9a-f]{12}$/),
      "GET /binary 200 saved all-bytes.bin 256 bytes sha256 40aff2e9d2d8",
      `GET /status/404 404 in memory: {"status":404}`,
      "0-big-stream.bin all-bytes.bin"
    ])
  })

  it("sync.cjs: the synchronous door from CommonJS", async () => {
    const { stdout } = await example("sync.cjs")
    expect(stdout.trim().split("\n")).toEqual([
      "GET / 200",
      "POST /foo 200",
      "GET /echo 200",
      "GET /status/404 404",
      "thrown: BodyDecodeError"
    ])
  })

  it("effect-stream.mjs: Clump.stream with Stream combinators, errors caught by tag", async () => {
    const { stdout } = await example("effect-stream.mjs")
    const lines = stdout.trim().split("\n")
    expect(lines).toHaveLength(4)
    for (const line of lines.slice(0, 3)) expect(line).toMatch(/^\d: 200 \{"delayed":\d+\}$/)
    expect(lines[3]).toBe("stopped by BodyDecodeError (status 500)")
  })

  it("opentelemetry.mjs: a loamy.send span with a loamy.request child per request", async () => {
    const { stdout } = await example("opentelemetry.mjs")
    const lines = stdout.trim().split("\n")
    expect(lines[0]).toBe("statuses 200 200 404")
    expect(lines).toContain("loamy.send requests=3")
    expect(lines).toContain("  loamy.request GET /")
    expect(lines).toContain("  loamy.request POST /foo")
    expect(lines).toContain("  loamy.request GET /status/404")
  })

  it("cli-batch.sh: loamy send on a batch file", async () => {
    const { stdout, stderr } = await example("cli-batch.sh", "bash", ["cli-batch.sh"])
    const records = stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, any>)
    expect(records.map((r) => [r["index"], r["statusCode"]])).toEqual([[0, 200], [1, 200], [2, 200], [3, 404], [4, 200]])
    expect(records[2]!["requestMap"].headers).toEqual({ Authorization: "<redacted>" })
    expect(records.every((r) => String(r["requestMap"].url).startsWith(url))).toBe(true)
    expect(stderr).toContain("5 requests")
  })
})
