/**
 * Responses carrying each error class survive an encode to JSON and a decode
 * back, as the same classes: the trip out of the sync worker and into CLI output.
 */
import { Clump, LoamyError, type RequestMap, RequestResponse } from "@loamy/core"
import { Schema } from "effect"
import { describe, expect, it } from "vitest"

const requestMap: RequestMap.RequestMap = {
  url: "http://127.0.0.1:1/x",
  httpOp: "POST",
  body: { a: [1, { b: null }] },
  queryParams: { q: "1" },
  headers: { "X-A": "b" }
}
const common = { method: "POST", url: "http://127.0.0.1:1/x?q=1" }

const errors: ReadonlyArray<LoamyError.RequestError> = [
  new LoamyError.TransportError({ ...common, reason: "ConnectionRefused", code: "ECONNREFUSED", detail: "refused" }),
  new LoamyError.TransportError({ ...common, reason: "Unknown", detail: "no code" }),
  new LoamyError.InvalidRequestError({ ...common, detail: "bad" }),
  new LoamyError.TimeoutError({ ...common, timeoutMs: 250 }),
  new LoamyError.DeadlineError({ ...common, deadlineMs: 1000 }),
  new LoamyError.BodyDecodeError({ ...common, statusCode: 500, detail: "Unexpected token <" }),
  new LoamyError.BodyTooLargeError({ ...common, statusCode: 200, maxBodyBytes: 10 }),
  new LoamyError.RedirectError({ ...common, reason: "Loop", redirects: 1, location: "http://127.0.0.1:1/x" }),
  new LoamyError.RedirectError({ ...common, reason: "TooMany", redirects: 10 })
]

describe("schema round-trip", () => {
  it("encodes responses with every error class to JSON and decodes them back into the same classes", () => {
    const responses: Array<RequestResponse.RequestResponse> = errors.map((error, i) => ({
      requestMap,
      statusCode: i,
      body: i % 2 === 0 ? { text: "<html>" } : null,
      headers: { "content-type": "text/html" },
      error,
      elapsedMs: 1.5,
      attempts: 2
    }))
    responses.push({ requestMap, statusCode: 200, body: { ok: true }, headers: {}, elapsedMs: 0, attempts: 1 })
    const json = JSON.stringify(RequestResponse.encodeArray(responses))
    const wire = JSON.parse(json) as Array<{ error?: { _tag: string } }>
    expect(wire.map((r) => r.error?._tag)).toEqual([...errors.map((e) => e._tag), undefined])
    const decoded = RequestResponse.decodeArray(JSON.parse(json))
    expect(decoded).toHaveLength(responses.length)
    decoded.forEach((response, i) => {
      const original = responses[i]!
      expect(response.requestMap).toEqual(requestMap)
      expect(response.statusCode).toBe(original.statusCode)
      expect(response.body).toEqual(original.body)
      expect(response.attempts).toBe(original.attempts)
      if (original.error === undefined) {
        expect(response.error).toBeUndefined()
        return
      }
      expect(response.error).toBeInstanceOf(original.error.constructor)
      expect(LoamyError.isRequestError(response.error)).toBe(true)
      expect(response.error).toEqual(original.error)
      expect(response.error!.message).toBe(original.error.message)
    })
  })

  it("messages name the method, origin and path, never the query string", () => {
    for (const error of errors) {
      expect(error.message).toContain("POST http://127.0.0.1:1/x")
      expect(error.message).not.toContain("q=1")
      // Nor does the error's own field, nor its JSON (the full URL is in the response's requestMap).
      expect(error.url).toBe("http://127.0.0.1:1/x")
      expect(JSON.stringify(error)).not.toContain("q=1")
    }
  })

  it("InvalidInputError and InvalidOptionsError round-trip too", () => {
    const input = new LoamyError.InvalidInputError({ index: 3, field: "headers.X", detail: "bad" })
    const back = Schema.decodeUnknownSync(LoamyError.InvalidInputError)(
      JSON.parse(JSON.stringify(Schema.encodeSync(LoamyError.InvalidInputError)(input)))
    )
    expect(back).toBeInstanceOf(LoamyError.InvalidInputError)
    expect(back.message).toBe("Invalid request at index 3, field headers.X: bad")
    const options = new Clump.InvalidOptionsError({ option: "timeout", detail: "must be positive" })
    const again = Schema.decodeUnknownSync(Clump.InvalidOptionsError)(Schema.encodeSync(Clump.InvalidOptionsError)(options))
    expect(again).toBeInstanceOf(Clump.InvalidOptionsError)
  })

  it("refuses a response whose error is not one of loamy's", () => {
    const bad = [{ requestMap, statusCode: 0, body: null, headers: {}, error: { _tag: "Nope" }, elapsedMs: 0, attempts: 1 }]
    expect(() => RequestResponse.decodeArray(bad)).toThrow()
  })
})
