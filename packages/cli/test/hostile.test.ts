/**
 * `loamy send` against hostile input and responses: numbers kept digit for
 * digit both ways, JSON nested too deep (a response's own error record, a
 * request line refused at its index, the rest of the run unaffected), a
 * polluted `Object.prototype` injecting nothing, and no query string in
 * error records. The server is the test kit's hostile server in this
 * process, which records every request's bytes as they arrived.
 */
import { type Arrival, bigNumbersText, type HostileServer, startHostile } from "@loamy/test-kit"
import { closedPort } from "@loamy/test-server"
import * as fs from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { loamy, records, scratchDir } from "./helpers.js"

let hostile: HostileServer
let base: string
/** What the hostile server recorded (cleared by setting its length to 0). */
let arrivals: Array<Arrival>

beforeAll(async () => {
  hostile = await startHostile()
  base = hostile.url
  arrivals = hostile.arrivals
})
afterAll(async () => {
  await hostile.close()
})

const scratch = scratchDir("loamy-cli-hostile-")
const { file } = scratch

describe("numbers digit for digit", () => {
  it("a JSONL file's 12345678901234567890 and 9007199254740993 reach the server as written", async () => {
    arrivals.length = 0
    const input = file(
      "numbers.jsonl",
      `{"url":"${base}/a","httpOp":"POST","body":{"id":12345678901234567890}}\n` +
        `{"url":"${base}/b","httpOp":"POST","body":[9007199254740993,1.5]}\n`
    )
    const r = await loamy(["send", input, "-q"])
    expect(r.code).toBe(0)
    const raw = Object.fromEntries(arrivals.map((a) => [a.url, a.raw]))
    expect(raw["/a"]).toBe("{\"id\":12345678901234567890}")
    expect(raw["/b"]).toBe("[9007199254740993,1.5]")
    // A JSON array file too.
    arrivals.length = 0
    const array = file("numbers.json", `[{"url":"${base}/c","httpOp":"POST","body":{"n":9007199254740993}}]`)
    expect((await loamy(["send", array, "-q"])).code).toBe(0)
    expect(arrivals[0]!.raw).toBe("{\"n\":9007199254740993}")
  })

  it("a response body's big integers are written to the output digit for digit (secret headers redacted or not)", async () => {
    const input = file("get-numbers.jsonl", `{"url":"${base}/numbers","httpOp":"GET"}\n`)
    for (const extra of [[], ["-H", "Authorization: Bearer s3cret"]]) {
      const r = await loamy(["send", input, "-q", ...extra])
      expect(r.code).toBe(0)
      expect(r.stdout).toContain(`"body":${bigNumbersText}`)
    }
  })
})

describe("JSON nested too deep", () => {
  it("a response body 5,000 levels deep is that line's BodyDecodeError record; every other line is written", async () => {
    const input = file(
      "deep-response.jsonl",
      `{"url":"${base}/first","httpOp":"GET"}\n{"url":"${base}/deep?n=5000","httpOp":"GET"}\n` +
        `{"url":"${base}/last","httpOp":"GET"}\n`
    )
    const r = await loamy(["send", input, "--ordered"])
    const out = records(r.stdout)
    expect(out.map((o) => o.index)).toEqual([0, 1, 2])
    expect(out[1]!.error._tag).toBe("BodyDecodeError")
    expect(out[1]!.error.detail).toContain("nested deeper than 1000 levels")
    expect(out[1]!.statusCode).toBe(200)
    expect([out[0]!.statusCode, out[2]!.statusCode]).toEqual([200, 200])
    expect(r.stderr).not.toContain("fail-fast")
    expect(r.code).toBe(1)
  }, 60_000)

  it("a request line nested 10,000 levels deep is refused at its own index; the other lines are sent", async () => {
    arrivals.length = 0
    const deep = "[".repeat(10_000) + "]".repeat(10_000)
    const input = file(
      "deep-request.jsonl",
      `{"url":"${base}/first","httpOp":"GET"}\n{"url":"${base}/deep-line","httpOp":"POST","body":${deep}}\n` +
        `{"url":"${base}/last","httpOp":"GET"}\n`
    )
    const r = await loamy(["send", input, "--ordered", "-q"])
    const out = records(r.stdout)
    expect(out.map((o) => o.index)).toEqual([0, 1, 2])
    expect(out[1]!.error._tag).toBe("InvalidInputError")
    expect(out[1]!.error.field).toBe("body")
    expect(out[1]!.error.detail).toContain("nested deeper than 1000 levels")
    expect(arrivals.map((a) => a.url).sort()).toEqual(["/first", "/last"])
    expect(r.stderr).not.toContain("fail-fast")
    expect(r.code).toBe(1)
  }, 60_000)
})

