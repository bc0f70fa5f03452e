import { fileURLToPath } from "node:url"
import { defineProject } from "vitest/config"

// Tests never leave the machine: name resolution is replaced in every test process, child and worker.
const dnsGuard = fileURLToPath(new URL("../test-kit/setup/dns-guard-setup.mjs", import.meta.url))

export default defineProject({
  test: { name: "test-server", setupFiles: [dnsGuard], include: ["test/**/*.test.ts"] }
})
