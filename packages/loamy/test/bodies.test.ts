/**
 * Request bodies that are not JSON (issue 21, item 1): `text`, `form`,
 * `bytes` and `multipart` arrive at a real server on 127.0.0.1 as real
 * parsers read them (the web `Request.formData()` for multipart,
 * `URLSearchParams` for forms), at every door, with the right Content-Type
 * unless the request names one; `body` keeps its JSON meaning; a file that
 * cannot be read is that request's `RequestBodyError`; a bad body is refused
 * with its index and field.
 */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Clump as CoreClump } from "@loamy/core"
import { Effect, Stream } from "effect"
import { InvalidInputError, RequestBodyError } from "loamy"
import * as UndiciHttpClient from "loamy/UndiciHttpClient"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { testing } from "../dist/internal/sync.js"
import { doors } from "./doorList.js"
import { type RemoteServer, startRemote } from "./helpers.js"

let server: RemoteServer
let dir: string
beforeAll(async () => {
  server = await startRemote()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "loamy-bodies-"))
})
afterAll(async () => {
  await testing.stop()
  await server.close()
  fs.rmSync(dir, { recursive: true, force: true })
})

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")
const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i)

interface Parsed {
  readonly method: string
  readonly contentType: string | null
  readonly text?: string
  readonly form?: ReadonlyArray<readonly [string, string]>
  readonly base64?: string
  readonly parts?: ReadonlyArray<Record<string, unknown>>
}

