#!/usr/bin/env node
// The `loamy` command. A packed @loamy/cli holds the bundle, dist/bundle/loamy.js and its chunks (written by
// `prepack`, or by `npm run bundle`, and removed again by `postpack`); in the repository, after `npm run build`, this runs the
// module tree tsc builds, dist/bin.js. This file exists before anything is built, so npm links it as
// node_modules/.bin/loamy at install time.
import module from "node:module"

// node:fs as Node's own module: `import ... from "node:fs"` would build its ES module facade, which reads every
// export and so loads `fs.promises` and fs's streams (34 more of Node's internal modules): about a millisecond of a
// help request's 25.
const { existsSync, readFileSync } = process.getBuiltinModule("node:fs")

// A help request (`loamy --help`, `loamy send -h`, `loamy jobs prune --help`, `loamy --version`) is answered from
// dist/bundle/help.json, which scripts/bundle.js wrote with what the bundle itself printed for that very argv, plain
// and in colour: the same bytes on stdout, nothing on stderr, exit 0, in about the time of `node -e 0` rather than
// the 3.5 times of starting effect/cli (bench/README.md, issue 20). Any other argv, one written differently
// (`loamy --help send`, `loamy send x.jsonl --help`), or no help.json (the repository's module tree) goes to the
// full command below. LOAMY_FULL_HELP=1 always does: the tests compare both ways with it.
const helpText = () => {
  const args = process.argv.slice(2)
  const last = args.at(-1)
  if (last !== "--help" && last !== "-h" && last !== "--version" && last !== "-v") return undefined
  if (process.env.LOAMY_FULL_HELP === "1") return undefined
  let help
  try {
    help = JSON.parse(readFileSync(new URL("../dist/bundle/help.json", import.meta.url), "utf8"))
  } catch {
    return undefined // not bundled: the full command answers
  }
  const key = JSON.stringify(args)
  const found = Object.hasOwn(help?.argv ?? {}, key) ? help.argv[key] : undefined
  if (found === undefined) return undefined
  // The colour rule of the command's help formatter (src/internal/terminal.ts, `plain`), for stdout.
  const noColor = process.env.NO_COLOR
  const force = process.env.FORCE_COLOR
  const plain = noColor !== undefined && noColor !== ""
    ? true
    : force !== undefined && force !== "" && force !== "0" && force !== "false"
    ? false
    : process.stdout.isTTY !== true
  const text = help.texts?.[plain ? found.plain : found.colour]
  return typeof text === "string" ? text : undefined
}

const text = helpText()
if (text !== undefined) {
  // As the command prints it: console.log, which also ignores a stdout closed by its reader (`loamy --help | true`).
  console.log(text)
} else {
  // Node's compile cache (in os.tmpdir()/node-compile-cache, or NODE_COMPILE_CACHE; off with
  // NODE_DISABLE_COMPILE_CACHE=1): from the second run on, the bundle's code is read from V8's cache rather than
  // compiled, which takes about an eighth off the command's start (bench/startup.js, the full command's rows).
  // Only the modules loaded after this line are cached; Node keeps one cache per file and Node version and checks
  // it by content.
  module.enableCompileCache?.()

  const bundle = new URL("../dist/bundle/loamy.js", import.meta.url)
  await import(existsSync(bundle) ? bundle.href : new URL("../dist/bin.js", import.meta.url).href)
}
