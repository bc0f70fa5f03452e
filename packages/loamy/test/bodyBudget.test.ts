/**
 * The whole call's body budget (`bodyBudget`): bytes of bodies held at once, on loamy's own undici layer (whose
 * bounded read counts them itself) at the Promise door. Servers on 127.0.0.1 in this process; the memory test runs
 * the door in a child process and reads its peak RSS.
 */
import { execFile } from "node:child_process"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { fileURLToPath } from "node:url"
import * as zlib from "node:zlib"
import { sendRequests } from "loamy"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

/** About 3 KB of brotli that inflates to 1 GiB of zeros, made by streaming (the zeros are never held). */
const makeBomb = (bytes: number): Promise<Buffer> =>
  new Promise((resolve, reject) => {
    const stream = zlib.createBrotliCompress({ params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } })
    const out: Array<Buffer> = []
    stream.on("data", (chunk: Buffer) => out.push(chunk))
    stream.on("end", () => resolve(Buffer.concat(out)))
    stream.on("error", reject)
    const zeros = Buffer.alloc(1024 * 1024)
    let left = bytes
    const pump = () => {
      let more = true
      while (left > 0 && more) {
        left -= zeros.length
        more = stream.write(zeros)
      }
      if (left > 0) stream.once("drain", pump)
      else stream.end()
    }
    pump()
  })

let bomb: Buffer
let server: http.Server
let url: string
/** Bodies of /held?bytes=N that were written whole, and /stuck ones that are held open. */
const stuck = new Set<http.ServerResponse>()

beforeAll(async () => {
  bomb = await makeBomb(1024 * 1024 * 1024)
  server = http.createServer((req, res) => {
    const path = new URL(req.url!, "http://x").pathname
    const bytes = Number(new URL(req.url!, "http://x").searchParams.get("bytes") ?? "0")
    if (path === "/bomb") {
      res.writeHead(200, { "content-type": "application/json", "content-encoding": "br", "content-length": bomb.length })
      return void res.end(bomb)
    }
    // A JSON string of `bytes` bytes, chunked (no content-length): read chunk by chunk.
    res.writeHead(200, { "content-type": "application/json" })
    res.write("\"")
    res.write("x".repeat(Math.max(0, bytes - 2)))
    if (path === "/stuck") {
      // Holds the rest back until the client gives up on it.
      stuck.add(res)
      res.on("close", () => stuck.delete(res))
      return
    }
    res.end("\"")
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}, 60_000)

afterAll(async () => {
  for (const res of stuck) res.destroy()
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

const fixture = fileURLToPath(new URL("./fixtures/bombs.mjs", import.meta.url))

const runChild = (args: ReadonlyArray<string>) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = execFile(process.execPath, [fixture, ...args], { timeout: 170_000, maxBuffer: 1 << 24 }, (_e, stdout, stderr) =>
      resolve({ code: child.exitCode, stdout, stderr }))
  })

const MiB = 1024 * 1024

describe("bodyBudget", () => {
  it("100 brotli bombs at the Promise door with default options stay within a few hundred MB", async () => {
    // Before the budget, each of the 100 reads held up to maxBodyBytes (64 MiB) at once: gigabytes. The child
    // stops itself at 1.5 GB, so such a run ends early instead of taking the machine's memory.
    const { code, stderr, stdout } = await runChild([`${url}/bomb`, "100", String(1536 * MiB)])
    const report = JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as {
      aborted?: boolean
      rssBytes?: number
      maxRssBytes?: number
      outcomes?: Array<[number, string | null]>
    }
    expect(report.aborted, `RSS passed 1.5 GB: ${report.rssBytes} bytes`).toBeUndefined()
    expect(code, stderr).toBe(0)
    // Each bomb still gets its own typed result, with its status.
    expect(report.outcomes).toEqual(Array.from({ length: 100 }, () => [200, "BodyTooLargeError"]))
    expect(report.maxRssBytes!).toBeLessThan(512 * MiB)
  }, 180_000)

  it("reads that pass the budget together wait for each other and all finish whole", async () => {
    // 20 bodies of 300 KB, a budget of 1 MiB: at most about three are held at once, none fails for it.
    const responses = await sendRequests(
      Array.from({ length: 20 }, (_, i) => ({ url: `${url}/held?bytes=300000&i=${i}`, httpOp: "GET" as const })),
      { concurrency: 20, bodyBudget: MiB }
    )
    for (const response of responses) {
      expect(response.error).toBeUndefined()
      expect((response.body as string).length).toBe(299_998)
    }
  }, 60_000)

  it("a read waiting for the budget is bounded by its attempt's timeout", async () => {
    // The stuck body holds 200 KB of a 100 KB budget (it went past it: the one read allowed to) and never ends;
    // the others wait behind it until the timeout ends it, then finish. Nothing waits for ever.
    const responses = await sendRequests(
      [
        { url: `${url}/stuck?bytes=200000`, httpOp: "GET" as const },
        ...Array.from({ length: 5 }, (_, i) => ({ url: `${url}/held?bytes=150000&i=${i}`, httpOp: "GET" as const }))
      ],
      { concurrency: 6, bodyBudget: 100_000, timeout: 1_500 }
    )
    expect(responses[0]!.error?._tag).toBe("TimeoutError")
    expect(responses[0]!.statusCode).toBe(200)
    for (const response of responses.slice(1)) {
      // Each either finished whole once the stuck read let go, or was ended by its own timeout while waiting.
      if (response.error === undefined) expect((response.body as string).length).toBe(149_998)
      else expect([response.error._tag, response.statusCode]).toEqual(["TimeoutError", 200])
    }
  }, 30_000)
})
