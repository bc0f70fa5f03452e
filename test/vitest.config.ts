import { defineProject } from "vitest/config"

export default defineProject({
  // Packs every package, installs the tarballs into a project outside the workspace and uses them there.
  test: { name: "packed", include: ["*.test.ts"], testTimeout: 240_000, hookTimeout: 240_000 }
})
