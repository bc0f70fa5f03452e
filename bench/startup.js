// Issue 20's start-up and install rows, as a user gets them: packs @loamy/core, loamy and @loamy/cli (their
// prepack bundling done on a copy, as test/prepare-packed.mjs does, so the repository's dist/ is not touched),
// installs them (loamy alone, and beside its optional peers @loamy/core and effect) and the clients they are
// compared with (undici at the version loamy bundles, ky, got) into blank projects under os.tmpdir(), each with
// one `npm install`, and prints
//
// - the bytes of each project's node_modules (files' sizes, as `du -b` counts them) and its package count;
// - the time of an import in a fresh process, for each client and for @loamy/core against `effect/http` plus
//   `effect/Schema`: `performance.now()` around the dynamic import inside the child, the child's CPU time
//   (`process.cpuUsage()` at exit, all threads) and the process's wall time seen by this script;
// - `loamy --help` (the installed @loamy/cli bin) against `node -e 0`, wall and CPU time.
//
// On a machine shared with other jobs the wall times mostly measure the wait for a core; CPU time much less so.
//
// Rows are interleaved: each round runs every row once, in an order shuffled per round, so the machine's drift
// lands on every row alike. Medians, quartiles and min/max over the rounds; the ratios are of medians.
// Runs with the Node that runs it (the children use process.execPath); npm is the one on PATH.
//
//   node bench/startup.js                 # tsc -b first (npm run bench:startup does both)
//   RUNS=41 node bench/startup.js         # rounds (default 31), after 2 warm-up rounds
//   STARTUP_KEEP=1 node bench/startup.js  # keep the projects, print where they are
//   STARTUP_DIR=/tmp/loamy-startup-xyz node bench/startup.js   # reuse kept projects (e.g. on another Node)
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const runs = Number(process.env.RUNS ?? 31)
const npm = process.platform === "win32" ? "npm.cmd" : "npm"
// npm's cache for these installs: one of our own, kept between runs, so that a second run reads the tarballs
// from disk (the registry is asked for metadata only).
const cache = path.join(os.tmpdir(), "loamy-bench-npm-cache")
const env = { ...process.env, npm_config_cache: cache, npm_config_update_notifier: "false", NO_COLOR: "1" }
const readJson = (file) => JSON.parse(fs.readFileSync(file, "utf8"))
// The undici loamy bundles (a devDependency: the packed loamy has no dependencies).
const undiciVersion = readJson(path.join(root, "packages/loamy/package.json")).devDependencies.undici

// The scripts each package's prepack runs, with where they write (relative to the package).
const prepackOnCopy = {
  loamy: [["scripts/bundle-worker.js", "dist/internal/worker.bundle.js"], ["scripts/bundle-entry.js", "."]],
  cli: [["scripts/bundle.js", "dist/bundle"]]
}
const sh = (file, args, cwd) =>
  execFileSync(file, args, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 300_000, maxBuffer: 64 << 20 })

const du = (dir) => {
  let bytes = 0
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name)
    if (entry.isDirectory()) bytes += du(p)
    else if (entry.isFile()) bytes += fs.statSync(p).size
  }
  return bytes
}
/** Installed packages (node_modules/*, node_modules/@scope/*, nested ones included). */
const countPackages = (dir) => {
  let n = 0
  if (!fs.existsSync(dir)) return 0
  for (const name of fs.readdirSync(dir)) {
    if (name.startsWith(".")) continue
    if (name.startsWith("@")) {
      for (const sub of fs.readdirSync(path.join(dir, name))) n += 1 + countPackages(path.join(dir, name, sub, "node_modules"))
    } else n += 1 + countPackages(path.join(dir, name, "node_modules"))
  }
  return n
}

const project = (dir, extra = {}) => {
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: `startup-${path.basename(dir)}`, private: true, type: "module", ...extra }))
  return dir
}

const keep = process.env.STARTUP_KEEP === "1" || process.env.STARTUP_DIR !== undefined
const tmp = process.env.STARTUP_DIR ?? fs.mkdtempSync(path.join(os.tmpdir(), "loamy-startup-"))
const dirs = { loamy: "loamy", loamyEffect: "loamy-effect", core: "core", cli: "cli", undici: "undici", ky: "ky", got: "got" }
for (const k of Object.keys(dirs)) dirs[k] = path.join(tmp, dirs[k])

