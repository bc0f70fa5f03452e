import { fileURLToPath } from "node:url"
import { defineProject } from "vitest/config"

// Tests never leave the machine: name resolution is replaced in every test process, child and worker.
const dnsGuard = fileURLToPath(new URL("../test-kit/setup/dns-guard-setup.mjs", import.meta.url))

export default defineProject({
  // A project does not inherit the root's timeouts; the real-server tests need more than Vitest's 5 s default
  // on a busy machine (their own waits are bounded well below this).
  test: { name: "core", setupFiles: [dnsGuard], include: ["test/**/*.test.ts"], testTimeout: 30_000, hookTimeout: 30_000 }
})
