import { defineProject } from "vitest/config"

export default defineProject({
  // Tests start workers and real servers: Vitest's 5 s default is too short on a busy machine.
  test: { name: "loamy", include: ["test/**/*.test.ts"], testTimeout: 30_000, hookTimeout: 30_000 }
})