try {
  if (process.env.STARTUP_DIR === undefined) {
    const started = performance.now()
    const into = path.join(tmp, "tarballs")
    fs.mkdirSync(into, { recursive: true })
    const tarballs = {}
    for (const name of ["core", "loamy", "cli"]) {
      const source = path.join(root, "packages", name)
      const copy = path.join(tmp, "src", name)
      fs.mkdirSync(copy, { recursive: true })
      for (const entry of ["package.json", "README.md", "LICENSE", "dist", "src", "bin"]) {
        if (fs.existsSync(path.join(source, entry))) fs.cpSync(path.join(source, entry), path.join(copy, entry), { recursive: true })
      }
      // What prepack does, run from the repository (where esbuild is) and writing into the copy.
      for (const [script, out] of prepackOnCopy[name] ?? []) sh(process.execPath, [path.join(source, script), path.join(copy, out)], root)
      const [result] = JSON.parse(sh(npm, ["pack", "--ignore-scripts", "--json", "--pack-destination", into], copy))
      tarballs[name] = path.join(into, result.filename)
    }
    const install = (dir, specs, extra) =>
      sh(npm, ["install", "--prefer-offline", "--no-audit", "--no-fund", ...specs], project(dir, extra))
    const effect = `effect@${readJson(path.join(root, "packages/cli/package.json")).devDependencies.effect}`
    // loamy has no dependencies (its entry and its layer are bundles): `npm install <loamy>` installs it alone.
    install(dirs.loamy, [tarballs.loamy])
    // An Effect program on loamy/UndiciHttpClient installs loamy's optional peers beside it.
    install(dirs.loamyEffect, [tarballs.loamy, tarballs.core, effect])
    // @loamy/core names effect as a peer: a user of the Effect door installs both.
    install(dirs.core, [tarballs.core, effect])
    install(dirs.cli, [tarballs.cli])
    install(dirs.undici, [`undici@${undiciVersion}`])
    install(dirs.ky, ["ky"])
    install(dirs.got, ["got"])
    console.log(`packed and installed in ${((performance.now() - started) / 1000).toFixed(0)} s under ${tmp}`)
  }

  const version = (dir, name) => readJson(path.join(dir, "node_modules", name, "package.json")).version
  const sizes = [
    ["loamy", dirs.loamy, "npm install <loamy>"],
    ["loamy + @loamy/core + effect", dirs.loamyEffect, "npm install <loamy> <@loamy/core> effect"],
    ["@loamy/core + effect", dirs.core, "npm install <@loamy/core> effect"],
    ["@loamy/cli", dirs.cli, "npm install <@loamy/cli>"],
    [`undici ${version(dirs.undici, "undici")}`, dirs.undici, "npm install undici"],
    [`ky ${version(dirs.ky, "ky")}`, dirs.ky, "npm install ky"],
    [`got ${version(dirs.got, "got")}`, dirs.got, "npm install got"]
  ].map(([name, dir, command]) => {
    const nm = path.join(dir, "node_modules")
    const top = fs.readdirSync(nm).filter((n) => !n.startsWith(".")).flatMap((n) =>
      n.startsWith("@") ? fs.readdirSync(path.join(nm, n)).map((s) => `${n}/${s}`) : [n]
    )
    const each = top.map((n) => [n, du(path.join(nm, n))]).sort((a, b) => b[1] - a[1])
    return { name, command, bytes: du(nm), packages: countPackages(nm), each }
  })

  // Every child reports its CPU time (user + system, all threads) on stderr as it exits, through a module run
  // before its main one (`--import`; cheap beside the rows, and the same for each). The import rows also time
  // the import itself, around a dynamic import inside the child, and print it on stdout.
  const cpuHook = `data:text/javascript,process.on("exit",()=>{const c=process.cpuUsage();process.stderr.write("\\ncpu-ms "+(c.user+c.system)/1000+"\\n")})`
  const child = (specs) =>
    [
      "--input-type=module",
      "-e",
      `const t0 = performance.now(); await Promise.all(${JSON.stringify(specs)}.map((s) => import(s)));` +
      `console.log("import-ms " + (performance.now() - t0))`
    ]
  const rows = [
    { name: "node -e 0", cwd: tmp, args: ["-e", "0"] },
    { name: "import undici", cwd: dirs.undici, args: child(["undici"]) },
    { name: "import loamy", cwd: dirs.loamy, args: child(["loamy"]) },
    { name: "import ky", cwd: dirs.ky, args: child(["ky"]) },
    { name: "import got", cwd: dirs.got, args: child(["got"]) },
    { name: "import @loamy/core", cwd: dirs.core, args: child(["@loamy/core"]) },
    { name: "import effect/http + effect/Schema", cwd: dirs.core, args: child(["effect/http", "effect/Schema"]) },
    { name: "loamy --help", cwd: dirs.cli, args: [path.join(dirs.cli, "node_modules/@loamy/cli/bin/loamy.js"), "--help"] },
    // The bin prints the help recorded in dist/bundle/help.json; LOAMY_FULL_HELP=1 starts the command for it, as
    // before: with Node's compile cache, which the warm-up rounds fill, and without it (a first run's cost).
    {
      name: "loamy --help, the full command",
      cwd: dirs.cli,
      env: { LOAMY_FULL_HELP: "1" },
      args: [path.join(dirs.cli, "node_modules/@loamy/cli/bin/loamy.js"), "--help"]
    },
    {
      name: "loamy --help, the full command, compile cache off",
      cwd: dirs.cli,
      env: { LOAMY_FULL_HELP: "1", NODE_DISABLE_COMPILE_CACHE: "1" },
      args: [path.join(dirs.cli, "node_modules/@loamy/cli/bin/loamy.js"), "--help"]
    },
    // The repository's loamy as tsc builds it (a module tree, no bundle), for comparison with the packed one.
    { name: "import loamy (repository dist/)", cwd: root, args: child([path.join(root, "packages/loamy/dist/index.js")]) }
  ]
  for (const row of rows) Object.assign(row, { wall: [], importMs: [], cpuMs: [] })
  const shuffle = (xs) => {
    const a = [...xs]
    for (let i = a.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1))
      ;[a[i], a[j]] = [a[j], a[i]]
    }
    return a
  }
  for (let round = 0; round < runs + 2; round++) {
    for (const row of shuffle(rows)) {
      const started = process.hrtime.bigint()
      const r = spawnSync(process.execPath, ["--import", cpuHook, ...row.args], { cwd: row.cwd, env: row.env === undefined ? env : { ...env, ...row.env }, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 })
      const wall = Number(process.hrtime.bigint() - started) / 1e6
      if (r.status !== 0) throw new Error(`${row.name} exited ${r.status}: ${r.stderr}`)
      if (round < 2) continue // warm-ups: the file cache
      row.wall.push(wall)
      row.cpuMs.push(Number(/cpu-ms ([\d.]+)/.exec(r.stderr)[1]))
      const m = /import-ms ([\d.]+)/.exec(r.stdout)
      if (m) row.importMs.push(Number(m[1]))
    }
  }
  const q = (xs, p) => {
    const s = [...xs].sort((a, b) => a - b)
    return s[Math.min(s.length - 1, Math.floor(p * s.length))]
  }
  const stats = (xs) => xs.length === 0 ? undefined : { med: q(xs, 0.5), q1: q(xs, 0.25), q3: q(xs, 0.75), min: q(xs, 0), max: q(xs, 1) }
  for (const row of rows) for (const k of ["wall", "importMs", "cpuMs"]) row[k] = stats(row[k])
  const by = Object.fromEntries(rows.map((r) => [r.name, r]))
  const cell = (s) => s === undefined ? "" : `${s.med.toFixed(1)} (${s.q1.toFixed(0)}-${s.q3.toFixed(0)}; ${s.min.toFixed(0)}-${s.max.toFixed(0)})`

  console.log(
    `node ${process.version}, npm ${sh(npm, ["--version"], tmp).trim()}, ${os.cpus().length} cores, ` +
      `${runs} interleaved rounds (after 2 warm-ups), load average ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`
  )
  console.log("\n| install | node_modules bytes | packages | largest |")
  console.log("|---|---:|---:|---|")
  for (const s of sizes) {
    const largest = s.each.slice(0, 3).map(([n, b]) => `${n} ${(b / 1e6).toFixed(2)} MB`).join(", ")
    console.log(`| \`${s.command}\` (${s.name}) | ${(s.bytes / 1e6).toFixed(2)} MB | ${s.packages} | ${largest} |`)
  }
  console.log("\nms: median (quartiles; min-max)\n")
  console.log("| row | import ms, in the child | child CPU ms | process wall ms |")
  console.log("|---|---|---|---|")
  for (const row of rows) console.log(`| ${row.name} | ${cell(row.importMs)} | ${cell(row.cpuMs)} | ${cell(row.wall)} |`)

  const ratio = (a, b, k) => (by[a][k].med / by[b][k].med).toFixed(2)
  const undiciBytes = sizes.find((s) => s.name.startsWith("undici")).bytes
  console.log("\n| goal (issue 20) | ratio | goal |")
  console.log("|---|---|---|")
  console.log(`| import loamy / import undici | ${ratio("import loamy", "import undici", "importMs")} import, ${ratio("import loamy", "import undici", "cpuMs")} CPU, ${ratio("import loamy", "import undici", "wall")} wall | <= 1.5 |`)
  console.log(`| import ky, got / import undici | ${ratio("import ky", "import undici", "importMs")}, ${ratio("import got", "import undici", "importMs")} import | |`)
  console.log(`| import @loamy/core / effect/http + effect/Schema | ${ratio("import @loamy/core", "import effect/http + effect/Schema", "importMs")} import, ${ratio("import @loamy/core", "import effect/http + effect/Schema", "cpuMs")} CPU, ${ratio("import @loamy/core", "import effect/http + effect/Schema", "wall")} wall | <= 1.2 |`)
  console.log(`| loamy --help / node -e 0 | ${ratio("loamy --help", "node -e 0", "wall")} wall, ${ratio("loamy --help", "node -e 0", "cpuMs")} CPU | <= 1.5 |`)
  console.log(`| npm install loamy / npm install undici, bytes | ${(sizes[0].bytes / undiciBytes).toFixed(2)} | <= 3 |`)
  const bytesOf = (name) => (sizes.find((s) => s.name.startsWith(name)).bytes / undiciBytes).toFixed(2)
  console.log(`| npm install @loamy/cli, ky, got / undici, bytes | ${bytesOf("@loamy/cli")}, ${bytesOf("ky")}, ${bytesOf("got")} | |`)
} finally {
  if (keep) console.log(`projects kept under ${tmp}`)
  else fs.rmSync(tmp, { recursive: true, force: true })
}
