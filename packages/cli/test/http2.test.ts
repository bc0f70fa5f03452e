/**
 * `loamy send --http2 --ca FILE` against TLS servers on 127.0.0.1 (in a child process, with a CA the test makes):
 * the records say the server saw HTTP/2 on one session; an origin that speaks only HTTP/1.1 keeps it; a --ca file
 * that cannot be read is a usage error naming the flag.
 */
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type TestCa, type TlsPair, startTlsPair, type TlsServer } from "@loamy/test-kit/tls"
import { jsonl, loamy, records } from "./helpers.js"

let ca: TestCa
let h2: TlsServer
let h1: TlsServer

let pair: TlsPair | undefined

beforeAll(async () => {
  pair = await startTlsPair()
  ;({ ca, h2, h1 } = pair)
}, 60_000)

afterAll(async () => {
  await pair?.close()
})

const gets = (url: string, n: number, route = "/") => jsonl(Array.from({ length: n }, () => ({ url: `${url}${route}`, httpOp: "GET" })))

describe("loamy send --http2 --ca", () => {
  it("sends a file's requests over one HTTP/2 session, trusting the CA in the file", async () => {
    const ran = await loamy(["send", "-", "-q", "--http2", "--ca", ca.caPath, "-c", "30"], { stdin: gets(h2.url, 60) })
    expect(ran.code, ran.stderr).toBe(0)
    const bodies = records(ran.stdout).map((record) => record.body as { httpVersion: string; connection: number })
    expect(bodies).toHaveLength(60)
    expect(new Set(bodies.map((body) => body.httpVersion))).toEqual(new Set(["2.0"]))
    expect(new Set(bodies.map((body) => body.connection)).size).toBe(1)
  }, 60_000)

  it("an origin that speaks only HTTP/1.1 keeps it; without --http2 it is HTTP/1.1 everywhere", async () => {
    for (const [url, args] of [[h1.url, ["--http2"]], [h2.url, []]] as const) {
      const ran = await loamy(["send", "-", "-q", ...args, "--ca", ca.caPath], { stdin: gets(url, 10) })
      expect(ran.code, ran.stderr).toBe(0)
      expect(new Set(records(ran.stdout).map((record) => record.body.httpVersion))).toEqual(new Set(["1.1"]))
    }
  }, 60_000)

  it("without --ca the certificate is refused: each record has its TransportError", async () => {
    const ran = await loamy(["send", "-", "-q", "--http2"], { stdin: gets(h2.url, 2) })
    expect(ran.code).toBe(1)
    expect(records(ran.stdout).map((record) => record.error._tag)).toEqual(["TransportError", "TransportError"])
  }, 60_000)

  it("a --ca file that cannot be read, or holds no certificate, is a usage error naming the flag", async () => {
    const missing = path.join(ca.dir, "missing.pem")
    const unread = await loamy(["send", "-", "--ca", missing], { stdin: gets(h2.url, 1) })
    expect(unread.code).toBe(2)
    expect(unread.stderr).toContain(`--ca ${missing}: cannot read the file (ENOENT)`)
    const notPem = await loamy(["send", "-", "--ca", ca.keyPath], { stdin: gets(h2.url, 1) })
    expect(notPem.code).toBe(2)
    expect(notPem.stderr).toContain("--ca")
    expect(notPem.stderr).toContain("PEM")
  }, 60_000)
})