describe("bodies that are not JSON", () => {
  for (const [door, send] of doors) {
    it(`text, form, bytes and multipart arrive as real parsers read them, typed unless the request says (${door})`, async () => {
      const file = path.join(dir, `upload-${door}.csv`)
      const fileBytes = Buffer.from("id,name\n1,ünïcode\n".repeat(2_000))
      fs.writeFileSync(file, fileBytes)
      const url = `${server.url}/parse`
      const responses = await send([
        { url, httpOp: "POST", text: "héllo\nworld, not \"JSON\"" },
        { url, httpOp: "POST", form: { a: "1", b: ["x y", "z&=?"], ü: "ß/+" } },
        { url, httpOp: "PUT", bytes: allBytes },
        {
          url,
          httpOp: "POST",
          multipart: [
            { name: "title", value: "Q3 ünïcode" },
            { name: "report", path: file },
            { name: "raw", bytes: allBytes, filename: "raw.bin", contentType: "image/png" }
          ]
        },
        { url, httpOp: "POST", text: "a,b\n1,2\n", headers: { "Content-Type": "text/csv" } },
        { url, httpOp: "POST", body: "a string" },
        { url, httpOp: "POST", form: { q: "1" }, headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8" } },
        // A multipart type without the boundary could not be read: the client's own type wins.
        { url, httpOp: "POST", multipart: [{ name: "a", value: "1" }], headers: { "Content-Type": "multipart/form-data" } }
      ])
      for (const response of responses) expect(response.error, door).toBeUndefined()
      const bodies = responses.map((r) => r.body as Parsed)
      expect(bodies[0]).toMatchObject({ contentType: "text/plain; charset=utf-8", text: "héllo\nworld, not \"JSON\"" })
      expect(bodies[1]!.contentType).toBe("application/x-www-form-urlencoded")
      expect(bodies[1]!.form).toEqual([["a", "1"], ["b", "x y"], ["b", "z&=?"], ["ü", "ß/+"]])
      expect(bodies[2]).toMatchObject({ method: "PUT", contentType: "application/octet-stream" })
      expect(Buffer.from(bodies[2]!.base64!, "base64")).toEqual(Buffer.from(allBytes))
      expect(bodies[3]!.contentType).toMatch(/^multipart\/form-data; boundary=/)
      expect(bodies[3]!.parts).toEqual([
        { name: "title", value: "Q3 ünïcode" },
        {
          name: "report",
          filename: `upload-${door}.csv`,
          type: "application/octet-stream",
          size: fileBytes.length,
          sha256: sha256(fileBytes)
        },
        { name: "raw", filename: "raw.bin", type: "image/png", size: 256, sha256: sha256(allBytes) }
      ])
      expect(bodies[4]).toMatchObject({ contentType: "text/csv", text: "a,b\n1,2\n" })
      // `body` keeps its meaning: a JSON value, quoted.
      expect(bodies[5]!.contentType).toBe("application/json")
      expect(Buffer.from(bodies[5]!.base64!, "base64").toString()).toBe("\"a string\"")
      expect(bodies[6]).toMatchObject({
        contentType: "application/x-www-form-urlencoded; charset=utf-8",
        form: [["q", "1"]]
      })
      expect(bodies[7]!.contentType).toMatch(/^multipart\/form-data; boundary=/)
      expect(bodies[7]!.parts).toEqual([{ name: "a", value: "1" }])
    })

    it(`a multipart file that cannot be read is that request's RequestBodyError; the others go on (${door})`, async () => {
      await server.reset()
      const url = `${server.url}/parse?token=s3cret-value`
      const responses = await send([
        { url, httpOp: "POST", multipart: [{ name: "a", value: "1" }, { name: "f", path: path.join(dir, "missing.txt") }] },
        { url, httpOp: "POST", multipart: [{ name: "d", path: dir }] },
        { url, httpOp: "POST", text: "fine" }
      ], { retry: { attempts: 2, baseDelay: 1 } })
      expect(responses[0]!.error).toBeInstanceOf(RequestBodyError)
      expect(responses[0]!.error).toMatchObject({ _tag: "RequestBodyError", field: "multipart[1].path", method: "POST" })
      expect((responses[0]!.error as RequestBodyError).detail).toContain("missing.txt")
      expect(responses[1]!.error).toMatchObject({ _tag: "RequestBodyError", field: "multipart[0].path" })
      expect((responses[1]!.error as RequestBodyError).detail).toContain("is not a file")
      expect(responses[2]!.error).toBeUndefined()
      for (const response of responses.slice(0, 2)) {
        expect(response.statusCode).toBe(0)
        expect(response.error!.message).not.toContain("s3cret")
      }
      // Nothing of the unreadable requests was sent.
      expect((await server.stats()).requests).toBe(1)
    })
  }
})

describe("bad bodies are refused with the index and the field, before anything is sent", () => {
  const url = "http://127.0.0.1:9/x?token=s3cret-value"
  const cases: ReadonlyArray<readonly [Record<string, unknown>, string, RegExp]> = [
    [{ body: { a: 1 }, text: "x" }, "text", /body is given already/],
    [{ text: "x", form: { a: "1" } }, "form", /text is given already/],
    [{ text: 5 }, "text", /must be a string/],
    [{ form: { a: 1 } }, "form.a", /must be a string or an array of strings/],
    [{ form: { a: ["1", 2] } }, "form.a[1]", /must be a string/],
    [{ form: "a=1" }, "form", /must be an object/],
    [{ bytes: "not base64!" }, "bytes", /not base64/],
    [{ bytes: [1, 2] }, "bytes", /must be a Uint8Array, an ArrayBuffer or base64 text/],
    [{ multipart: { a: "1" } }, "multipart", /must be an array of parts/],
    [{ multipart: [{ name: "a", value: "1", path: "/etc/hosts" }] }, "multipart[0]", /exactly one of value, path and bytes/],
    [{ multipart: [{ value: "1" }] }, "multipart[0].name", /must be a string/],
    [{ multipart: [{ name: "a", path: "" }] }, "multipart[0].path", /must be a file's path/],
    [{ multipart: [{ name: "a", bytes: "AA==", contentType: "a\r\nb" }] }, "multipart[0].contentType", /./],
    [{ multipart: [{ name: "a", value: "1", filename: "x" }] }, "multipart[0]", /has no filename/],
    [{ multipart: [{ name: "a", value: "1", size: 3 }] }, "multipart[0].size", /unknown field/],
    [{ body: new Uint8Array([1]) }, "body", /bytes are sent with the bytes field/],
    [{ body: new FormData() }, "body", /multipart/]
  ]
  for (const [door, send] of doors) {
    it(`at the ${door} door`, async () => {
      for (const [fields, field, detail] of cases) {
        const requests = [{ url: `${server.url}/`, httpOp: "GET" as const }, { url, httpOp: "POST" as const, ...fields }]
        const error = await send(requests as never).then(() => undefined, (e: unknown) => e)
        expect(error, `${door} ${JSON.stringify(fields)}`).toBeInstanceOf(InvalidInputError)
        expect(error, `${door} ${JSON.stringify(fields)}`).toMatchObject({ index: 1, field })
        expect((error as InvalidInputError).detail).toMatch(detail)
        expect((error as InvalidInputError).message).not.toContain("s3cret")
      }
    })
  }
})

describe("the Effect door's streams", () => {
  it("streamFrom reads JSONL text with form, base64 bytes, multipart and relative urls, refusing a bad line", async () => {
    const file = path.join(dir, "streamed.txt")
    fs.writeFileSync(file, "streamed file")
    const lines = [
      JSON.stringify({ url: "/parse", httpOp: "POST", form: { a: "1", b: ["2", "3"] } }),
      JSON.stringify({ url: "parse", httpOp: "PUT", bytes: Buffer.from(allBytes).toString("base64") }),
      JSON.stringify({ url: "/parse", httpOp: "POST", multipart: [{ name: "f", path: file }, { name: "v", value: "x" }] }),
      JSON.stringify({ url: "/parse", httpOp: "POST", bytes: "%%%" })
    ]
    const out = await Effect.runPromise(
      Stream.runCollect(CoreClump.streamFrom(Stream.fromIterable(lines), { baseUrl: server.url, ordered: true })).pipe(
        Effect.provide(UndiciHttpClient.layer)
      )
    )
    const responses = [...out].map((item) => item.response)
    expect((responses[0]!.body as Parsed).form).toEqual([["a", "1"], ["b", "2"], ["b", "3"]])
    expect(Buffer.from((responses[1]!.body as Parsed).base64!, "base64")).toEqual(Buffer.from(allBytes))
    expect((responses[2]!.body as Parsed).parts).toEqual([
      { name: "f", filename: "streamed.txt", type: "application/octet-stream", size: 13, sha256: sha256(Buffer.from("streamed file")) },
      { name: "v", value: "x" }
    ])
    expect(responses[3]!.error).toMatchObject({ _tag: "InvalidInputError", index: 3, field: "bytes" })
  })
})
