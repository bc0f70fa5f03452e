/**
 * Downloads (`options.saveTo`, `saveDir`/`saveName`): bodies streamed to files at
 * every door, against a loopback server that generates its bytes and
 * implements `Range` (206, 416, `If-Range`), cuts connections mid-body, and
 * logs what it was asked.
 */
import { Clump as CoreClump, RequestResponse as CoreResponse } from "@loamy/core"
import { Transport } from "@loamy/core"
import { Effect } from "effect"
import * as Schema from "effect/Schema"
import { Clump, DownloadError, sendRequests, sendRequestsSync, streamRequests } from "loamy"
import * as UndiciHttpClient from "loamy/UndiciHttpClient"
import { createHash } from "node:crypto"
import { once } from "node:events"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs"
import { createServer, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { Agent } from "undici"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { testing } from "../dist/internal/sync.js"
import { chunkOf, type RangeServer, sha256Of, startRangeServer, startRemoteRangeServer } from "@loamy/test-kit"

let server: RangeServer
let dir: string
beforeAll(async () => {
  server = await startRangeServer()
  dir = mkdtempSync(join(tmpdir(), "loamy-dl-"))
})
afterAll(async () => {
  await testing.stop()
  await server.close()
  rmSync(dir, { recursive: true, force: true })
})

const fresh = (name: string) => {
  const out = join(dir, name)
  rmSync(out, { recursive: true, force: true })
  return out
}

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

describe("saveTo at the Promise door", () => {
  it("streams a 2xx body to the file and records its path, size and SHA-256; the body is null", async () => {
    const file = fresh("one.bin")
    const [response] = await sendRequests([{ url: `${server.url}/bytes/300000`, httpOp: "GET", options: { saveTo: file } }])
    expect(response!.error).toBeUndefined()
    expect(response!.statusCode).toBe(200)
    expect(response!.body).toBeNull()
    expect(response!.saved).toEqual({ path: file, bytes: 300000, sha256: sha256Of(300000) })
    expect(sha(readFileSync(file))).toBe(sha256Of(300000))
    expect(existsSync(file + ".loamy-part")).toBe(false)
    expect(response!.requestMap.options?.saveTo).toBe(file)
    // Asked as sent: a range counts the bytes on the wire.
    expect(server.log.at(-1)!.acceptEncoding).toBe("identity")
  })

  it("a small body (read with the headers) and an empty one are files too", async () => {
    const small = fresh("small.bin")
    const empty = fresh("empty.bin")
    const responses = await sendRequests([
      { url: `${server.url}/bytes/10`, httpOp: "GET", options: { saveTo: small } },
      { url: `${server.url}/bytes/0`, httpOp: "GET", options: { saveTo: empty } }
    ])
    expect(responses[0]!.saved).toEqual({ path: small, bytes: 10, sha256: sha256Of(10) })
    expect(readFileSync(small)).toEqual(chunkOf(0, 10, 0))
    expect(responses[1]!.saved).toEqual({ path: empty, bytes: 0, sha256: sha256Of(0) })
    expect(statSync(empty).size).toBe(0)
  })

  it("a non-2xx answer is read into memory as usual and writes no file", async () => {
    const file = fresh("missing.bin")
    const [response] = await sendRequests([{ url: `${server.url}/status/404`, httpOp: "GET", options: { saveTo: file } }])
    expect(response!.statusCode).toBe(404)
    expect(response!.body).toEqual({ status: 404 })
    expect(response!.saved).toBeUndefined()
    expect(existsSync(file)).toBe(false)
    expect(existsSync(file + ".loamy-part")).toBe(false)
  })

  it("a directory that is not there is that request's DownloadError (Write, ENOENT); the others are saved", async () => {
    const good = fresh("good.bin")
    const bad = join(dir, "no-such-dir", "x.bin")
    const responses = await sendRequests([
      { url: `${server.url}/bytes/200000`, httpOp: "GET", options: { saveTo: bad } },
      { url: `${server.url}/bytes/1000`, httpOp: "GET", options: { saveTo: good } }
    ])
    const error = responses[0]!.error
    expect(error).toBeInstanceOf(DownloadError)
    expect(error).toMatchObject({ _tag: "DownloadError", reason: "Write", code: "ENOENT", path: bad })
    expect(responses[0]!.saved).toBeUndefined()
    expect(responses[1]!.saved?.bytes).toBe(1000)
  })

  it("maxBodyBytes bounds a download: a larger body is a BodyTooLargeError and leaves no file", async () => {
    const declared = fresh("declared.bin")
    const [response] = await sendRequests(
      [{ url: `${server.url}/bytes/500000`, httpOp: "GET", options: { saveTo: declared } }],
      { maxBodyBytes: 100_000 }
    )
    expect(response!.error?._tag).toBe("BodyTooLargeError")
    expect(existsSync(declared)).toBe(false)
    expect(existsSync(declared + ".loamy-part")).toBe(false)
  })

  it("a request's own maxBodyBytes (its options) bounds its download, the call's bounds the others", async () => {
    const own = fresh("own-limit.bin")
    const other = fresh("call-limit.bin")
    const responses = await sendRequests([
      { url: `${server.url}/bytes/50000?seed=8`, httpOp: "GET", options: { saveTo: own, maxBodyBytes: 10_000 } },
      { url: `${server.url}/bytes/50000?seed=8`, httpOp: "GET", options: { saveTo: other } }
    ])
    expect(responses[0]!.error).toMatchObject({ _tag: "BodyTooLargeError", maxBodyBytes: 10_000 })
    expect(existsSync(own)).toBe(false)
    expect(responses[1]!.saved?.bytes).toBe(50000)
  })

  it("two requests of a call never write one file at once: the second is a DownloadError (EBUSY)", async () => {
    const file = fresh("shared.bin")
    const responses = await sendRequests([
      { url: `${server.url}/bytes/3000000?seed=9`, httpOp: "GET", options: { saveTo: file } },
      { url: `${server.url}/bytes/3000000?seed=10`, httpOp: "GET", options: { saveTo: file } }
    ])
    const [first, second] = responses
    const saved = first!.saved === undefined ? second! : first!
    const refused = first!.saved === undefined ? first! : second!
    expect(refused.error).toMatchObject({ _tag: "DownloadError", code: "EBUSY", path: file })
    expect(sha(readFileSync(file))).toBe(saved.saved!.sha256)
  })

  it("saveDir and saveName name each request's file from its index or its URL", async () => {
    const out = fresh("named")
    await import("node:fs/promises").then((fs) => fs.mkdir(out))
    const responses = await sendRequests([
      { url: `${server.url}/bytes/1000?seed=1`, httpOp: "GET" },
      { url: `${server.url}/bytes/2000?seed=2`, httpOp: "GET", options: { saveTo: "own.bin" } }
    ], { saveDir: out, saveName: "{index}-{name}.bin" })
    expect(responses[0]!.saved).toEqual({ path: join(out, "0-1000.bin"), bytes: 1000, sha256: sha256Of(1000, 1) })
    expect(responses[1]!.saved).toEqual({ path: join(out, "own.bin"), bytes: 2000, sha256: sha256Of(2000, 2) })
    expect(readdirSync(out).sort()).toEqual(["0-1000.bin", "own.bin"])
  })

  it("a saveTo that is not a path is refused with the request's index and field options.saveTo", async () => {
    await expect(
      sendRequests([{ url: `${server.url}/bytes/1`, httpOp: "GET" }, { url: `${server.url}/bytes/1`, httpOp: "GET", options: { saveTo: "" } }])
    ).rejects.toMatchObject({ _tag: "InvalidInputError", index: 1, field: "options.saveTo" })
  })

  it("a saveName without {index} or {name}, or with an unknown field, is refused before anything is sent", async () => {
    await expect(sendRequests([], { saveDir: dir, saveName: "same.bin" })).rejects.toMatchObject({
      option: "saveName"
    })
    await expect(sendRequests([], { saveDir: dir, saveName: "{id}.bin" })).rejects.toMatchObject({
      option: "saveName"
    })
  })
})

describe("resuming", () => {
  it("a body cut mid-way leaves only the partial file; a re-run asks for the rest with Range and If-Range", async () => {
    const file = fresh("cut.bin")
    const size = 1_000_000
    const url = `${server.url}/bytes/${size}?cut=400000`
    const [first] = await sendRequests([{ url, httpOp: "GET", options: { saveTo: file } }])
    expect(first!.error?._tag).toBe("TransportError")
    expect(first!.saved).toBeUndefined()
    expect(existsSync(file)).toBe(false)
    const partial = statSync(file + ".loamy-part").size
    expect(partial).toBeGreaterThan(0)
    expect(partial).toBeLessThanOrEqual(400000)
    const [second] = await sendRequests([{ url, httpOp: "GET", options: { saveTo: file } }])
    expect(second!.error).toBeUndefined()
    expect(second!.statusCode).toBe(206)
    expect(server.log.at(-1)).toMatchObject({ range: `bytes=${partial}-`, ifRange: `"${size}-0"` })
    expect(second!.saved).toEqual({ path: file, bytes: size, sha256: sha256Of(size) })
    expect(sha(readFileSync(file))).toBe(sha256Of(size))
    expect(existsSync(file + ".loamy-part")).toBe(false)
    expect(existsSync(file + ".loamy-part.json")).toBe(false)
  })

  it("a body that stalls past the timeout is a TimeoutError; every byte written before it is in the partial file", async () => {
    const file = fresh("stalled.bin")
    const size = 900_000
    // The server sends 300,000 bytes and holds the connection open (the first time this URL is asked for).
    const url = `${server.url}/bytes/${size}?stall=300000&seed=3`
    const [first] = await sendRequests([{ url, httpOp: "GET", options: { saveTo: file } }], { timeout: "1s" })
    expect(first!.error?._tag).toBe("TimeoutError")
    expect(first!.statusCode).toBe(200)
    expect(existsSync(file)).toBe(false)
    // The attempt ends only once its write in flight has settled: nothing is written after it.
    expect(statSync(file + ".loamy-part").size).toBe(300000)
    const [second] = await sendRequests([{ url, httpOp: "GET", options: { saveTo: file } }])
    expect(second!.error).toBeUndefined()
    expect(server.log.at(-1)).toMatchObject({ range: "bytes=300000-" })
    expect(second!.saved).toEqual({ path: file, bytes: size, sha256: sha256Of(size, 3) })
  }, 30_000)

  it("a retry resumes within the same run", async () => {
    const file = fresh("retried.bin")
    const size = 600_000
    // The cut only hits a request that starts before it: the retry's range starts past it.
    const [response] = await sendRequests(
      [{ url: `${server.url}/bytes/${size}?cut=250000`, httpOp: "GET", options: { saveTo: file } }],
      { retry: { attempts: 2, baseDelay: 1 } }
    )
    expect(response!.error).toBeUndefined()
    expect(response!.attempts).toBe(2)
    expect(response!.saved?.sha256).toBe(sha256Of(size))
  })

  it("a server that ignores Range (200) is started over, and the hash covers the new file only", async () => {
    const file = fresh("norange.bin")
    writeFileSync(file + ".loamy-part", Buffer.from("stale bytes from another representation"))
    const [response] = await sendRequests([
      { url: `${server.url}/bytes/5000?norange=1&seed=3`, httpOp: "GET", options: { saveTo: file } }
    ])
    expect(server.log.at(-1)!.range).toBe("bytes=39-")
    expect(response!.statusCode).toBe(200)
    expect(response!.saved).toEqual({ path: file, bytes: 5000, sha256: sha256Of(5000, 3) })
    expect(readFileSync(file)).toEqual(chunkOf(0, 5000, 3))
  })

  it("If-Range with a stale ETag gets the whole body (200), not a range of another file", async () => {
    const file = fresh("changed.bin")
    writeFileSync(file + ".loamy-part", chunkOf(0, 100, 0))
    writeFileSync(file + ".loamy-part.json", JSON.stringify({ validator: "\"old\"" }))
    const [response] = await sendRequests([{ url: `${server.url}/bytes/3000?seed=4`, httpOp: "GET", options: { saveTo: file } }])
    expect(server.log.at(-1)).toMatchObject({ range: "bytes=100-", ifRange: "\"old\"" })
    expect(response!.statusCode).toBe(200)
    expect(response!.saved?.sha256).toBe(sha256Of(3000, 4))
  })

  it("a 206 that does not start where the file ends is a DownloadError (Range) and the partial file goes", async () => {
    const file = fresh("badrange.bin")
    writeFileSync(file + ".loamy-part", chunkOf(0, 100, 0))
    const [response] = await sendRequests([
      { url: `${server.url}/bytes/3000?badrange=1`, httpOp: "GET", options: { saveTo: file } }
    ])
    expect(response!.statusCode).toBe(206)
    expect(response!.error).toMatchObject({ _tag: "DownloadError", reason: "Range", path: file })
    expect(existsSync(file)).toBe(false)
    expect(existsSync(file + ".loamy-part")).toBe(false)
  })

  it("a request's own Range header is sent, and the 206 it gets is the file", async () => {
    const file = fresh("own-range.bin")
    const [response] = await sendRequests([
      { url: `${server.url}/bytes/10000`, httpOp: "GET", options: { saveTo: file }, headers: { Range: "bytes=0-999" } }
    ])
    expect(server.log.at(-1)!.range).toBe("bytes=0-999")
    expect(response!.statusCode).toBe(206)
    expect(response!.saved).toEqual({ path: file, bytes: 1000, sha256: sha(chunkOf(0, 1000, 0)) })
  })

  it("a 416 to a partial file that is already whole finishes it: hashed and renamed", async () => {
    const file = fresh("whole.bin")
    writeFileSync(file + ".loamy-part", chunkOf(0, 2048, 0))
    const [response] = await sendRequests([{ url: `${server.url}/bytes/2048`, httpOp: "GET", options: { saveTo: file } }])
    expect(response!.statusCode).toBe(416)
    expect(response!.error).toBeUndefined()
    expect(response!.saved).toEqual({ path: file, bytes: 2048, sha256: sha256Of(2048) })
  })

  it("a 416 to a partial file longer than the body removes it (a DownloadError, Range)", async () => {
    const file = fresh("toolong.bin")
    writeFileSync(file + ".loamy-part", chunkOf(0, 4000, 0))
    const [response] = await sendRequests([{ url: `${server.url}/bytes/2048`, httpOp: "GET", options: { saveTo: file } }])
    expect(response!.error).toMatchObject({ _tag: "DownloadError", reason: "Range" })
    expect(existsSync(file + ".loamy-part")).toBe(false)
  })
})

describe("saveTo at the Promise door's stream", () => {
  it("streamRequests saves each body, from an async source, with saveDir and a request's own saveTo", async () => {
    const out = fresh("streamed")
    await import("node:fs/promises").then((fs) => fs.mkdir(out))
    async function* source() {
      yield { url: `${server.url}/bytes/40000?seed=21`, httpOp: "GET" as const }
      yield { url: `${server.url}/bytes/50000?seed=22`, httpOp: "GET" as const, options: { saveTo: "mine.bin" } }
    }
    const seen: Array<unknown> = []
    for await (const { index, response } of streamRequests(source(), { saveDir: out, ordered: true })) {
      seen.push([index, "saved" in response ? response.saved : response.error])
    }
    expect(seen).toEqual([
      [0, { path: join(out, "0"), bytes: 40000, sha256: sha256Of(40000, 21) }],
      [1, { path: join(out, "mine.bin"), bytes: 50000, sha256: sha256Of(50000, 22) }]
    ])
  })
})

describe("saveTo at the Effect door", () => {
  it("Clump.send saves the body, and the response round-trips through RequestResponse's Schema", async () => {
    const file = fresh("effect.bin")
    const responses = await Effect.runPromise(
      CoreClump.send(CoreClump.make([{ url: `${server.url}/bytes/70000?seed=5`, httpOp: "GET", options: { saveTo: file } }]))
        .pipe(Effect.provide(UndiciHttpClient.layer))
    )
    const saved = { path: file, bytes: 70000, sha256: sha256Of(70000, 5) }
    expect(responses[0]!.saved).toEqual(saved)
    const encoded = CoreResponse.encodeArray(responses)
    const json = JSON.parse(JSON.stringify(encoded))
    expect(json[0].saved).toEqual(saved)
    expect(json[0].requestMap.options.saveTo).toBe(file)
    const decoded = CoreResponse.decodeArray(json)
    expect((decoded[0] as CoreResponse.RequestResponse).saved).toEqual(saved)
    // The error round-trips too, as its class.
    const error = new DownloadError({
      method: "GET",
      url: "http://x/?secret=1",
      path: file,
      reason: "Write",
      code: "ENOSPC",
      detail: "no space"
    })
    const back = Schema.decodeUnknownSync(CoreResponse.RequestResponse)(
      JSON.parse(JSON.stringify(Schema.encodeSync(CoreResponse.RequestResponse)({ ...responses[0]!, error })))
    )
    expect(back.error).toBeInstanceOf(DownloadError)
    expect(back.error).toMatchObject({ code: "ENOSPC", url: "http://x/" })
  })
})

describe("saveTo at the synchronous door", () => {
  it("sendRequestsSync and Clump save, resume and report saved across the worker", async () => {
    const child = await startRemoteRangeServer()
    try {
      const file = fresh("sync.bin")
      const url = `${child.url}/bytes/800000?cut=300000`
      const [first] = sendRequestsSync([{ url, httpOp: "GET", options: { saveTo: file } }])
      expect(first!.error?._tag).toBe("TransportError")
      expect(existsSync(file + ".loamy-part")).toBe(true)
      const [second] = new Clump([{ url, httpOp: "GET", options: { saveTo: file } }]).sendRequests()
      expect(second!.statusCode).toBe(206)
      expect(second!.saved).toEqual({ path: file, bytes: 800000, sha256: sha256Of(800000) })
      expect((await child.log()).at(-1)!.range).toMatch(/^bytes=\d+-$/)
      const bad = sendRequestsSync([{ url: `${child.url}/bytes/10`, httpOp: "GET", options: { saveTo: join(dir, "nope", "x") } }])
      expect(bad[0]!.error).toBeInstanceOf(DownloadError)
      const out = fresh("sync-dir")
      await import("node:fs/promises").then((fs) => fs.mkdir(out))
      const named = sendRequestsSync([{ url: `${child.url}/bytes/1234`, httpOp: "GET" }], {
        saveDir: out,
        saveName: "f{index}.bin"
      })
      expect(named[0]!.saved).toEqual({ path: join(out, "f0.bin"), bytes: 1234, sha256: sha256Of(1234) })
    } finally {
      await child.close()
    }
  }, 60_000)
})

describe("the transport's write path (Transport.BoundedBody.writeTo)", () => {
  // A body of `chunks` × 64 KiB, each written when the last one drained; `closed` settles when the response's
  // connection closes (the client abandoned it) or the body was all sent.
  const bodyServer = async (chunks: number) => {
    let finished: Promise<boolean> = Promise.resolve(false)
    const http = createServer((_, res: ServerResponse) => {
      res.writeHead(200, { "content-type": "application/octet-stream" })
      finished = new Promise((resolve) => {
        let sent = 0
        res.once("close", () => resolve(sent === chunks))
        const next = () => {
          while (sent < chunks) {
            sent++
            if (!res.write(Buffer.alloc(64 * 1024, sent % 251))) return void res.once("drain", next)
          }
          res.end()
        }
        next()
      })
    })
    http.listen(0, "127.0.0.1")
    await once(http, "listening")
    const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/`
    return { url, finished: () => finished, close: () => new Promise((resolve) => http.close(resolve)) }
  }
  const agent = new Agent()
  afterAll(() => agent.close())
  /** The body's `writeTo`, of a GET of `url` through loamy's undici client. */
  const writeToOf = async (url: string) => {
    const response = await Effect.runPromise(UndiciHttpClient.make(agent).get(url))
    const bounded = Transport.isBoundedResponse(response) ? response[Transport.BoundedResponseTypeId] : undefined
    if (bounded?.writeTo === undefined) throw new Error("the response offers no writeTo")
    return bounded.writeTo.bind(bounded)
  }

  it("hands the body over as it came, one chunk in flight until its write settles", async () => {
    const server = await bodyServer(64)
    try {
      const writeTo = await writeToOf(server.url)
      let inFlight = 0
      let most = 0
      let bytes = 0
      await Effect.runPromise(writeTo((chunk) => {
        inFlight++
        most = Math.max(most, inFlight)
        bytes += chunk.byteLength
        // Settled on a later turn, as a file write is: the body must not go on meanwhile.
        return new Promise((resolve) =>
          setImmediate(() => {
            inFlight--
            resolve(true)
          })
        )
      }))
      expect(bytes).toBe(64 * 64 * 1024)
      expect(most).toBe(1)
      expect(await server.finished()).toBe(true)
    } finally {
      await server.close()
    }
  }, 60_000)

  it("stops when the write says false: the rest is abandoned and the connection closed", async () => {
    // More than the socket buffers hold, so the server is still sending when the client stops.
    const server = await bodyServer(4096)
    try {
      const writeTo = await writeToOf(server.url)
      let writes = 0
      await Effect.runPromise(writeTo(() => {
        writes++
        return Promise.resolve(false)
      }))
      expect(writes).toBe(1)
      // Waits for the server to see its connection close before the body was all sent.
      expect(await server.finished()).toBe(false)
    } finally {
      await server.close()
    }
  }, 60_000)
})

describe("memory", () => {
  // The growth is V8's young generation and malloc's arenas filling up (about 50 to 90 MB whatever the size, as
  // for undici piped to a file without loamy): 256 MB makes buffering the body fail the bound.
  it("a 256 MB download grows RSS by less than half its size", async () => {
    const file = fresh("big.bin")
    const size = 256 * 1024 * 1024
    const child = await startRemoteRangeServer()
    try {
      globalThis.gc?.()
      const before = process.memoryUsage().rss
      let peak = before
      const timer = setInterval(() => {
        peak = Math.max(peak, process.memoryUsage().rss)
      }, 5)
      const [response] = await sendRequests([{ url: `${child.url}/bytes/${size}`, httpOp: "GET", options: { saveTo: file } }], {
        maxBodyBytes: size
      })
      clearInterval(timer)
      peak = Math.max(peak, process.memoryUsage().rss)
      expect(response!.error).toBeUndefined()
      expect(response!.saved?.bytes).toBe(size)
      expect(response!.saved?.sha256).toBe(sha256Of(size))
      expect(peak - before).toBeLessThan(size / 2)
    } finally {
      await child.close()
      rmSync(file, { force: true })
    }
  }, 120_000)
})
