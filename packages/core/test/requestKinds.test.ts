/**
 * Bodies beyond JSON, per-request options and the new errors (issue 21,
 * items 1, 3 and 5) round-trip through `RequestMap`'s and
 * `RequestResponse`'s Schema encoding as JSON: the trip across the sync
 * worker and into and out of JSONL. An ordinary request stays as lean as
 * before: none of the new fields is set on it.
 */
import { Clump, LoamyError, RequestMap, RequestResponse } from "@loamy/core"
import { start, type TestServer } from "@loamy/test-server"
import { Effect, Result, Schema } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { clients } from "./helpers.js"

const checked = (input: unknown, baseUrl?: string): RequestMap.RequestMap => {
  const result = RequestMap.validateAt(input, 0, { baseUrl })
  if (Result.isFailure(result)) throw result.failure
  return result.success
}

const bytes = Uint8Array.from({ length: 256 }, (_, i) => i)
const url = "http://127.0.0.1:1/upload"

const requests: ReadonlyArray<RequestMap.RequestMap> = [
  checked({ url, httpOp: "POST", text: "héllo" }),
  checked({ url, httpOp: "POST", form: { a: "1", b: ["2", "3"] } }),
  checked({ url, httpOp: "PUT", bytes }),
  checked({
    url,
    httpOp: "POST",
    multipart: [
      { name: "a", value: "1" },
      { name: "f", path: "/tmp/report.csv", contentType: "text/csv" },
      { name: "b", bytes, filename: "b.bin" }
    ]
  }),
  checked({
    url,
    httpOp: "GET",
    options: { timeout: "Infinity", retry: { attempts: 3, maxDelay: "Infinity", baseDelay: "10ms" }, maxBodyBytes: 100 }
  }),
  checked({ url: "/users/1", httpOp: "GET" }, "http://127.0.0.1:1/v2")
]

const encodeRequest = Schema.encodeSync(RequestMap.RequestMap)
const decodeRequest = Schema.decodeUnknownSync(RequestMap.RequestMap)

describe("the new request fields round-trip through the RequestMap schema", () => {
  it("as JSON: bytes as base64, Infinity durations as text, and back to the same request", () => {
    for (const request of requests) {
      const text = JSON.stringify(encodeRequest(request))
      expect(decodeRequest(JSON.parse(text))).toEqual({ ...request })
    }
    const wire = encodeRequest(requests[2]!) as { bytes: string }
    expect(Buffer.from(wire.bytes, "base64")).toEqual(Buffer.from(bytes))
    expect(JSON.parse(JSON.stringify(encodeRequest(requests[4]!)))).toMatchObject({
      options: { timeout: "Infinity", retry: { attempts: 3, maxDelay: "Infinity", baseDelay: 10 }, maxBodyBytes: 100 }
    })
    expect(requests[5]!.url).toBe("http://127.0.0.1:1/v2/users/1")
  })

  it("through Schema.toCodecJson (the cluster's storage), an absent field written as null comes back absent", () => {
    const codec = Schema.toCodecJson(RequestMap.RequestMap)
    for (const request of [checked({ url, httpOp: "GET" }), ...requests]) {
      const wire = JSON.parse(JSON.stringify(Schema.encodeSync(codec)(request)))
      const back = Schema.decodeUnknownSync(codec)(wire)
      expect(back.options).toEqual(request.options)
      expect(back.bytes).toEqual(request.bytes)
      expect(back.multipart).toEqual(request.multipart)
    }
  })

  it("toJsonable writes what the schema writes, and gives an ordinary request back as it is", () => {
    for (const request of requests) {
      expect(JSON.parse(JSON.stringify(RequestMap.toJsonable(request)))).toEqual(
        JSON.parse(JSON.stringify(encodeRequest(request)))
      )
    }
    const plain = checked({ url, httpOp: "GET" })
    expect(RequestMap.toJsonable(plain)).toBe(plain)
  })

  it("an ordinary request has none of the new fields: its keys are the ones it was given", () => {
    expect(Object.keys(checked({ url, httpOp: "GET" }))).toEqual(["url", "httpOp"])
    expect(Object.keys(checked({ url, httpOp: "POST", body: { a: 1 }, headers: { a: "b" } }))).toEqual([
      "url",
      "httpOp",
      "body",
      "headers"
    ])
  })

  it("a request decoded from the wire is checked: a bad field is refused", () => {
    expect(() => decodeRequest({ url, httpOp: "GET", bytes: "%%%" })).toThrow()
    expect(() => decodeRequest({ url, httpOp: "GET", options: { timeout: "soon" } })).toThrow(/options\.timeout/)
    expect(() => decodeRequest({ url, httpOp: "GET", multipart: [{ name: "a" }] })).toThrow()
  })
})

