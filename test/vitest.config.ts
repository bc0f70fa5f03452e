import { fileURLToPath } from "node:url"
import { defineProject } from "vitest/config"

// Tests never leave the machine: name resolution is replaced in every test process, child and worker.
const dnsGuard = fileURLToPath(new URL("../packages/test-kit/setup/dns-guard-setup.mjs", import.meta.url))

export default defineProject({
  // Packs every package, installs the tarballs into a project outside the workspace and uses them there.
  test: { name: "packed", setupFiles: [dnsGuard], include: ["*.test.ts"], testTimeout: 240_000, hookTimeout: 240_000 }
})
