import { fileURLToPath } from "node:url"
import { defineProject } from "vitest/config"

// Tests never leave the machine: name resolution is replaced in every test process, child and worker.
const dnsGuard = fileURLToPath(new URL("./setup/dns-guard-setup.mjs", import.meta.url))

export default defineProject({
  // The doors' file runs the CLI as a process per call (about half a second of CPU each on a quiet machine).
  test: { name: "test-kit", setupFiles: [dnsGuard], include: ["test/**/*.test.ts"], testTimeout: 120_000, hookTimeout: 30_000 }
})