describe("the new errors round-trip through the RequestResponse schema", () => {
  it("HttpStatusError, RequestBodyError and AbortedError come back as their classes, with their fields", () => {
    const common = { method: "POST", url: "http://127.0.0.1:1/x" }
    const errors: ReadonlyArray<LoamyError.RequestError> = [
      new LoamyError.HttpStatusError({ ...common, statusCode: 503 }),
      new LoamyError.RequestBodyError({ ...common, field: "multipart[1].path", detail: "cannot read /nope" }),
      new LoamyError.AbortedError({ ...common, detail: "changed my mind" }),
      new LoamyError.AbortedError(common)
    ]
    const responses: Array<RequestResponse.RequestResponse> = errors.map((error, i) => ({
      requestMap: requests[i]!,
      statusCode: i === 0 ? 503 : 0,
      body: i === 0 ? { status: 503 } : null,
      headers: {},
      error,
      elapsedMs: 1,
      attempts: 1
    }))
    const back = RequestResponse.decodeArray(JSON.parse(JSON.stringify(RequestResponse.encodeArray(responses))))
    for (const [i, response] of back.entries()) {
      const error = errors[i]!
      expect(response.error).toBeInstanceOf(error.constructor)
      expect(response.error).toEqual(error)
      expect(response.error!.message).toBe(error.message)
      expect(response.requestMap).toEqual({ ...requests[i]! })
    }
    expect(LoamyError.isRequestError(back[0]!.error)).toBe(true)
  })

  it("messages show no secret of the URL", () => {
    const url = "http://user:pw@127.0.0.1:1/x?token=s3cret"
    for (const error of [
      new LoamyError.HttpStatusError({ method: "GET", url, statusCode: 500 }),
      new LoamyError.RequestBodyError({ method: "GET", url, field: "multipart[0].path", detail: "x" }),
      new LoamyError.AbortedError({ method: "GET", url })
    ]) {
      expect(error.message).not.toMatch(/s3cret|pw/)
    }
  })
})

describe("on the platform clients (no Transport: the engine races its own timer)", () => {
  let server: TestServer
  let dir: string
  beforeAll(async () => {
    server = await start()
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "loamy-core-kinds-"))
  })
  afterAll(async () => {
    await server.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  for (const [name, layer] of clients) {
    it(`bodies arrive as real parsers read them; a request's own timeout and failOn hold (${name})`, async () => {
      const file = path.join(dir, "f.txt")
      fs.writeFileSync(file, "from disk")
      const responses = await Effect.runPromise(
        Clump.send(Clump.make([
          { url: "/parse", httpOp: "POST", form: { a: "1", b: ["2", "3"] } },
          { url: "/parse", httpOp: "POST", text: "plain" },
          { url: "/parse", httpOp: "PUT", bytes },
          { url: "/parse", httpOp: "POST", multipart: [{ name: "v", value: "x" }, { name: "f", path: file }] },
          { url: "/delay/1500", httpOp: "GET", options: { timeout: "100ms" } },
          { url: "/status/502", httpOp: "GET" },
          { url: "/parse", httpOp: "POST", multipart: [{ name: "f", path: path.join(dir, "missing") }] }
        ], { baseUrl: server.url, timeout: "5s", failOn: "5xx" })).pipe(Effect.provide(layer))
      )
      const bodies = responses.map((r) => r.body as Record<string, unknown>)
      expect(bodies[0]!["form"]).toEqual([["a", "1"], ["b", "2"], ["b", "3"]])
      expect(bodies[1]).toMatchObject({ contentType: "text/plain; charset=utf-8", text: "plain" })
      expect(bodies[2]).toMatchObject({ contentType: "application/octet-stream", base64: Buffer.from(bytes).toString("base64") })
      expect(bodies[3]!["parts"]).toEqual([
        { name: "v", value: "x" },
        expect.objectContaining({ name: "f", filename: "f.txt", size: 9 })
      ])
      expect(responses[4]!.error).toMatchObject({ _tag: "TimeoutError", timeoutMs: 100 })
      expect(responses[5]!.error).toMatchObject({ _tag: "HttpStatusError", statusCode: 502 })
      expect(responses[6]!.error).toMatchObject({ _tag: "RequestBodyError", field: "multipart[0].path" })
    })
  }
})
