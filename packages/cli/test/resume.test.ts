/**
 * `loamy send --resume FILE`, `--retry-failed` and `--shard i/n`, run as real
 * processes against a loopback test server started here: a clean partial
 * file, a torn last line, files that are not this input's output, failed
 * records sent again, shards that split an input, and a 10,000-request run
 * killed (SIGKILL) several times at random points, then resumed to the end.
 */
import { start, type TestServer } from "@loamy/test-server"
import fc from "fast-check"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { BadInput } from "../dist/internal/input.js"
import { prepare } from "../dist/internal/resume.js"
import { inShard, parseShard, shardSize } from "../dist/internal/shard.js"
import { jsonl, loamy, records, spawnLoamy, within } from "./helpers.js"

let server: TestServer
let dir: string
beforeAll(async () => {
  server = await start()
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "loamy-cli-resume-"))
})
afterAll(async () => {
  await server?.close()
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
})

let files = 0
const fresh = (name: string) => path.join(dir, `${++files}-${name}`)
const write = (name: string, content: string | Buffer) => {
  const p = fresh(name)
  fs.writeFileSync(p, content)
  return p
}

/** The `i` query parameter of each request the server saw since the last `resetStats`. */
const sentIndices = (): Array<number> =>
  server.stats.arrivalPaths.flatMap((p) => {
    const match = /[?&]i=(\d+)/.exec(p)
    return match === null ? [] : [Number(match[1])]
  }, 120_000)

/** An input of `size` requests as JSONL, maybe with blank lines and lines that are not requests. */
interface Input {
  readonly text: string
  readonly size: number
  /** Per index: its 1-based line number, and its URL (undefined for a line that is not a valid request). */
  readonly lines: ReadonlyArray<number>
  readonly urls: ReadonlyArray<string | undefined>
}

const makeInput = (
  size: number,
  options: { readonly blankAfter?: ReadonlySet<number>; readonly invalid?: ReadonlySet<number>; readonly url?: (i: number) => string } = {}
): Input => {
  const text: Array<string> = []
  const lines: Array<number> = []
  const urls: Array<string | undefined> = []
  for (let i = 0; i < size; i++) {
    const url = options.url?.(i) ?? `${server.url}/?i=${i}`
    if (options.invalid?.has(i)) {
      text.push(JSON.stringify({ url, httpOp: "FETCH" }))
      urls.push(undefined)
    } else {
      text.push(JSON.stringify({ url, httpOp: "GET" }))
      urls.push(url)
    }
    lines.push(text.length)
    if (options.blankAfter?.has(i)) text.push("")
  }
  return { text: text.length === 0 ? "" : text.join("\n") + "\n", size, lines, urls }
}

/** A record as `loamy send` writes one for a successful request of `input` (made here, so no run is needed). */
const recordOf = (input: Input, index: number): string =>
  JSON.stringify({
    index,
    line: input.lines[index],
    requestMap: { url: input.urls[index], httpOp: "GET" },
    statusCode: 200,
    body: { message: "Hello, world!" },
    headers: { "content-type": "application/json" },
    elapsedMs: 1.5,
    attempts: 1
  })

/**
 * Checks that `file` holds exactly one record per index of `input` (in any
 * order), each for its own request and line, every line whole; returns them by index.
 */
const expectComplete = (file: string, input: Input, options: { readonly lines?: boolean } = {}) => {
  const text = fs.readFileSync(file, "utf8")
  if (input.size > 0) expect(text.endsWith("\n"), `${file} ends with a line end`).toBe(true)
  const out = text.split("\n").slice(0, -1).map((line, n) => {
    try {
      return JSON.parse(line) as Record<string, any>
    } catch {
      throw new Error(`${file} line ${n + 1} is not JSON: ${line.slice(0, 200)}`)
    }
  }, 120_000)
  expect(out.map((r) => r["index"]).sort((a, b) => a - b)).toEqual([...Array(input.size).keys()])
  for (const record of out) {
    const index = record["index"] as number
    const at = `${file} index ${index}: ${JSON.stringify(record).slice(0, 300)}`
    if (options.lines !== false) expect(record["line"], at).toBe(input.lines[index])
    const url = input.urls[index]
    if (url === undefined) {
      expect(record["error"]?._tag, at).toBe("InvalidInputError")
      expect(record["error"]?.index, at).toBe(index)
    } else {
      expect(record["requestMap"]?.url, at).toBe(url)
      expect(record["statusCode"], at).toBe(200)
      expect(record, at).not.toHaveProperty("error")
    }
  }
  return new Map(out.map((r) => [r["index"] as number, r]))
}

