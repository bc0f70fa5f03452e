/**
 * The routes for HTTP-correctness tests: compressed bodies, charsets, binary
 * bodies, repeated headers, a second origin and a stall before the headers.
 * Checked byte by byte with plain undici, which decodes nothing by itself.
 */
import * as zlib from "node:zlib"
import { start, type TestServer } from "@loamy/test-server"
import { request } from "undici"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

let server: TestServer
beforeAll(async () => {
  server = await start()
})
afterAll(() => server.close())

const get = async (path: string, headers: Record<string, string> = {}) => {
  const response = await request(`${server.url}${path}`, { headers })
  const body = Buffer.from(await response.body.arrayBuffer())
  return { status: response.statusCode, headers: response.headers, body }
}

const decoders = { gzip: zlib.gunzipSync, deflate: zlib.inflateSync, br: zlib.brotliDecompressSync } as const

describe("compressed bodies", () => {
  for (const [path, coding] of [["/gzip", "gzip"], ["/deflate", "deflate"], ["/brotli", "br"]] as const) {
    it(`${path} sends a JSON body with content-encoding ${coding}`, async () => {
      const { body, headers, status } = await get(path)
      expect(status).toBe(200)
      expect(headers["content-encoding"]).toBe(coding)
      expect(headers["content-type"]).toBe("application/json")
      expect(Number(headers["content-length"])).toBe(body.byteLength)
      expect(JSON.parse(decoders[coding](body).toString("utf8"))).toEqual({ compressed: coding, message: "Hello, world!" })
    })

    it(`${path}?bytes=N sends a small body that decodes to N bytes when ${coding} is accepted`, async () => {
      const n = 5_000_000
      const { body, headers } = await get(`${path}?bytes=${n}`, { "accept-encoding": `identity, ${coding}` })
      expect(headers["content-encoding"]).toBe(coding)
      expect(body.byteLength).toBeLessThan(n / 100)
      const decoded = decoders[coding](body)
      expect(decoded.byteLength).toBe(n)
      expect(JSON.parse(decoded.toString("utf8"))).toBe("x".repeat(n - 2))
    })

    it(`${path}?bytes=N is not compressed unless ${coding} is accepted or force=1`, async () => {
      const plain = await get(`${path}?bytes=1000`)
      expect(plain.headers["content-encoding"]).toBeUndefined()
      expect(plain.headers["content-length"]).toBe("1000")
      expect(plain.body.toString("utf8")).toBe(JSON.stringify("x".repeat(998)))
      const forced = await get(`${path}?bytes=1000&force=1`)
      expect(forced.headers["content-encoding"]).toBe(coding)
      expect(decoders[coding](forced.body).toString("utf8")).toBe(JSON.stringify("x".repeat(998)))
    })

    it(`${path}?chunked=1 sends the same body without a content-length`, async () => {
      const { body, headers } = await get(`${path}?chunked=1`)
      expect(headers["content-length"]).toBeUndefined()
      expect(headers["transfer-encoding"]).toBe("chunked")
      expect(JSON.parse(decoders[coding](body).toString("utf8"))).toEqual({ compressed: coding, message: "Hello, world!" })
    })
  }

  it("/gzip?bytes=N&chunked=1 sends the compressed string chunked", async () => {
    const { body, headers } = await get("/gzip?bytes=100000&chunked=1&force=1")
    expect(headers["content-length"]).toBeUndefined()
    expect(zlib.gunzipSync(body).byteLength).toBe(100_000)
  })
})

describe("charsets", () => {
  it("/latin1 sends café as ISO-8859-1 bytes", async () => {
    const { body, headers } = await get("/latin1")
    expect(headers["content-type"]).toBe("application/json; charset=iso-8859-1")
    expect(body).toEqual(Buffer.from([...Buffer.from("{\"word\":\"caf"), 0xe9, ...Buffer.from("\"}")]))
  })

  it("/charset encodes the text in the named charset and declares it", async () => {
    const utf8 = await get(`/charset?name=utf-8&text=${encodeURIComponent("café ☕")}`)
    expect(utf8.headers["content-type"]).toBe("application/json; charset=utf-8")
    expect(utf8.body).toEqual(Buffer.from("{\"text\":\"café ☕\"}", "utf8"))
    const latin1 = await get(`/charset?name=iso-8859-1&text=${encodeURIComponent("café")}`)
    expect(latin1.headers["content-type"]).toBe("application/json; charset=iso-8859-1")
    expect(latin1.body.includes(0xe9)).toBe(true)
    expect(latin1.body.toString("latin1")).toBe("{\"text\":\"café\"}")
    const utf16 = await get(`/charset?name=utf-16le&text=${encodeURIComponent("café")}`)
    expect(utf16.headers["content-type"]).toBe("application/json; charset=utf-16le")
    expect(utf16.body).toEqual(Buffer.from("{\"text\":\"café\"}", "utf16le"))
    const unknown = await get(`/charset?name=x-unknown&text=${encodeURIComponent("café")}`)
    expect(unknown.headers["content-type"]).toBe("application/json; charset=x-unknown")
    expect(unknown.body).toEqual(Buffer.from("{\"text\":\"café\"}", "utf8"))
    const text = await get(`/charset?name=iso-8859-1&type=text/plain&text=${encodeURIComponent("é")}`)
    expect(text.headers["content-type"]).toBe("text/plain; charset=iso-8859-1")
    expect(text.body).toEqual(Buffer.from([0xe9]))
  })

  it("/charset refuses a charset it cannot encode, and text latin-1 cannot hold", async () => {
    expect((await get("/charset?name=koi8-r")).status).toBe(400)
    expect((await get(`/charset?name=iso-8859-1&text=${encodeURIComponent("☕")}`)).status).toBe(400)
  })
})

