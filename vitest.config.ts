import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    // packages/*: each package's tests; examples: every example run against the test server; test: the packed
    // tarballs installed outside the workspace.
    projects: ["packages/*", "examples", "test"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // The JSON report is what .ci/run counts; the default reporter is for people.
    reporters: ["default", "json"],
    outputFile: { json: ".vitest-report.json" }
  }
})
