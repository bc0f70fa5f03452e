import { defineProject } from "vitest/config"

export default defineProject({
  test: { name: "test-server", include: ["test/**/*.test.ts"] }
})
