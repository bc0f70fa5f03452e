/**
 * The option vocabulary, declared once: every option in `OptionsSchema` has
 * its descriptor, the README's table lists exactly those options with the
 * same defaults, durations read one grammar (the CLI's and Effect's), and the
 * resolved options cross a wire typed (`ResolvedSchema`).
 */
import { Options } from "@loamy/core"
import { Duration, Result, Schema } from "effect"
import * as fs from "node:fs"
import { describe, expect, expectTypeOf, it } from "vitest"

const decoded = (options: unknown) => Result.getOrThrow(Options.decode(options))
const refusal = (options: unknown) => {
  const result = Options.decode(options)
  return Result.isFailure(result) ? result.failure.message : "accepted"
}

describe("one declaration per option", () => {
  it("every option of the schema has a descriptor, and no descriptor is without an option", () => {
    expect(Object.keys(Options.descriptors)).toEqual(Object.keys(Options.OptionsSchema.fields))
    expectTypeOf<keyof typeof Options.descriptors>().toEqualTypeOf<keyof Options.Options>()
    expectTypeOf<Options.OptionName>().toEqualTypeOf<keyof Options.Options>()
    for (const descriptor of Object.values(Options.descriptors)) {
      expect(descriptor.description.length).toBeGreaterThan(10)
      expect(descriptor.default).not.toBe("")
    }
  })

  it("CLI flags: unique names and aliases, a placeholder for every flag that takes a value", () => {
    const flags = Object.values(Options.descriptors).flatMap((d) => d.flags)
    const names = flags.map((f) => f.name)
    expect(new Set(names).size).toBe(names.length)
    const aliases = flags.flatMap((f) => (f.alias === undefined ? [] : [f.alias]))
    expect(new Set(aliases).size).toBe(aliases.length)
    for (const flag of flags) expect(flag.form === "boolean" || flag.metavar !== undefined).toBe(true)
    expect(Options.descriptors.concurrency.flags).toEqual([{ name: "concurrency", alias: "c", form: "count", metavar: "N" }])
    expect(Options.descriptors.returnExceptions.flags[0]).toMatchObject({ name: "fail-fast", sets: false })
    expect(Options.descriptors.rateLimit.flags.map((f) => f.name)).toEqual(["rate", "rate-per-origin"])
    expect(Options.descriptors.exactNumbers.flags).toEqual([])
  })

  it("the descriptors' defaults are the defaults the decoder applies", () => {
    const none = decoded({})
    expect(Options.descriptors.concurrency.default).toBe(String(none.concurrency))
    expect(Options.descriptors.maxRedirects.default).toBe(String(none.maxRedirects))
    expect(Options.descriptors.reorderBuffer.default).toBe(String(none.reorderBuffer))
    expect(Options.descriptors.timeout.default).toBe("5 minutes")
    expect(none.timeoutMs).toBe(5 * 60_000)
    expect(Options.descriptors.maxBodyBytes.default).toBe("64 MiB")
    expect(none.maxBodyBytes).toBe(64 * 1024 * 1024)
    expect(Options.descriptors.bodyBudget.default).toBe("64 MiB")
    expect(none.bodyBudget).toBe(64 * 1024 * 1024)
    expect(Options.descriptors.returnExceptions.default).toBe(String(!none.failFast))
    expect(Options.descriptors.exactNumbers.default).toBe(String(none.exactNumbers))
    for (const name of ["concurrencyPerOrigin", "deadline", "retry", "rateLimit", "headers", "proxy"] as const) {
      expect(Options.descriptors[name].default).toBe("none")
    }
    expect([none.concurrencyPerOrigin, none.deadlineMs, none.retry, none.rateLimit, none.headers, none.proxy])
      .toEqual([undefined, undefined, undefined, undefined, undefined, undefined])
  })

  it("the README's option table lists exactly the schema's options, with the descriptors' defaults", () => {
    const readme = fs.readFileSync(new URL("../README.md", import.meta.url), "utf8")
    const start = readme.indexOf("| option | type | default | meaning |")
    expect(start).toBeGreaterThan(0)
    const rows = readme.slice(start).split("\n").slice(2)
    const table = rows.slice(0, rows.findIndex((line) => !line.startsWith("|")))
    // Cells are split at pipes that are not escaped (`\|` in a type).
    const cells = table.map((line) => line.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim()))
    const unquoted = (cell: string) => cell.replace(/^`|`$/g, "")
    expect(cells.map((row) => unquoted(row[0]!))).toEqual(Object.keys(Options.OptionsSchema.fields))
    for (const row of cells) {
      const name = unquoted(row[0]!) as Options.OptionName
      expect([name, unquoted(row[2]!)]).toEqual([name, Options.descriptors[name].default])
    }
  })
})

