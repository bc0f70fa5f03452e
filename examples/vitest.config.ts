import { defineProject } from "vitest/config"

export default defineProject({
  // Each example runs in a process of its own against a test server in another one.
  test: { name: "examples", include: ["*.test.ts"], testTimeout: 120_000, hookTimeout: 120_000 }
})