describe("binary, repeated headers", () => {
  it("/binary sends every byte value once, in order", async () => {
    const plain = await get("/binary")
    expect(plain.headers["content-type"]).toBe("application/octet-stream")
    expect(plain.headers["content-length"]).toBe("256")
    expect([...plain.body]).toEqual(Array.from({ length: 256 }, (_, i) => i))
    const png = await get("/binary?type=image/png")
    expect(png.headers["content-type"]).toBe("image/png")
    expect(png.body).toEqual(plain.body)
  })

  it("/cookies sends two Set-Cookie headers with commas in their dates, and two x-multi headers", async () => {
    const response = await request(`${server.url}/cookies`)
    await response.body.dump()
    expect(response.headers["set-cookie"]).toEqual([
      "a=1; Expires=Wed, 21 Oct 2037 07:28:00 GMT; Path=/",
      "b=2; Expires=Thu, 22 Oct 2037 07:28:00 GMT; HttpOnly"
    ])
    expect(response.headers["x-multi"]).toEqual(["one", "two"])
  })
})

describe("a second origin", () => {
  it("serves the same routes on otherUrl, with shared stats", async () => {
    expect(server.otherUrl).toBe(`http://127.0.0.1:${server.otherPort}`)
    expect(server.otherPort).not.toBe(server.port)
    server.resetStats()
    const response = await request(`${server.otherUrl}/`)
    expect(await response.body.json()).toEqual({ message: "Hello, world!" })
    expect(server.stats.byPath["/"]).toBe(1)
  })

  it("/redirect-to-other-origin redirects to otherUrl + path, and /echo there shows the headers that crossed", async () => {
    const response = await request(`${server.url}/redirect-to-other-origin?path=${encodeURIComponent("/echo?x=1")}`)
    await response.body.dump()
    expect(response.statusCode).toBe(302)
    expect(response.headers["location"]).toBe(`${server.otherUrl}/echo?x=1`)
    const status = await request(`${server.url}/redirect-to-other-origin?status=307`)
    await status.body.dump()
    expect(status.statusCode).toBe(307)
    expect(status.headers["location"]).toBe(`${server.otherUrl}/echo`)
    const echo = await request(`${server.otherUrl}/echo?x=1`, { headers: { authorization: "Bearer t", "x-kept": "1" } })
    expect(await echo.body.json()).toMatchObject({
      path: "/echo",
      query: { x: "1" },
      headers: { authorization: "Bearer t", "x-kept": "1", host: `127.0.0.1:${server.otherPort}` }
    })
  })
})

describe("/stall-headers", () => {
  it("never answers; the client's timeout ends it, and the server sees the abort", async () => {
    server.resetStats()
    const failure = await request(`${server.url}/stall-headers`, { headersTimeout: 300 }).catch((e: Error) => e)
    expect(failure).toBeInstanceOf(Error)
    expect((failure as NodeJS.ErrnoException).code).toBe("UND_ERR_HEADERS_TIMEOUT")
    for (let i = 0; i < 100 && server.stats.aborted === 0; i++) await new Promise((r) => setTimeout(r, 10))
    expect(server.stats.byPath["/stall-headers"]).toBe(1)
    expect(server.stats.completed).toBe(0)
    expect(server.stats.aborted).toBe(1)
  })

  it("ends when the server closes", async () => {
    const own = await start()
    const pending = request(`${own.url}/stall-headers`).catch((e: Error) => e)
    for (let i = 0; i < 100 && own.stats.requests === 0; i++) await new Promise((r) => setTimeout(r, 10))
    await own.close()
    expect(await pending).toBeInstanceOf(Error)
  })
})
