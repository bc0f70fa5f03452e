import { fileURLToPath } from "node:url"
import { defineProject } from "vitest/config"

// Tests never leave the machine: name resolution is replaced in every test process, child and worker.
const dnsGuard = fileURLToPath(new URL("../packages/test-kit/setup/dns-guard-setup.mjs", import.meta.url))

export default defineProject({
  // Each example runs in a process of its own against a test server in another one.
  test: { name: "examples", setupFiles: [dnsGuard], include: ["*.test.ts"], testTimeout: 120_000, hookTimeout: 120_000 }
})
