// Bundles the `loamy` command (dist/bin.js and everything it imports: effect with effect/cli, @effect/platform-node,
// @loamy/core, loamy's undici layer, the test server for `loamy demo`) into dist/bundle/: loamy.js, which
// bin/loamy.js runs when it is there, and the chunks it imports when a command runs (Cli.ts loads the commands'
// machinery with import(), so `--help` compiles only the first file). A few files start several times faster
// than a few thousand modules, and the published package needs no runtime dependencies. Run by `prepack` and
// by `npm run bundle`; `postpack` removes it again, so that development runs the module tree.
//
// Then it writes dist/bundle/help.json: what the bundle itself prints for every help request (`loamy --help`,
// `loamy COMMAND [SUBCOMMAND] --help` and `-h` for every command of the tree, `loamy --version` and `-v`), plain
// and in colour, so that bin/loamy.js can print it without loading the bundle (see there).
//
//   node scripts/bundle.js [outdir]
import { execFile } from "node:child_process"
import { writeFileSync } from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { nodeEsm } from "../../loamy/scripts/lean-undici.js"

const entry = fileURLToPath(new URL("../dist/bin.js", import.meta.url))
const outdir = process.argv[2] ?? fileURLToPath(new URL("../dist/bundle", import.meta.url))

// loamy's undici layer imports only a few of undici's exports, and undici's CommonJS index (all of undici) cannot be
// tree-shaken: the plugin loamy's own entry bundle uses points "undici" at a module that exports those alone.
let esbuild
try {
  esbuild = await import("esbuild")
} catch {
  console.error("bundle: esbuild is not installed")
  process.exit(1)
}

await esbuild.build({
  entryPoints: { loamy: entry },
  outdir,
  ...nodeEsm,
  splitting: true,
  chunkNames: "chunk-[hash]",
  minify: true,
  metafile: true
}).then((result) => {
  if (process.env.LOAMY_BUNDLE_ANALYZE) console.log(esbuild.analyzeMetafileSync(result.metafile))
})

// Every argv the fast path may answer. The command tree is read from the module tree the bundle was built from
// (dist/Cli.js), so a new command is covered without a list to keep.
const { command } = await import(new URL("../dist/Cli.js", import.meta.url).href)
const CommandSpec = await import("effect/cli/CommandSpec")
const requests = [["--version"], ["-v"]]
const walk = (specPath, typed) => {
  const spec = CommandSpec.resolve(command, specPath)
  if (spec._tag !== "Some") throw new Error(`bundle: no command at ${specPath.join(" ")}`)
  requests.push([...typed, "--help"], [...typed, "-h"])
  for (const sub of spec.value.subcommands) {
    for (const name of [sub.name, sub.alias].filter((n) => n !== undefined)) walk([...specPath, sub.name], [...typed, name])
  }
}
walk([command.name], [])

// What the bundle prints, in each of the two colour settings loamy's help knows (terminal.plain): NO_COLOR=1 and
// FORCE_COLOR=1 decide it whatever the output is. A few run at once; a request that does not exit 0 with its text on
// stdout and nothing on stderr fails the bundle.
const colourless = { ...process.env }
delete colourless.NO_COLOR
delete colourless.FORCE_COLOR
const variants = { plain: { ...colourless, NO_COLOR: "1" }, colour: { ...colourless, FORCE_COLOR: "1" } }
const run = (args, env) =>
  new Promise((resolve, reject) => {
    const options = { env, encoding: "utf8", timeout: 60_000, maxBuffer: 16 << 20 }
    execFile(process.execPath, [path.join(outdir, "loamy.js"), ...args], options, (error, stdout, stderr) => {
      if (error !== null && typeof error.code !== "number") return reject(error)
      resolve({ code: error === null ? 0 : error.code, stdout, stderr })
    })
  })
const jobs = requests.flatMap((args) => Object.entries(variants).map(([variant, env]) => ({ args, variant, env })))
// In the jobs' order, whichever finishes first, so that help.json comes out the same at every build.
const results = new Array(jobs.length)
let next = 0
const worker = async () => {
  for (let i = next++; i < jobs.length; i = next++) results[i] = { ...jobs[i], ...(await run(jobs[i].args, jobs[i].env)) }
}
await Promise.all([worker(), worker(), worker()])

// { texts: [text, ...], argv: { JSON.stringify(args): { plain: index, colour: index } } }: each text once. A text is
// what the command passed to console.log (its stdout without the newline console.log adds), because bin/loamy.js
// prints it with console.log too: the same bytes, and the same handling of a closed stdout (console ignores EPIPE).
const texts = []
const argv = {}
for (const { args, variant, code, stdout, stderr } of results) {
  if (code !== 0 || stderr !== "" || !stdout.endsWith("\n")) {
    throw new Error(`bundle: loamy ${args.join(" ")} (${variant}) exited ${code}: ${stderr}${JSON.stringify(stdout.slice(-20))}`)
  }
  const text = stdout.slice(0, -1)
  let index = texts.indexOf(text)
  if (index === -1) index = texts.push(text) - 1
  ;(argv[JSON.stringify(args)] ??= {})[variant] = index
}
writeFileSync(path.join(outdir, "help.json"), JSON.stringify({ texts, argv }))

// On stderr: `npm pack --json` prints its JSON on stdout after prepack.
console.error(`bundle: wrote ${outdir}`)