describe("flags", () => {
  it("--shard i/n: every i/n with integers 0 <= i < n is accepted, anything else refused; shards partition the indices", async () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.nat(), (count, i) => {
        const index = i % count
        expect(parseShard(`${index}/${count}`)).toEqual({ index, count })
        expect(typeof parseShard(`${count + (i % 3)}/${count}`)).toBe("string")
      })
    )
    for (const bad of ["", "1", "1/", "/2", "-1/2", "1.5/2", "1/2.0", "a/b", "1/0", "0/0", "1/2/3", "0x1/2", "1e1/20"]) {
      expect(typeof parseShard(bad), bad).toBe("string")
    }
    fc.assert(
      fc.property(fc.nat(300), fc.integer({ min: 1, max: 12 }), (size, count) => {
        const sizes = new Array<number>(count).fill(0)
        for (let k = 0; k < size; k++) {
          const owners = [...Array(count).keys()].filter((index) => inShard({ index, count }, k))
          if (owners.length !== 1) throw new Error(`index ${k} is in ${owners.length} of ${count} shards`)
          sizes[owners[0]!]!++
        }
        expect([...Array(count).keys()].map((index) => shardSize({ index, count }, size))).toEqual(sizes)
      })
    )
    // The flags as the command line reads them: accepted together (the run goes as far as its missing input), and
    // refused without their values.
    const missing = fresh("missing.jsonl")
    const [accepted, noShard, noResume] = await Promise.all([
      loamy(["send", "--resume", fresh("out.jsonl"), "--retry-failed", "--shard", "0/2", missing]),
      loamy(["send", "in.jsonl", "--shard"]),
      loamy(["send", "in.jsonl", "--resume"])
    ])
    expect(accepted.code, accepted.stderr).toBe(2)
    expect(accepted.stderr).toContain(`cannot read ${missing}`)
    expect(noShard.code).toBe(2)
    expect(noShard.stderr).toContain("--shard needs a value")
    expect(noResume.code).toBe(2)
    expect(noResume.stderr).toContain("--resume needs a value")
  }, 120_000)

  it("--help documents the flags; conflicting or bad values are usage errors, exit 2, nothing sent", async () => {
    const input = write("in.jsonl", makeInput(3).text)
    const out = fresh("out.jsonl")
    const cases: Array<[Array<string>, string]> = [
      [["--retry-failed", input], "--retry-failed needs --resume"],
      [["--resume", out, "-o", fresh("other.jsonl"), input], "name different files"],
      [["--resume", input, input], "is the input file"],
      [["--shard", "3/3", input], "i must be between 0 and n-1"]
    ]
    server.resetStats()
    const [help, ...results] = await Promise.all([
      loamy(["send", "--help"], { timeoutMs: 60_000 }),
      ...cases.map(([args]) => loamy(["send", ...args], { timeoutMs: 60_000 }))
    ])
    expect(help!.code).toBe(0)
    for (const text of ["--resume", "--retry-failed", "--shard", "torn last line", "k mod n"]) expect(help!.stdout).toContain(text)
    results.forEach((r, i) => {
      const [args, message] = cases[i]!
      expect(r.code, `loamy send ${args.join(" ")}: ${r.stderr}`).toBe(2)
      expect(r.stderr, args.join(" ")).toContain(message)
      expect(r.stdout).toBe("")
    })
    expect(server.stats.requests).toBe(0)
    expect(fs.existsSync(out)).toBe(false)
  }, 120_000)
})

