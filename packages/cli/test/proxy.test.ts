/**
 * `loamy send --proxy URL|env`, run as a user runs it (the built CLI in a
 * child process), against a real proxy on 127.0.0.1: absolute-form http,
 * CONNECT for https (the child trusts the test-only certificate through
 * NODE_EXTRA_CA_CERTS), the variables of `env` set on the child only, and
 * the proxy's credentials never printed.
 */
import { jsonl, records, runLoamy } from "@loamy/test-kit/cli"
import { certPath, childEnv, startProxy, startTls, type TestProxy, type TlsServer } from "@loamy/test-kit/proxy"
import { closedPort, start, type TestServer } from "@loamy/test-server"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"

const secret = "s3cr3t-pa55"
const credentials = `tester:${secret}`

/** `loamy ARGS` with `stdin` and exactly the environment given (no proxy variable unless `env` sets one). */
const loamy = (args: ReadonlyArray<string>, stdin: string, env: Record<string, string> = {}) =>
  runLoamy(args, { stdin, env: childEnv({ NO_COLOR: "1", ...env }) })

let server: TestServer
let tls: TlsServer
let proxy: TestProxy
let guarded: TestProxy

beforeAll(async () => {
  ;[server, tls, proxy, guarded] = await Promise.all([start(), startTls(), startProxy(), startProxy({ auth: credentials })])
})
afterAll(async () => {
  await Promise.all([server.close(), tls.close(), proxy.close(), guarded.close()])
})
afterEach(() => {
  proxy.reset()
  guarded.reset()
  server.resetStats()
})

const get = (url: string) => ({ url, httpOp: "GET" })
const via = (record: Record<string, any>): unknown => record["body"]?.headers?.via

describe("loamy send --proxy", () => {
  it("sends http requests through the proxy URL", { timeout: 60_000 }, async () => {
    const requests = Array.from({ length: 5 }, (_, i) => get(`${server.url}/echo?i=${i}`))
    const ran = await loamy(["send", "--ordered", "-q", "--proxy", proxy.url], jsonl(requests))
    expect(ran.code).toBe(0)
    const out = records(ran.stdout)
    expect(out.map((r) => r["statusCode"])).toEqual(requests.map(() => 200))
    for (const record of out) expect(via(record)).toMatch(/proxy\//)
    expect(proxy.seen.requests).toBe(5)
    expect([...proxy.seen.targets].sort()).toEqual(requests.map((r) => `GET ${r.url}`).sort())
    expect(server.stats.byPath["/echo"]).toBe(5)
  })

  it("--proxy env: HTTPS_PROXY tunnels https, HTTP_PROXY carries http, NO_PROXY goes around", { timeout: 60_000 }, async () => {
    const ran = await loamy(
      ["send", "--ordered", "-q", "--proxy", "env"],
      jsonl([get(`${tls.url}/secure`), get(`${server.url}/echo`), get(`${server.otherUrl}/echo`)]),
      {
        HTTPS_PROXY: proxy.url,
        HTTP_PROXY: proxy.url,
        NO_PROXY: `127.0.0.1:${server.otherPort}`,
        NODE_EXTRA_CA_CERTS: certPath
      }
    )
    expect(ran.stderr).toBe("")
    expect(ran.code).toBe(0)
    const [secure, proxied, direct] = records(ran.stdout)
    expect(secure!["body"]).toEqual({ tls: true, path: "/secure" })
    expect(via(proxied!)).toMatch(/proxy\//)
    expect(via(direct!)).toBeUndefined()
    expect([...proxy.seen.targets].sort()).toEqual([`CONNECT 127.0.0.1:${tls.port}`, `GET ${server.url}/echo`].sort())
    expect(server.stats.byPath["/echo"]).toBe(2)
  })

  it("without --proxy the variables are not used", { timeout: 60_000 }, async () => {
    const ran = await loamy(["send", "-q"], jsonl([get(`${server.url}/echo`)]), { HTTP_PROXY: proxy.url })
    expect(ran.code).toBe(0)
    expect(via(records(ran.stdout)[0]!)).toBeUndefined()
    expect(proxy.seen.requests).toBe(0)
  })

  it("with credentials in the URL it gets through a proxy that asks for them, and never prints them", { timeout: 60_000 }, async () => {
    const authed = guarded.url.replace("http://", `http://${credentials}@`)
    const ran = await loamy(["send", "--proxy", authed], jsonl([get(`${server.url}/echo`)]))
    expect(ran.code).toBe(0)
    expect(via(records(ran.stdout)[0]!)).toMatch(/proxy\//)
    expect(guarded.seen.denied).toBe(0)
    expect(ran.stdout + ran.stderr).not.toContain(secret)
  })

  it("proxy failures are TransportErrors naming the proxy, without its credentials (407, down)", { timeout: 60_000 }, async () => {
    const wrong = guarded.url.replace("http://", `http://tester:not-${secret}@`)
    const denied = await loamy(["send", "--proxy", wrong], jsonl([get(`${server.url}/`)]))
    expect(denied.code).toBe(1)
    const [refused] = records(denied.stdout)
    expect(refused!["error"]["_tag"]).toBe("TransportError")
    expect(refused!["error"]["message"]).toContain(`proxy ${guarded.url} answered 407 Proxy Authentication Required`)
    expect(denied.stdout + denied.stderr).not.toContain(secret)

    const down = `http://${credentials}@127.0.0.1:${await closedPort()}`
    const ran = await loamy(["send", "--proxy", down], jsonl([get(`${server.url}/`)]))
    expect(ran.code).toBe(1)
    const [failed] = records(ran.stdout)
    expect(failed!["error"]["reason"]).toBe("ConnectionRefused")
    expect(failed!["error"]["message"]).toContain(`proxy ${new URL(down).origin}`)
    expect(ran.stdout + ran.stderr).not.toContain(secret)
    expect(server.stats.requests).toBe(0)
  })

  it("refuses a bad --proxy before sending anything, naming the flag and not the credentials", { timeout: 60_000 }, async () => {
    const ran = await loamy(["send", "--proxy", `socks5://${credentials}@127.0.0.1:1080`], jsonl([get(`${server.url}/`)]))
    expect(ran.code).toBe(2)
    expect(ran.stderr).toContain("invalid option --proxy: must be \"env\" or an http(s) URL")
    expect(ran.stderr).not.toContain(secret)
    expect(ran.stdout).toBe("")

    const badEnv = await loamy(["send", "--proxy", "env"], jsonl([get(`${server.url}/`)]), {
      HTTP_PROXY: `http://${credentials}@[bad`
    })
    expect(badEnv.code).toBe(2)
    expect(badEnv.stderr).toContain("invalid option --proxy: \"env\": HTTP_PROXY is not an http(s) URL")
    expect(badEnv.stderr).not.toContain(secret)
    expect(server.stats.requests).toBe(0)
  })

  it("is listed in send --help", { timeout: 60_000 }, async () => {
    const ran = await loamy(["send", "--help"], "")
    expect(ran.code).toBe(0)
    expect(ran.stdout).toContain("--proxy URL|env")
    expect(ran.stdout).toMatch(/HTTPS_PROXY, HTTP_PROXY and NO_PROXY/)
  })
})