describe("own fields and secrets", () => {
  it("with Object.prototype.headers, .body and .queryParams polluted in the process, nothing injected is sent", async () => {
    const input = file(
      "plain.jsonl",
      `{"url":"${base}/bare","httpOp":"GET"}\n{"url":"${base}/own","httpOp":"POST","body":{"own":1}}\n`
    )
    // What a polluting dependency would do. It strikes as the CLI opens its input: polluted from the start, the
    // process may not get that far (the argument parser is not written for a polluted Object.prototype), and sends nothing.
    // POLLUTE names the fields.
    const pollute = file(
      "pollute.mjs",
      `import fs from "node:fs"
import { syncBuiltinESMExports } from "node:module"
const values = { headers: { "x-injected": "yes" }, body: { injected: true }, queryParams: { injected: "yes" } }
const open = fs.createReadStream
let polluted = false
fs.createReadStream = function (...args) {
  if (!polluted) {
    polluted = true
    for (const name of process.env.POLLUTE.split(",")) Object.prototype[name] = values[name]
    process.stderr.write("polluted\\n")
  }
  return open.apply(this, args)
}
// \`import * as fs\` (as the CLI does) sees the patched function only after this.
syncBuiltinESMExports()
`
    )
    for (const fields of ["headers,queryParams", "headers,body,queryParams"]) {
      arrivals.length = 0
      const { code, stderr } = await loamy(["send", input, "-q"], {
        nodeArgs: ["--import", pollute],
        env: { ...process.env, NO_COLOR: "1", POLLUTE: fields },
        timeoutMs: 30_000
      })
      // The pollution did strike, and the run went on.
      expect(stderr).toContain("polluted")
      expect(code).toBe(0)
      const byPath = Object.fromEntries(arrivals.map((a) => [a.url, a]))
      expect(Object.keys(byPath).sort()).toEqual(["/bare", "/own"])
      expect(byPath["/bare"]!.raw).toBe("")
      expect(byPath["/own"]!.raw).toBe("{\"own\":1}")
      for (const arrival of arrivals) expect(arrival.headers["x-injected"]).toBeUndefined()
    }
  }, 60_000)

  it("error records hold no query string or credentials in their url, and a refused URL shows neither", async () => {
    const port = await closedPort()
    const input = file(
      "secrets.jsonl",
      `{"url":"http://127.0.0.1:${port}/x?token=T0K3N","httpOp":"GET"}\n` +
        `{"url":"http://bob:SEKRIT@127.0.0 .1/?token=T0K3N","httpOp":"GET"}\n`
    )
    const r = await loamy(["send", input, "--ordered", "-q"])
    const out = records(r.stdout)
    expect(out[0]!.error._tag).toBe("TransportError")
    expect(out[0]!.error.url).toBe(`http://127.0.0.1:${port}/x`)
    expect(out[1]!.error._tag).toBe("InvalidInputError")
    for (const record of out) {
      expect(JSON.stringify(record.error)).not.toContain("T0K3N")
      expect(JSON.stringify(record.error)).not.toContain("SEKRIT")
    }
  })
})
