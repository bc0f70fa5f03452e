import { fileURLToPath } from "node:url"
import { defineProject } from "vitest/config"

// Tests never leave the machine: name resolution is replaced in every test process, child and worker.
const dnsGuard = fileURLToPath(new URL("../../test/setup/dns-guard-setup.mjs", import.meta.url))

export default defineProject({
  // Each test spawns the CLI, and loading Effect takes about a second per process.
  test: { name: "cli", setupFiles: [dnsGuard], include: ["test/**/*.test.ts"], testTimeout: 30_000, hookTimeout: 30_000 }
})
