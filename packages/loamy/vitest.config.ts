import { defineProject } from "vitest/config"

export default defineProject({
  // A project does not inherit the root's timeouts; the consumer tests start Node processes that take more than
  // Vitest's 5 s default on a busy machine (as in packages/core).
  test: { name: "loamy", include: ["test/**/*.test.ts"], testTimeout: 30_000, hookTimeout: 30_000 }
})