describe("one duration grammar at every door", () => {
  const cases: ReadonlyArray<readonly [unknown, number]> = [
    [500, 500],
    ["500", 500],
    ["250ms", 250],
    ["5s", 5_000],
    ["1.5m", 90_000],
    ["2m", 120_000],
    ["2h", 7_200_000],
    ["1d", 86_400_000],
    ["5 seconds", 5_000],
    ["500 millis", 500],
    [" 10 S ", 10_000],
    [Duration.seconds(3), 3_000],
    [[2, 500_000_000], 2_500]
  ]
  for (const [input, ms] of cases) {
    it(`${JSON.stringify(input)} is ${ms} ms, as timeout, deadline and retry delays`, () => {
      expect(decoded({ timeout: input }).timeoutMs).toBe(ms)
      expect(decoded({ deadline: input }).deadlineMs).toBe(ms)
      expect(decoded({ retry: { baseDelay: input } }).retry?.baseDelayMs).toBe(ms)
      if (typeof input === "string") expect(Options.parseDuration(input)).toBe(ms)
    })
  }

  it("Infinity, as a number or text, is no bound", () => {
    expect(decoded({ timeout: Infinity }).timeoutMs).toBeUndefined()
    expect(decoded({ timeout: "Infinity" }).timeoutMs).toBeUndefined()
    expect(Options.parseDuration("Infinity")).toBe(Infinity)
  })

  it("anything else is refused, naming the option and showing the value", () => {
    expect(refusal({ timeout: "5x" })).toBe("Invalid option timeout: the string \"5x\" is not a duration")
    expect(refusal({ timeout: "5 fortnights" })).toMatch(/^Invalid option timeout: .* is not a duration$/)
    expect(refusal({ timeout: true })).toBe("Invalid option timeout: the boolean true is not a duration")
    // Effect reads plain objects ({ seconds: 5 }); an option of the wrong shape must not become a duration.
    expect(refusal({ timeout: { seconds: 5 } })).toMatch(/^Invalid option timeout: .* is not a duration$/)
    expect(refusal({ deadline: -5 })).toBe("Invalid option deadline: must be positive")
    expect(refusal({ timeout: "0s" })).toBe("Invalid option timeout: must be positive")
    expect(Options.parseDuration("5x")).toBeUndefined()
    expect(Options.parseDuration("")).toBeUndefined()
  })

  it("rates: N/INTERVAL as rateLimit, or its object", () => {
    expect(Options.parseRate("10/1s")).toEqual({ limit: 10, intervalMs: 1_000 })
    expect(Options.parseRate("5/s")).toEqual({ limit: 5, intervalMs: 1_000 })
    expect(Options.parseRate("100/500ms")).toEqual({ limit: 100, intervalMs: 500 })
    expect(Options.parseRate("0/1s")).toBeUndefined()
    expect(Options.parseRate("10")).toBeUndefined()
    expect(decoded({ rateLimit: "10/1s" }).rateLimit).toEqual({ limit: 10, intervalMs: 1_000, perOrigin: false })
    expect(decoded({ rateLimit: { limit: 2, interval: "250ms", perOrigin: true } }).rateLimit)
      .toEqual({ limit: 2, intervalMs: 250, perOrigin: true })
    expect(refusal({ rateLimit: "ten per second" })).toMatch(/^Invalid option rateLimit: .* is not N\/INTERVAL/)
    expect(refusal({ rateLimit: { limit: 2 } })).toBe("Invalid option rateLimit.interval: is required")
  })
})

describe("Options.ResolvedSchema: the resolved options on a wire", () => {
  const Json = Schema.toCodecJson(Options.ResolvedSchema)
  const roundTrip = (resolved: Options.Resolved): Options.Resolved =>
    Schema.decodeUnknownSync(Json)(JSON.parse(JSON.stringify(Schema.encodeSync(Json)(resolved))))

  it("round-trips through JSON, absent bounds included, and comes back resolved", () => {
    for (
      const options of [
        {},
        { timeout: Infinity, concurrency: 7, concurrencyPerOrigin: 2, returnExceptions: false },
        { retry: { attempts: 4, statuses: [503] }, rateLimit: "3/1s", headers: { "x-a": "1" }, proxy: "env" },
        { sensitiveHeaders: ["x-secret"], exactNumbers: true, maxBodyBytes: 0, deadline: "1m" }
      ]
    ) {
      const resolved = decoded(options)
      const back = roundTrip(resolved)
      expect(Options.isResolved(back)).toBe(true)
      expect({ ...back }).toEqual({ ...resolved })
      // Decoding it again gives it back as it is.
      expect(Result.getOrThrow(Options.decode(back))).toBe(back)
    }
  })

  it("refuses a value of the wrong shape", () => {
    const wire = JSON.parse(JSON.stringify(Schema.encodeSync(Json)(decoded({}))))
    expect(() => Schema.decodeUnknownSync(Json)({ ...wire, concurrency: "100" })).toThrow(/concurrency/)
    expect(() => Schema.decodeUnknownSync(Json)({ ...wire, retry: { attempts: 2 } })).toThrow(/retry/)
  })
})
