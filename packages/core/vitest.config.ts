import { defineProject } from "vitest/config"

export default defineProject({
  // A project does not inherit the root's timeouts; the real-server tests need more than Vitest's 5 s default
  // on a busy machine (their own waits are bounded well below this).
  test: { name: "core", include: ["test/**/*.test.ts"], testTimeout: 30_000, hookTimeout: 30_000 }
})