describe("--resume", () => {
  it("after a clean partial file, sends only the missing indices and appends their records", async () => {
    const input = makeInput(40, { blankAfter: new Set([3, 17, 18]), invalid: new Set([9, 25]) })
    const inFile = write("in.jsonl", input.text)
    // A random part of the records (not the invalid lines'), in a random order (completion order is any order).
    const valid = [...Array(input.size).keys()].filter((i) => input.urls[i] !== undefined)
    const keep = fc.sample(fc.shuffledSubarray(valid, { minLength: 1, maxLength: valid.length - 1 }), 1)[0]!
    const before = keep.map((i) => recordOf(input, i)).join("\n") + "\n"
    const out = write("out.jsonl", before)

    server.resetStats()
    // -o may name the --resume file itself.
    const r = await loamy(["send", "--resume", out, "-o", out, inFile], { timeoutMs: 60_000 })
    // Index 9 and 25 are not valid requests: their records have an error.
    expect(r.code, r.stderr).toBe(1)
    expect(r.stderr).toContain(`${keep.length} ${keep.length === 1 ? "record" : "records"} already there`)
    expect(r.stderr).toContain(`sending ${input.size - keep.length}`)
    const after = fs.readFileSync(out, "utf8")
    // Appended: what was there is untouched.
    expect(after.startsWith(before)).toBe(true)
    expectComplete(out, input)
    const kept = new Set(keep)
    expect(sentIndices().sort((a, b) => a - b)).toEqual(valid.filter((i) => !kept.has(i)))

    // Complete: a resume sends nothing and leaves the file as it is; its failed records make the exit code 1.
    server.resetStats()
    const again = await loamy(["send", "--resume", out, inFile], { timeoutMs: 60_000 })
    expect(again.code).toBe(1)
    expect(again.stderr).toContain("2 of them failed")
    expect(again.stderr).toContain("nothing left to send")
    expect(server.stats.requests).toBe(0)
    expect(fs.readFileSync(out, "utf8")).toBe(after)
  }, 120_000)

  it("a missing file is an empty one; JSON arrays and stdin resume too", async () => {
    const input = makeInput(12)
    const arrayText = JSON.stringify(input.text.trim().split("\n").map((l) => JSON.parse(l)))
    const array = write("in.json", arrayText)
    const fromArray = fresh("out-array.jsonl")
    const fromStdinArray = write("out-stdin-array.jsonl", [0, 4, 5, 11].map((i) => recordOf(input, i)).join("\n") + "\n")
    const fromStdinLines = write("out-stdin-lines.jsonl", [1, 2, 3].map((i) => recordOf(input, i)).join("\n") + "\n")
    server.resetStats()
    const [r, stdinArray, stdinLines] = await Promise.all([
      loamy(["send", "-q", "--resume", fromArray, array], { timeoutMs: 60_000 }),
      loamy(["send", "-q", "--resume", fromStdinArray, "-"], { stdin: arrayText, timeoutMs: 60_000 }),
      loamy(["send", "-q", "--resume", fromStdinLines], { stdin: input.text, timeoutMs: 60_000 })
    ])
    expect(r!.code, r!.stderr).toBe(0)
    expectComplete(fromArray, input, { lines: false })
    expect(stdinArray!.code, stdinArray!.stderr).toBe(0)
    expect(stdinLines!.code, stdinLines!.stderr).toBe(0)
    // The kept records were made here with line numbers; the new ones from an array have none.
    expectComplete(fromStdinArray, input, { lines: false })
    expectComplete(fromStdinLines, input)
    expect(server.stats.requests).toBe(12 + 8 + 9)
  }, 120_000)

  it("cuts a torn last line away and sends its request again", async () => {
    const input = makeInput(10)
    const inFile = write("in.jsonl", input.text)
    const head = [0, 1, 2, 3].map((i) => recordOf(input, i)).join("\n") + "\n"
    // Cut short by a kill: no line end.
    const out = write("torn.jsonl", head + recordOf(input, 4).slice(0, 37))
    server.resetStats()
    const r = await loamy(["send", "--resume", out, inFile], { timeoutMs: 60_000 })
    expect(r.code, r.stderr).toBe(0)
    expect(r.stderr).toContain("a torn last line (line 5) cut away; sending 6")
    expectComplete(out, input)
    expect(fs.readFileSync(out, "utf8").startsWith(head)).toBe(true)
    // Indices 4 (the torn one) to 9, once each.
    expect(sentIndices().sort((a, b) => a - b)).toEqual([4, 5, 6, 7, 8, 9])
  }, 120_000)

  it("refuses a file that is not this input's output: exit 2, nothing sent, the file unchanged", async () => {
    const input = makeInput(6)
    const inFile = write("in.jsonl", input.text)
    const arrayIn = write("in.json", JSON.stringify(input.text.trim().split("\n").map((l) => JSON.parse(l))))
    const bigger = makeInput(9)
    const cases: Array<[string, string, string, string]> = [
      [
        "beyond.jsonl",
        [...Array(9).keys()].map((i) => recordOf(bigger, i)).join("\n") + "\n",
        inFile,
        "line 7 has index 6, beyond the input's 6 requests"
      ],
      // The arguments swapped by mistake: the requests are not cut or changed.
      ["requests.jsonl", input.text, arrayIn, "line 1 has no \"index\""]
    ]
    const outs = cases.map(([name, text]) => write(name, text))
    server.resetStats()
    const results = await Promise.all(
      outs.map((out, n) => loamy(["send", "--resume", out, cases[n]![2]], { timeoutMs: 60_000 }))
    )
    results.forEach((r, n) => {
      const [name, text, , message] = cases[n]!
      expect(r.code, `${name}: ${r.stderr}`).toBe(2)
      expect(r.stderr, name).toContain("is not loamy output for this input")
      expect(r.stderr, name).toContain(message)
      expect(fs.readFileSync(outs[n]!, "utf8"), name).toBe(text)
    })
    expect(server.stats.requests).toBe(0)
  }, 120_000)
})

