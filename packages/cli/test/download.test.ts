/**
 * `loamy send --save-dir DIR --save-name TEMPLATE` and a request's `saveTo`:
 * bodies written to files by the real executable, records with `saved`,
 * and a run cut mid-body resumed with a `Range` request by `--resume
 * --retry-failed`, against a loopback server that implements ranges.
 */
import { RequestResponse } from "@loamy/core"
import * as Schema from "effect/Schema"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RangeServer, sha256Of, startRangeServer } from "@loamy/test-kit"
import { bin, jsonl, loamy, records, spawnLoamy } from "./helpers.js"

let server: RangeServer
let dir: string
beforeAll(async () => {
  server = await startRangeServer()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "loamy-cli-dl-"))
})
afterAll(async () => {
  await server.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

const fresh = (name: string) => {
  const out = path.join(dir, name)
  fs.rmSync(out, { recursive: true, force: true })
  return out
}

describe("loamy send --save-dir", () => {
  it("writes each 2xx body to its file, named by --save-name or the request's options.saveTo; records carry saved", async () => {
    const out = fresh("files")
    fs.mkdirSync(out)
    const input = fresh("in.jsonl")
    fs.writeFileSync(input, jsonl([
      { url: `${server.url}/bytes/150000?seed=1`, httpOp: "GET" },
      { url: `${server.url}/status/404`, httpOp: "GET" },
      { url: `${server.url}/bytes/777?seed=2`, http_op: "GET", options: { saveTo: "own.bin" } }
    ]))
    const ran = await loamy(["send", "-q", "--ordered", "--save-dir", out, "--save-name", "{index}-{name}.bin", input])
    expect(ran.stderr).toBe("")
    expect(ran.code).toBe(0)
    const lines = records(ran.stdout)
    expect(lines[0]!["saved"]).toEqual({
      path: path.join(out, "0-150000.bin"),
      bytes: 150000,
      sha256: sha256Of(150000, 1)
    })
    expect(lines[0]!["body"]).toBeNull()
    expect(lines[1]!["statusCode"]).toBe(404)
    expect(lines[1]!["body"]).toEqual({ status: 404 })
    expect(lines[1]!["saved"]).toBeUndefined()
    expect(lines[2]!["saved"]).toEqual({ path: path.join(out, "own.bin"), bytes: 777, sha256: sha256Of(777, 2) })
    expect(lines[2]!["requestMap"]["options"]["saveTo"]).toBe("own.bin")
    expect(fs.readdirSync(out).sort()).toEqual(["0-150000.bin", "own.bin"])
    // The records are RequestResponse's own encoding: they decode, saved included.
    const decoded = Schema.decodeUnknownSync(RequestResponse.RequestResponse)(lines[0])
    expect(decoded.saved?.sha256).toBe(sha256Of(150000, 1))
  }, 60_000)

  it("a directory that is not there is each request's DownloadError (exit 1); a bad --save-name is a usage error", async () => {
    const input = fresh("in2.jsonl")
    fs.writeFileSync(input, jsonl([{ url: `${server.url}/bytes/10`, httpOp: "GET" }]))
    const missing = path.join(dir, "nowhere")
    const ran = await loamy(["send", "-q", "--save-dir", missing, input])
    expect(ran.code).toBe(1)
    expect(records(ran.stdout)[0]!["error"]).toMatchObject({ _tag: "DownloadError", reason: "Write", code: "ENOENT" })
    const usage = await loamy(["send", "-q", "--save-dir", dir, "--save-name", "same.bin", input])
    expect(usage.code).toBe(2)
    expect(usage.stderr).toContain("--save-name")
  }, 60_000)

  it("a run cut mid-body is resumed by --resume --retry-failed with a Range request, the hash over the whole file", async () => {
    const out = fresh("resumed")
    fs.mkdirSync(out)
    const input = fresh("in3.jsonl")
    const results = fresh("out3.jsonl")
    const size = 2_000_000
    fs.writeFileSync(input, jsonl([{ url: `${server.url}/bytes/${size}?cut=900000&seed=7`, httpOp: "GET" }]))
    const first = await loamy(["send", "-q", "--save-dir", out, "--resume", results, input])
    expect(first.code).toBe(1)
    expect(records(fs.readFileSync(results, "utf8"))[0]!["error"]["_tag"]).toBe("TransportError")
    expect(fs.existsSync(path.join(out, "0"))).toBe(false)
    const partial = fs.statSync(path.join(out, "0.loamy-part")).size
    expect(partial).toBeGreaterThan(0)
    const second = await loamy(["send", "-q", "--save-dir", out, "--resume", results, "--retry-failed", input])
    expect(second.code).toBe(0)
    expect(server.log.at(-1)).toMatchObject({ range: `bytes=${partial}-`, ifRange: `"${size}-7"` })
    const [record] = records(fs.readFileSync(results, "utf8"))
    expect(record!["statusCode"]).toBe(206)
    expect(record!["saved"]).toEqual({ path: path.join(out, "0"), bytes: size, sha256: sha256Of(size, 7) })
    expect(fs.readdirSync(out)).toEqual(["0"])
  }, 60_000)
})

describe("a crash mid-download", () => {
  it("SIGKILL leaves only NAME.loamy-part, never NAME; the next run resumes it with Range to the whole file", async () => {
    const out = fresh("killed")
    fs.mkdirSync(out)
    const input = fresh("in4.jsonl")
    const results = fresh("out4.jsonl")
    const size = 3_000_000
    fs.writeFileSync(input, jsonl([{ url: `${server.url}/bytes/${size}?stall=1200000&seed=11`, httpOp: "GET" }]))
    const { child, exited } = spawnLoamy(["send", "-q", "--save-dir", out, "--resume", results, input])
    const part = path.join(out, "0.loamy-part")
    // The server stops at 1,200,000 bytes and holds the connection: wait until they are all on disk.
    const until = Date.now() + 30_000
    while (!(fs.existsSync(part) && fs.statSync(part).size === 1_200_000)) {
      if (Date.now() > until) throw new Error("the partial file did not reach 1200000 bytes")
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    child.kill("SIGKILL")
    await exited
    // The partial file and its validator (the ETag, for If-Range); nothing under the file's own name.
    expect(fs.readdirSync(out).sort()).toEqual(["0.loamy-part", "0.loamy-part.json"])
    const again = await loamy(["send", "-q", "--save-dir", out, "--resume", results, input])
    expect(again.code).toBe(0)
    expect(server.log.at(-1)).toMatchObject({ range: "bytes=1200000-", ifRange: `"${size}-11"` })
    const [record] = records(fs.readFileSync(results, "utf8"))
    expect(record!["saved"]).toEqual({ path: path.join(out, "0"), bytes: size, sha256: sha256Of(size, 11) })
    expect(fs.readdirSync(out)).toEqual(["0"])
  }, 90_000)
})

describe("a write that fails mid-body", () => {
  it("is that request's DownloadError (Write, EFBIG under a file size limit), and the other requests are saved", async () => {
    const out = fresh("limited")
    fs.mkdirSync(out)
    const input = fresh("in5.jsonl")
    fs.writeFileSync(input, jsonl([
      { url: `${server.url}/bytes/400000?seed=12`, httpOp: "GET" },
      { url: `${server.url}/bytes/2000?seed=13`, httpOp: "GET" }
    ]))
    // A file size limit of 100 blocks of 512 bytes, SIGXFSZ ignored: a write past it fails with EFBIG, as a write
    // to a full disk fails with ENOSPC. stdout is a pipe, which the limit does not touch.
    const script = `trap '' XFSZ; ulimit -f 100; exec "$0" "$@"`
    const ran = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
      const child = spawn("sh", ["-c", script, process.execPath, bin, "send", "-q", "--ordered", "--save-dir", out, input], {
        stdio: ["ignore", "pipe", "inherit"]
      })
      let stdout = ""
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
      child.on("error", reject)
      child.on("close", (code) => resolve({ code, stdout }))
    })
    expect(ran.code).toBe(1)
    const [big, small] = records(ran.stdout)
    expect(big!["error"]).toMatchObject({ _tag: "DownloadError", reason: "Write", code: "EFBIG", path: path.join(out, "0") })
    expect(small!["saved"]).toEqual({ path: path.join(out, "1"), bytes: 2000, sha256: sha256Of(2000, 13) })
    expect(fs.existsSync(path.join(out, "0"))).toBe(false)
  }, 60_000)
})

describe("loamy send --help", () => {
  it("shows --save-dir and --save-name, and a downloads example", async () => {
    const ran = await loamy(["send", "--help"])
    expect(ran.stdout).toContain("--save-dir DIR")
    expect(ran.stdout).toContain("--save-name TEMPLATE")
    expect(ran.stdout).toContain("Downloads: \"loamy send --save-dir files")
  }, 60_000)
})
