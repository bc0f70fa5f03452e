/**
 * `loamy send --cookies`, run as a user runs it (the built CLI in a child
 * process), against the core's cookie server (two loopback hosts, two
 * origins for cookies): one jar for the run, carried across a redirect and
 * to the run's later requests of the same host only; without the flag no
 * cookie is kept (as before).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type CookieServer, setting, startCookieServer } from "../../core/test/cookie-server.js"
import { jsonl, loamy, records } from "./helpers.js"

let server: CookieServer
beforeAll(async () => {
  server = await startCookieServer()
})
afterAll(() => server.close())

const get = (url: string) => ({ url, httpOp: "GET" })

/** A login on A that redirects within A, a redirect from A to B, then one request to each. */
const journey = () =>
  jsonl([
    get(setting(server.a, "/login", ["sid=a1; HttpOnly"], `${server.a}/home`)),
    get(setting(server.a, "/away", [], setting(server.b, "/landing", ["bsid=b1"]))),
    get(`${server.a}/later`),
    get(`${server.b}/later`)
  ])

describe("loamy send --cookies", () => {
  it("keeps one jar for the run: a cookie crosses a redirect and goes to later requests of its host only", async () => {
    const ran = await loamy(["send", "--cookies", "--ordered", "-c", "1", "-q"], { stdin: journey() })
    expect(ran.stderr).toBe("")
    expect(ran.code).toBe(0)
    const bodies = records(ran.stdout).map((record) => record.body)
    expect(bodies.map((body) => body.cookies)).toEqual([{ sid: "a1" }, {}, { sid: "a1" }, { bsid: "b1" }])
    // What B received, as its parser read it: never A's cookie.
    for (const seen of server.seen.filter((entry) => entry.host === new URL(server.b).host)) {
      expect(seen.cookies).not.toHaveProperty("sid")
    }
  }, 60_000)

  it("without --cookies keeps none (as before)", async () => {
    const ran = await loamy(["send", "--ordered", "-c", "1", "-q"], { stdin: journey() })
    expect(ran.code).toBe(0)
    const bodies = records(ran.stdout).map((record) => record.body)
    expect(bodies.map((body) => body.cookies)).toEqual([{}, {}, {}, {}])
  }, 60_000)
})