describe("--resume checks each record against the input's request at its index", () => {
  /** `size` GETs of one set (`set=a`, `set=b`): the same length, other requests. */
  const setOf = (size: number, set: string) => makeInput(size, { url: (i) => `${server.url}/?i=${i}&set=${set}` })

  it("refuses the output of 50 GETs as the --resume file of 50 other requests: exit 2, nothing sent, the file untouched, the first record that differs named", async () => {
    const a = setOf(50, "a")
    const out = fresh("out-a.jsonl")
    const first = await loamy(["send", "-q", "--resume", out, write("a.jsonl", a.text)], { timeoutMs: 60_000 })
    expect(first.code, first.stderr).toBe(0)
    const before = fs.readFileSync(out, "utf8")
    // Completion order: the file's first line is the record of some index k.
    const k = JSON.parse(before.split("\n")[0]!).index as number
    const b = setOf(50, "b")
    const bFile = write("b.jsonl", b.text)
    const bArray = write("b.json", JSON.stringify(b.text.trim().split("\n").map((l) => JSON.parse(l))))
    server.resetStats()
    const [file, array, stdin] = await Promise.all([
      loamy(["send", "--resume", out, bFile], { timeoutMs: 60_000 }),
      loamy(["send", "--resume", out, bArray], { timeoutMs: 60_000 }),
      loamy(["send", "--resume", out, "-"], { stdin: b.text, timeoutMs: 60_000 })
    ])
    for (const [name, r] of [["JSONL file", file], ["JSON array", array], ["JSONL on stdin", stdin]] as const) {
      // Each refused, whichever of them held the lock first (the others may be refused for the lock: exit 3).
      expect([2, 3], `${name}: ${r!.stderr}`).toContain(r!.code)
      if (r!.code === 2) {
        expect(r!.stderr, name).toContain(`--resume: ${out} is not loamy output for this input: line 1 is the record of index ${k}, but the input's request at index ${k}`)
        expect(r!.stderr, name).toContain("is another one; nothing sent")
      }
    }
    expect(server.stats.requests).toBe(0)
    expect(fs.readFileSync(out, "utf8")).toBe(before)
    // One at a time, each is refused for the records (exit 2), not only for the lock.
    for (const args of [[bFile], [bArray]]) {
      const r = await loamy(["send", "--resume", out, ...args], { timeoutMs: 60_000 })
      expect(r.code, r.stderr).toBe(2)
      // A JSONL file's line is named too.
      if (args[0] === bFile) expect(r.stderr).toContain(`(line ${k + 1}) is another one`)
    }
    const piped = await loamy(["send", "--resume", out, "-"], { stdin: b.text, timeoutMs: 60_000 })
    expect(piped.code, piped.stderr).toBe(2)
    expect(server.stats.requests).toBe(0)
    expect(fs.readFileSync(out, "utf8")).toBe(before)
  }, 120_000)

  it("compares URL, method, query, header names and body, not header values (secret ones are redacted, per flags)", async () => {
    const requests = [
      { url: `${server.url}/echo?i=0`, httpOp: "POST", headers: { Authorization: "Bearer t-1", "X-Trace": "a" }, body: { n: 1 } },
      { url: `${server.url}/echo`, httpOp: "get", queryParams: { i: "1" }, headers: { "X-Key": "k-1" } }
    ]
    const input = write("in.jsonl", jsonl(requests))
    const out = fresh("out.jsonl")
    // Written with --show-secrets and --redact X-Key, then resumed without either (and the file made partial).
    const first = await loamy(["send", "-q", "--show-secrets", "--redact", "X-Key", "-o", out, input], { timeoutMs: 60_000 })
    expect(first.code, first.stderr).toBe(0)
    const lines = fs.readFileSync(out, "utf8").split("\n").filter((l) => l !== "")
    fs.writeFileSync(out, lines.filter((l) => JSON.parse(l).index === 0).join("\n") + "\n")
    server.resetStats()
    const resumed = await loamy(["send", "--resume", out, input], { timeoutMs: 60_000 })
    expect(resumed.code, resumed.stderr).toBe(0)
    expect(sentIndices()).toEqual([1])
    // Another body, another method, another header name or query: refused.
    const variants = [
      { ...requests[0], body: { n: 2 } },
      { ...requests[0], httpOp: "PUT" },
      { ...requests[0], headers: { Authorization: "Bearer t-1", "X-Other": "a" } },
      { ...requests[0], url: `${server.url}/echo?i=9` }
    ]
    for (const variant of variants) {
      const other = write("other.jsonl", jsonl([variant, requests[1]]))
      const r = await loamy(["send", "--resume", out, other], { timeoutMs: 60_000 })
      expect(r.code, `${JSON.stringify(variant)}: ${r.stderr}`).toBe(2)
      expect(r.stderr).toContain("the input's request at index 0 (line 1) is another one")
    }
    // Header values may differ (a token renewed between runs).
    const renewed = write("renewed.jsonl", jsonl([{ ...requests[0], headers: { Authorization: "Bearer t-2", "X-Trace": "b" } }, requests[1]]))
    const again = await loamy(["send", "--resume", out, renewed], { timeoutMs: 60_000 })
    expect(again.code, again.stderr).toBe(0)
  }, 120_000)

  it("JSONL on stdin is read up to the file's largest index before anything is sent: a file of a longer input is refused with nothing sent", async () => {
    const longer = makeInput(9)
    const out = write("longer.jsonl", [0, 1, 2, 8].map((i) => recordOf(longer, i)).join("\n") + "\n")
    const shorter = makeInput(6)
    server.resetStats()
    const r = await loamy(["send", "--resume", out, "-"], { stdin: shorter.text, timeoutMs: 60_000 })
    expect(r.code, r.stderr).toBe(2)
    expect(r.stderr).toContain("line 4 has index 8, beyond the input's 6 requests (0 to 5)")
    expect(server.stats.requests).toBe(0)
  }, 60_000)
})

