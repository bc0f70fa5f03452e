import { fileURLToPath } from "node:url"
import { defineProject } from "vitest/config"

// Tests never leave the machine: name resolution is replaced in every test process, child and worker.
const dnsGuard = fileURLToPath(new URL("../test-kit/setup/dns-guard-setup.mjs", import.meta.url))

export default defineProject({
  // Each test spawns the CLI, and loading Effect takes about a second of CPU per process: on a busy two-core
  // machine a test that starts several took over 20 s. Each spawn is bounded by 60 s (test/helpers.ts).
  test: { name: "cli", setupFiles: [dnsGuard], include: ["test/**/*.test.ts"], testTimeout: 120_000, hookTimeout: 30_000 }
})
