/**
 * The README's option sections against the one declaration of the options (`@loamy/core`'s `OptionsSchema`):
 * adding an option there without documenting it here fails this test, as does a section for one that is gone.
 */
import { Options } from "@loamy/core"
import { readFileSync } from "node:fs"
import { describe, expect, it } from "vitest"

const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8")

/** The `#### name` headings of the `### options` section, names split at commas. */
const documented = (): ReadonlyArray<string> => {
  const start = readme.indexOf("\n### options\n")
  const end = readme.indexOf("\n### ", start + 1)
  expect(start).toBeGreaterThan(0)
  return readme.slice(start, end).split("\n").filter((line) => line.startsWith("#### ")).flatMap((line) =>
    line.slice(5).split(",").map((name) => name.trim())
  )
}

/** Only the Promise door's (and `streamRequests`' `ordered`), set aside before the core decodes the rest. */
const promiseOnly = ["signal", "onProgress", "progressInterval", "ordered"]
/** Options the doors do not take: none since `streamRequests` has ordered output (`reorderBuffer`). */
const notHere: ReadonlyArray<string> = []

describe("README", () => {
  it("documents every option of the core's schema that the doors take, and no other", () => {
    const schema = Object.keys(Options.OptionsSchema.fields).filter((name) => !notHere.includes(name))
    expect([...documented()].sort()).toEqual([...schema, ...promiseOnly].sort())
  })
})