describe("reading a --resume file (in this process, no requests)", () => {
  /** The plan for `file` and the `size` requests of `makeInput(size)` (as a JSON array's, whose size is known at once). */
  const planFor = async (file: string, size: number, retryFailed = false) => {
    const requests = makeInput(size).urls.map((url) => ({ url: url!, httpOp: "GET" as const }))
    const plan = await prepare({ resume: file, retryFailed, shard: undefined }, "-", { kind: "array", requests }, true)
    // Each plan holds the file's lock until released, as a run does.
    plan?.release()
    return plan
  }

  const failedRecordOf = (input: Input, index: number): string =>
    JSON.stringify({ ...JSON.parse(recordOf(input, index)), statusCode: 0, body: null, error: { _tag: "TimeoutError", message: "timed out" } })

  it("property: whole records are kept, a torn last line is cut, --retry-failed drops the failed ones; keep() is what is missing", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 60 }).chain((size) =>
          fc.record({
            size: fc.constant(size),
            done: fc.shuffledSubarray([...Array(size).keys()]),
            failed: fc.array(fc.boolean(), { minLength: size, maxLength: size }),
            tail: fc.oneof(
              fc.constant({ kind: "none" as const, cut: 0 }),
              fc.record({ kind: fc.constantFrom("cut" as const, "nul" as const, "newline" as const, "blanks" as const), cut: fc.nat() })
            ),
            retryFailed: fc.boolean()
          })
        ),
        async ({ size, done, failed, tail, retryFailed }) => {
          const input = makeInput(size)
          const lines = done.map((i) => failed[i] ? failedRecordOf(input, i) : recordOf(input, i))
          // The torn line: part of a record of a missing index (or of index 0), as a crash leaves it.
          const missing = [...Array(size).keys()].find((i) => !done.includes(i)) ?? 0
          const whole = recordOf(input, missing)
          const part = whole.slice(0, 1 + (tail.cut % whole.length)) // 1 to all of its characters
          const torn = tail.kind === "cut"
            ? part // no line end, even when the record is whole
            : tail.kind === "nul"
            ? part.slice(0, -1) + "\0".repeat(1 + (tail.cut % 40))
            : tail.kind === "newline" && part !== whole
            ? part + "\n"
            : tail.kind === "newline"
            ? part.slice(0, -1) + "\n"
            : tail.kind === "blanks"
            // Blanks without a line end are dropped too, after a torn line or not.
            ? (tail.cut % 2 === 0 ? "" : part.slice(0, -1) + "\n") + " \t ".slice(0, 1 + (tail.cut % 3))
            : ""
          const text = lines.map((l) => l + "\n").join("") + torn
          const file = write("state.jsonl", text)
          const plan = (await planFor(file, size, retryFailed))!
          await plan.writer!.close()
          const dropped = new Set(retryFailed ? done.filter((i) => failed[i]) : [])
          const kept = lines.filter((_, n) => !dropped.has(done[n]!))
          expect(fs.readFileSync(file, "utf8")).toBe(kept.map((l) => l + "\n").join(""))
          const keptIndices = new Set(done.filter((i) => !dropped.has(i)))
          for (let i = 0; i < size; i++) expect(plan.keep(i), `index ${i}`).toBe(!keptIndices.has(i))
          expect(plan.sends(size)).toBe(size - keptIndices.size)
          expect(plan.failedBefore).toBe(retryFailed ? 0 : done.filter((i) => failed[i]).length)
          expect(fs.existsSync(`${file}.loamy-rewrite`)).toBe(false)
        }
      ),
      { numRuns: 150 }
    )
  }, 120_000)

  it("property: a file with a line that is not a record of this input is refused, naming the line, and left as it was", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 40 }).chain((size) =>
          fc.record({
            size: fc.constant(size),
            done: fc.shuffledSubarray([...Array(size).keys()], { minLength: 1 }),
            defect: fc.constantFrom("not json", "twice", "beyond", "no index", "not an object", "not a response"),
            at: fc.nat(),
            lineEnd: fc.boolean()
          })
        ),
        async ({ size, done, defect, at, lineEnd }) => {
          const input = makeInput(size)
          const lines = done.map((i) => recordOf(input, i))
          const position = defect === "twice" ? 1 + (at % lines.length) : at % (lines.length + 1)
          const bad = defect === "not json"
            ? "oops, not JSON"
            : defect === "twice"
            ? lines[at % position]!
            : defect === "beyond"
            ? recordOf(makeInput(size + 5), size + (at % 5))
            : defect === "no index"
            ? JSON.stringify({ url: `${server.url}/`, httpOp: "GET" })
            : defect === "not an object"
            ? "[1,2,3]"
            : JSON.stringify({ index: missingOf(size, done), line: 1 })
          lines.splice(position, 0, bad)
          // A defect on the last line without a line end is refused too, unless it starts as a record does: then it
          // is taken as torn (see the property above), so those defects get their line end.
          const recordLike = defect === "twice" || defect === "beyond" || defect === "not a response"
          const text = lines.join("\n") + (lineEnd || recordLike || position < lines.length - 1 ? "\n" : "")
          const file = write("bad-state.jsonl", text)
          const error = await planFor(file, size).then(() => undefined, (e: unknown) => e)
          expect(error, `${defect} at line ${position + 1}`).toBeInstanceOf(BadInput)
          expect((error as Error).message).toContain(`line ${position + 1} `)
          expect((error as Error).message).toContain("nothing sent")
          expect(fs.readFileSync(file, "utf8")).toBe(text)
        }
      ),
      { numRuns: 150 }
    )
  }, 120_000)
})

