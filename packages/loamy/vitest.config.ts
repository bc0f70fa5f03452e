import { defineProject } from "vitest/config"

export default defineProject({
  test: { name: "loamy", include: ["test/**/*.test.ts"] }
})
