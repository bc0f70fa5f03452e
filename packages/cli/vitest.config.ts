import { defineProject } from "vitest/config"

export default defineProject({
  // Each test spawns the CLI, and loading Effect takes about a second per process.
  test: { name: "cli", include: ["test/**/*.test.ts"], testTimeout: 30_000, hookTimeout: 30_000 }
})