const missingOf = (size: number, done: ReadonlyArray<number>) => [...Array(size).keys()].find((i) => !done.includes(i)) ?? 0

describe("--retry-failed", () => {
  it("sends the failed requests again and replaces their records: one record per index", async () => {
    // Bodies of 500 bytes fail under --max-body-bytes 100 and come back whole without it.
    const big = new Set([2, 7, 8])
    const input = makeInput(12, { url: (i) => big.has(i) ? `${server.url}/big?bytes=500&i=${i}` : `${server.url}/?i=${i}` })
    const inFile = write("in.jsonl", input.text)
    const out = fresh("out.jsonl")
    const first = await loamy(["send", "-q", "--resume", out, "--max-body-bytes", "100", inFile], { timeoutMs: 60_000 })
    expect(first.code, first.stderr).toBe(1)
    const failed = records(fs.readFileSync(out, "utf8")).filter((r) => r["error"] !== undefined)
    expect(failed.map((r) => r["index"]).sort((a, b) => a - b)).toEqual([2, 7, 8])
    expect(failed.every((r) => r["error"]._tag === "BodyTooLargeError")).toBe(true)

    // Without --retry-failed a complete file is left alone, and its failures give exit 1.
    server.resetStats()
    const plain = await loamy(["send", "--resume", out, inFile], { timeoutMs: 60_000 })
    expect(plain.code).toBe(1)
    expect(plain.stderr).toContain("3 of them failed")
    expect(server.stats.requests).toBe(0)

    // A rewrite left over by an earlier crash does not matter.
    fs.writeFileSync(`${out}.loamy-rewrite`, "left over\n")
    const good = fs.readFileSync(out, "utf8").split("\n").filter((l) => l !== "" && !l.includes("\"error\""))
    server.resetStats()
    const retried = await loamy(["send", "--resume", out, "--retry-failed", inFile], { timeoutMs: 60_000 })
    expect(retried.code, retried.stderr).toBe(0)
    expect(retried.stderr).toContain("3 failed records removed to be sent again")
    expect(sentIndices().sort((a, b) => a - b)).toEqual([2, 7, 8])
    const byIndex = expectComplete(out, input)
    for (const i of big) expect(byIndex.get(i)!["body"]).toHaveLength(498)
    // The good records are kept as they were, in front.
    expect(fs.readFileSync(out, "utf8").startsWith(good.join("\n") + "\n")).toBe(true)
    expect(fs.existsSync(`${out}.loamy-rewrite`)).toBe(false)
  }, 120_000)
})

describe("--retry-failed on stdin", () => {
  it("sends the failed requests again from JSONL on stdin too (read up to the file's largest index first)", async () => {
    const input = makeInput(12, { blankAfter: new Set([1]) })
    const failed = new Set([2, 9])
    const lines = [0, 2, 3, 9, 10].map((i) =>
      failed.has(i)
        ? JSON.stringify({ ...JSON.parse(recordOf(input, i)), statusCode: 0, body: null, error: { _tag: "TimeoutError", message: "timed out" } })
        : recordOf(input, i)
    )
    const out = write("stdin-retry.jsonl", lines.join("\n") + "\n")
    server.resetStats()
    const r = await loamy(["send", "--resume", out, "--retry-failed", "-"], { stdin: input.text, timeoutMs: 60_000 })
    expect(r.code, r.stderr).toBe(0)
    expect(sentIndices().sort((a, b) => a - b)).toEqual([1, 2, 4, 5, 6, 7, 8, 9, 11])
    expectComplete(out, input)
  }, 60_000)
})

