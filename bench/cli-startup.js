// How fast `loamy --help` starts, and how much `npm install @loamy/cli` weighs, as a user gets it: packs
// @loamy/cli (its prepack bundles the command into one file), installs the tarball into a temp project and times
// its bin against `node -e 0` and against the module tree tsc builds (dist/bin.js, what the CLI shipped before
// the bundle). Prints medians and ratios. Not part of `npm test`.
//
//   npm run bench:cli-startup         # tsc -b && node bench/cli-startup.js
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

  // CPU time (user + system) as well as wall time where GNU time is there: on a busy machine wall time mostly
  // measures the wait for a core, CPU time much less so.
  const gnuTime = fs.existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const time = (args) => {
    const ms = []
    const cpu = []
    for (let i = 0; i < runs + 2; i++) {
      const started = process.hrtime.bigint()
      const r = gnuTime === undefined
        ? spawnSync(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, NO_COLOR: "1" } })
        : spawnSync(gnuTime, ["-f", "cpu %U %S", process.execPath, ...args], {
          stdio: ["ignore", "ignore", "pipe"],
          encoding: "utf8",
          env: { ...process.env, NO_COLOR: "1" }
        })
      const elapsed = Number(process.hrtime.bigint() - started) / 1e6
      if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}: ${r.stderr}`)
      if (i < 2) continue // two warm-ups: the file cache
      ms.push(elapsed)
      const m = /cpu ([\d.]+) ([\d.]+)/.exec(String(r.stderr))
      if (m) cpu.push((Number(m[1]) + Number(m[2])) * 1000)
    }
    ms.sort((a, b) => a - b)
    return { median: median(ms), min: ms[0], max: ms[ms.length - 1], cpu: cpu.length > 0 ? median(cpu) : NaN }
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
  const baseCpu = rows[0][1].cpu
  console.log("| command | median ms | min ms | max ms | × node -e 0 | CPU ms (median) | CPU × node -e 0 |")
  console.log("|---|---:|---:|---:|---:|---:|---:|")
  for (const [name, t] of rows) {
    console.log(
      `| ${name} | ${t.median.toFixed(0)} | ${t.min.toFixed(0)} | ${t.max.toFixed(0)} | ${(t.median / base).toFixed(2)} | ` +
        `${t.cpu.toFixed(0)} | ${(t.cpu / baseCpu).toFixed(2)} |`
    )
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true })
}
