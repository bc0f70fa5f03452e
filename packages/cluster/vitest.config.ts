import { fileURLToPath } from "node:url"
import { defineProject } from "vitest/config"

// Tests never leave the machine: name resolution is replaced in every test process, child and worker.
const dnsGuard = fileURLToPath(new URL("../test-kit/setup/dns-guard-setup.mjs", import.meta.url))

export default defineProject({
  // The tests start an embedded Postgres and runner processes (about a second of CPU each to load Effect): the
  // waits inside are bounded by events and their own limits; these are the outer bounds.
  test: { name: "cluster", setupFiles: [dnsGuard], include: ["test/**/*.test.ts"], testTimeout: 90_000, hookTimeout: 60_000 }
})