describe("--shard", () => {
  it("property: the shards of an input, run side by side, hold every index exactly once", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 25 }),
        fc.integer({ min: 1, max: 3 }),
        fc.boolean(),
        fc.uniqueArray(fc.nat(30), { maxLength: 5 }),
        fc.uniqueArray(fc.nat(30), { maxLength: 3 }),
        async (size, count, array, blanks, invalid) => {
          const input = array
            ? makeInput(size)
            : makeInput(size, { blankAfter: new Set(blanks), invalid: new Set(invalid) })
          const inFile = array
            ? write("in.json", JSON.stringify(input.text.trim() === "" ? [] : input.text.trim().split("\n").map((l) => JSON.parse(l))))
            : write("in.jsonl", input.text)
          const outs = Array.from({ length: count }, (_, i) => fresh(`shard-${i}.jsonl`))
          server.resetStats()
          const runs = await Promise.all(
            outs.map((out, i) => loamy(["send", "-q", "--shard", `${i}/${count}`, "-o", out, inFile], { timeoutMs: 60_000 }))
          )
          const seen = new Map<number, number>()
          runs.forEach((r, i) => {
            const anyInvalid = !array && [...Array(size).keys()].some((k) => k % count === i && input.urls[k] === undefined)
            expect(r.code, r.stderr).toBe(anyInvalid ? 1 : 0)
            for (const record of records(fs.readFileSync(outs[i]!, "utf8"))) {
              const index = record["index"] as number
              expect(index % count, `shard ${i}/${count} wrote index ${index}`).toBe(i)
              expect(seen.has(index), `index ${index} twice`).toBe(false)
              seen.set(index, i)
              if (!array) expect(record["line"]).toBe(input.lines[index])
              if (input.urls[index] !== undefined) expect(record["requestMap"].url).toBe(input.urls[index])
            }
          })
          expect([...seen.keys()].sort((a, b) => a - b)).toEqual([...Array(size).keys()])
          // Skipped lines are not sent: each valid request once, by its own shard.
          expect(sentIndices().sort((a, b) => a - b)).toEqual(
            [...Array(size).keys()].filter((k) => input.urls[k] !== undefined)
          )
        }
      ),
      // Each run starts one process per shard: two runs keep the file's time down on a busy machine.
      { numRuns: 2, endOnFailure: true }
    )
  }, 120_000)

  it("with --resume, each shard completes its own file and refuses another shard's", async () => {
    const input = makeInput(20, { blankAfter: new Set([0, 5]) })
    const inFile = write("in.jsonl", input.text)
    // Shards hold 7, 7 and 6 indices; their files already hold 1, 2 and 2 whole records (the third a torn one too).
    const outs = [0, 1, 2].map((i) => {
      const mine = [...Array(input.size).keys()].filter((k) => k % 3 === i).slice(0, i + 1).map((k) => recordOf(input, k))
      const text = i === 2 ? mine.slice(0, -1).join("\n") + "\n" + mine.at(-1)!.slice(0, 25) : mine.join("\n") + "\n"
      return write(`out-${i}.jsonl`, text)
    })
    const before = fs.readFileSync(outs[0]!, "utf8")
    server.resetStats()
    // Shard 1 given shard 0's file, before and after shard 0 completes it: refused (once the other run on the file
    // is over: while it runs, its lock refuses this one first, with exit 3).
    const early = await loamy(["send", "--shard", "1/3", "--resume", outs[0]!, inFile], { timeoutMs: 60_000 })
    expect(early.code, early.stderr).toBe(2)
    expect(early.stderr).toContain("line 1 has index 0, which is in shard 0/3, not 1/3")
    expect(fs.readFileSync(outs[0]!, "utf8")).toBe(before)
    const resumed = await Promise.all(
      outs.map((out, i) => loamy(["send", "-q", "--shard", `${i}/3`, "--resume", out, inFile], { timeoutMs: 60_000 }))
    )
    resumed.forEach((r) => expect(r.code, r.stderr).toBe(0))
    expect(fs.readFileSync(outs[0]!, "utf8").startsWith(before)).toBe(true)
    const late = await loamy(["send", "--shard", "1/3", "--resume", outs[0]!, inFile], { timeoutMs: 60_000 })
    expect(late.code, late.stderr).toBe(2)
    expect(server.stats.requests).toBe(20 - 1 - 2 - 2)
    const union = fresh("union.jsonl")
    fs.writeFileSync(union, outs.map((out) => fs.readFileSync(out, "utf8")).join(""))
    expectComplete(union, input)
  }, 120_000)
})

