/**
 * `loamy send`'s flags and the core's options: one source. Every option of
 * the core's schema is a flag (made from its descriptor) or is listed here
 * as deliberately not one, with the reason; `loamy send --help` shows each
 * with its description and default; the README's table of flags lists every
 * flag, with the core's default for the options' flags.
 */
import { Options } from "@loamy/core"
import * as CommandSpec from "effect/cli/CommandSpec"
import * as Option from "effect/Option"
import * as fs from "node:fs"
import { describe, expect, it } from "vitest"
import { command } from "../dist/Cli.js"
import { flagOfOption } from "../dist/internal/optionFlags.js"
import { loamy } from "./helpers.js"

/** Options of the core that `loamy send` deliberately has no flag for, and why. */
const notFlags: Readonly<Record<string, string>> = {
  exactNumbers: "always on: records keep every number of a body digit for digit"
}

const sendSpec = () => Option.getOrThrow(CommandSpec.resolve(command, ["loamy", "send"]))

/** The help line of a flag: the one that starts with its name. */
const lineOf = (help: string, name: string): string | undefined =>
  help.split("\n").find((line) => new RegExp(`^\\s*--${name}[ ,]`).test(line))

describe("loamy send's flags are the core's options", () => {
  it("every option of the core's schema has its flags (or a reason here), with the descriptor's name, alias, placeholder and kind", () => {
    const spec = sendSpec()
    for (const name of Object.keys(Options.OptionsSchema.fields) as Array<Options.OptionName>) {
      const descriptor = Options.descriptors[name]
      if (descriptor.flags.length === 0) {
        expect(notFlags[name], `${name} is no flag, and no reason is given`).toBeDefined()
        continue
      }
      expect(notFlags[name], `${name} has flags`).toBeUndefined()
      for (const flag of descriptor.flags) {
        const found = spec.flags.find((f) => f.name === flag.name)
        expect(found, `--${flag.name} (${name})`).toBeDefined()
        expect(found!.aliases, `--${flag.name}`).toEqual(flag.alias === undefined ? [] : [flag.alias])
        expect(found!.type._tag === "Boolean", `--${flag.name}`).toBe(flag.form === "boolean")
        expect(found!.metavar, `--${flag.name}`).toBe(flag.metavar)
        expect(found!.variadic !== undefined, `--${flag.name}`).toBe(flag.repeatable === true)
        // Not required: an option the command line leaves out is the core's default.
        expect(found!.required, `--${flag.name}`).toBe(false)
      }
    }
    for (const name of Object.keys(notFlags)) expect(Options.descriptors, name).toHaveProperty(name)
  })

  it("an option's error names its flag", () => {
    expect(flagOfOption("concurrency")).toBe("--concurrency")
    expect(flagOfOption("retry.attempts")).toBe("--retry")
    expect(flagOfOption("rateLimit.interval")).toBe("--rate")
    expect(flagOfOption("rateLimit.perOrigin")).toBe("--rate-per-origin")
    expect(flagOfOption("headers.X Y")).toBe("--header")
    expect(flagOfOption("sensitiveHeaders.0")).toBe("--redact")
    expect(flagOfOption("exactNumbers")).toBe("exactNumbers")
    expect(flagOfOption("job")).toBe("job")
    expect(flagOfOption("toString")).toBe("toString")
  })

  it("loamy send --help shows every option's flag with its description and default", async () => {
    const help = await loamy(["send", "--help"])
    expect(help.code).toBe(0)
    for (const [name, descriptor] of Object.entries(Options.descriptors)) {
      for (const flag of descriptor.flags) {
        const line = lineOf(help.stdout, flag.name)
        expect(line, `--${flag.name} (${name}) in send --help`).toBeDefined()
        expect(line).toContain(flag.description ?? descriptor.description)
        if (flag.alias !== undefined) expect(line).toContain(`--${flag.name}, -${flag.alias}`)
        if (flag.metavar !== undefined) expect(line).toContain(flag.metavar)
        // The default of the option a flag sets whole; a flag that sets one field of it (or turns it off) has none.
        if (flag.sets === undefined) expect(line).toContain(`Default ${descriptor.default}.`)
        else expect(line).not.toContain("Default")
      }
    }
  })

  it("the README's table lists every flag of loamy send, with the core's default for the options' flags", () => {
    const readme = fs.readFileSync(new URL("../README.md", import.meta.url), "utf8")
    const table = readme.slice(readme.indexOf("## Flags of `loamy send`"))
    const rows = new Map<string, ReadonlyArray<string>>()
    for (const line of table.split("\n")) {
      const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((cell) => cell.trim())
      const names = cells[0]?.match(/--[a-z0-9-]+/g)
      if (names !== null && names !== undefined) for (const flagName of names) rows.set(flagName, cells)
      if (line.startsWith("## ") && !line.startsWith("## Flags")) break
    }
    const spec = sendSpec()
    for (const flag of spec.flags) {
      if (flag.scope._tag === "Global") continue
      expect(rows.has(`--${flag.name}`), `--${flag.name} in the README's table`).toBe(true)
    }
    for (const descriptor of Object.values(Options.descriptors)) {
      for (const flag of descriptor.flags) {
        if (flag.sets === undefined) expect(rows.get(`--${flag.name}`)?.[2], `--${flag.name}'s default`).toBe(descriptor.default)
      }
    }
  })
})
