// How fast `loamy --help` starts, and how much `npm install @loamy/cli` weighs, as a user gets it: packs
// @loamy/cli (its prepack bundles the command into one file), installs the tarball into a temp project and times
// its bin against `node -e 0` and against the module tree tsc builds (dist/bin.js, what the CLI shipped before
// the bundle). Prints medians and ratios. Not part of `npm test`.
//
//   npm run bench:startup             # tsc -b && node bench/cli-startup.js
//   RUNS=30 node bench/cli-startup.js
import { execFileSync, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const runs = Number(process.env.RUNS ?? 15)
const npm = process.platform === "win32" ? "npm.cmd" : "npm"

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "loamy-cli-startup-"))
try {
  const out = execFileSync(npm, ["pack", "--json", "--pack-destination", tmp], {
    cwd: path.join(root, "packages/cli"),
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 120_000
  })
  const tarball = path.join(tmp, JSON.parse(out)[0].filename)
  const project = path.join(tmp, "project")
  fs.mkdirSync(project)
  fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "startup", private: true }))
  execFileSync(npm, ["install", "--prefer-offline", "--no-audit", "--no-fund", tarball], {
    cwd: project,
    stdio: ["ignore", "ignore", "inherit"],
    timeout: 120_000
  })

  const du = (dir) => {
    let bytes = 0
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name)
      if (entry.isDirectory()) bytes += du(p)
      else if (entry.isFile()) bytes += fs.statSync(p).size
    }
    return bytes
  }
  const installed = du(path.join(project, "node_modules"))
  const packages = fs.readdirSync(path.join(project, "node_modules")).filter((name) => !name.startsWith("."))

  const time = (args) => {
    const ms = []
    for (let i = 0; i < runs + 2; i++) {
      const started = process.hrtime.bigint()
      const r = spawnSync(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, NO_COLOR: "1" } })
      const elapsed = Number(process.hrtime.bigint() - started) / 1e6
      if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}: ${r.stderr}`)
      if (i >= 2) ms.push(elapsed) // two warm-ups: the file cache
    }
    ms.sort((a, b) => a - b)
    return { median: ms[Math.floor(ms.length / 2)], min: ms[0], max: ms[ms.length - 1] }
  }

  const rows = [
    ["node -e 0", ["-e", "0"]],
    ["loamy --help (installed bundle)", [path.join(project, "node_modules/@loamy/cli/bin/loamy.js"), "--help"]],
    ["loamy --version (installed bundle)", [path.join(project, "node_modules/@loamy/cli/bin/loamy.js"), "--version"]],
    ["dist/bin.js --help (module tree)", [path.join(root, "packages/cli/dist/bin.js"), "--help"]]
  ].map(([name, args]) => [name, time(args)])
  const base = rows[0][1].median

  console.log(`node ${process.version}, ${os.cpus().length} cores, ${runs} runs each (after 2 warm-ups), load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`)
  console.log(`npm install @loamy/cli: ${(installed / 1e6).toFixed(2)} MB in node_modules, packages: ${packages.join(", ")}`)
  console.log("")
  console.log("| command | median ms | min ms | max ms | × node -e 0 |")
  console.log("|---|---:|---:|---:|---:|")
  for (const [name, t] of rows) {
    console.log(`| ${name} | ${t.median.toFixed(0)} | ${t.min.toFixed(0)} | ${t.max.toFixed(0)} | ${(t.median / base).toFixed(2)} |`)
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true })
}