describe("interrupted again and again", () => {
  it("a 10,000-request run killed (SIGKILL) 3 to 5 times at random points, then resumed: one record per index", async () => {
    const size = 10_000
    const concurrency = 100
    // Some slow requests, so that a kill finds requests in flight.
    const input = makeInput(size, { url: (i) => `${server.url}/${i % 7 === 0 ? "delay/15" : ""}?i=${i}&kill=1` })
    const inFile = write("kill-in.jsonl", input.text)
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            // Kill once the server has seen this part of the requests missing at the run's start.
            fraction: fc.double({ min: 0.02, max: 0.45, noNaN: true }),
            // Then cut this many bytes off the file's end, as a crash mid-write (or a power loss) would.
            chop: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 600 })),
            ordered: fc.boolean()
          }),
          { minLength: 3, maxLength: 5 }
        ),
        async (kills) => {
          const out = fresh("kill-out.jsonl")
          server.resetStats()
          // Per index: in how many runs it was missing from the file at the run's start (the only runs that may send it).
          const missingAtStart = new Uint8Array(size)
          /** The indices of the whole records in the file now, as `--resume` reads it. */
          const noteMissing = () => {
            const done = new Uint8Array(size)
            const text = fs.existsSync(out) ? fs.readFileSync(out, "utf8") : ""
            const lines = text.split("\n")
            lines.pop() // after the last line end: a torn line or nothing
            for (const [n, line] of lines.entries()) {
              try {
                done[JSON.parse(line).index] = 1
              } catch {
                // Only the last line can be torn (a power-loss cut that ends in a line end).
                expect(n, `${out}: line ${n + 1} of ${lines.length} is not JSON`).toBe(lines.length - 1)
              }
            }
            let missing = 0
            for (let i = 0; i < size; i++) {
              if (done[i] === 0) {
                missingAtStart[i]!++
                missing++
              }
            }
            return missing
          }
          let killed = 0
          for (const kill of kills) {
            const missing = noteMissing()
            const sizeAtStart = fs.existsSync(out) ? fs.statSync(out).size : 0
            const requestsAtStart = server.stats.requests
            const target = requestsAtStart + Math.max(1, Math.floor(missing * kill.fraction))
            const args = ["send", "-q", "-c", String(concurrency), "--resume", out, inFile, ...(kill.ordered ? ["--ordered"] : [])]
            const { child, exited } = spawnLoamy(args)
            let timer: ReturnType<typeof setInterval> | undefined
            // Events, not wall-clock margins: the run's first output bytes, then the server's count.
            const trigger = new Promise<void>((resolve) => {
              timer = setInterval(() => {
                const grown = fs.existsSync(out) && fs.statSync(out).size > sizeAtStart
                if (grown && server.stats.requests >= target) resolve()
              }, 3)
            })
            const outcome = await within(
              Promise.race([trigger.then(() => "trigger" as const), exited.then(() => "exited" as const)]),
              60_000,
              `loamy ${args.join(" ")}`,
              () => child.kill("SIGKILL")
            ).finally(() => clearInterval(timer))
            if (outcome === "trigger") {
              child.kill("SIGKILL")
              const { signal } = await within(exited, 30_000, "the killed loamy")
              expect(signal).toBe("SIGKILL")
              killed++
            } else {
              const { code, stderr } = await exited
              expect(code, stderr).toBe(0)
            }
            if (kill.chop > 0) {
              const now = fs.statSync(out).size
              fs.truncateSync(out, Math.max(0, now - kill.chop))
            }
          }
          noteMissing()
          const last = await loamy(["send", "-c", String(concurrency), "--resume", out, inFile], { timeoutMs: 60_000 })
          expect(last.code, last.stderr).toBe(0)
          expectComplete(out, input)
          // No request was sent by a run that found its record in the file.
          const sends = new Uint32Array(size)
          for (const i of sentIndices()) sends[i]!++
          let extra = 0
          let most = 0
          for (let i = 0; i < size; i++) {
            expect(sends[i], `index ${i}`).toBeGreaterThanOrEqual(1)
            expect(sends[i], `index ${i} sent ${sends[i]} times, missing at ${missingAtStart[i]} starts`)
              .toBeLessThanOrEqual(missingAtStart[i]!)
            extra += sends[i]! - 1
            most = Math.max(most, sends[i]!)
          }
          // What a kill loses: the requests in flight and the records not yet handed to the file (the writer's
          // 64 KiB buffer and one write under way), plus the records a chop cuts.
          const shortest = Math.min(...fs.readFileSync(out, "utf8").split("\n").slice(0, -1).map((l) => l.length + 1))
          const perKill = 2 * concurrency + Math.ceil((3 * 64 * 1024) / shortest) + Math.ceil(600 / shortest) + 1
          expect(extra, `${extra} requests sent again over ${killed} kills`).toBeLessThanOrEqual(killed * perKill)
          expect(killed).toBeGreaterThanOrEqual(Math.min(3, kills.length))
          console.log(
            `kill test: ${killed} kills (${kills.map((k) => `${(k.fraction * 100).toFixed(0)}%${k.chop > 0 ? ` chop ${k.chop}` : ""}`).join(", ")}), ` +
              `${size + extra} requests for ${size} indices, ${extra} sent again, at most ${most} times each`
          )
        }
      ),
      { numRuns: 1, endOnFailure: true }
    )
  }, 120_000)
})
