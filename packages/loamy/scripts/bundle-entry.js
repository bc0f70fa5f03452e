// Makes loamy's two entries what `npm install loamy` gets, a package with no runtime dependency:
//
// - The main entry: bundles dist/index.js and everything it imports (@loamy/core, the parts of effect they use,
//   the parts of undici the layer uses) into one module, dist/internal/index.bundle.js, and makes dist/index.js
//   re-export it. `import "loamy"` then reads one file of about 1 MB instead of some 330 modules (180 of effect,
//   all of undici's index with fetch, WebSocket and the mocks): in a fresh process about a quarter of the time,
//   less than `import "undici"` itself (bench/startup.js). Its declarations, dist/index.d.ts, are bundled too
//   (rollup-plugin-dts), with the types of @loamy/core and effect they name inlined (about 0.26 MB), so a
//   TypeScript project with only `loamy` installed type-checks its calls, strict and without skipLibCheck.
// - `loamy/UndiciHttpClient`, the Effect layer: bundled into dist/UndiciHttpClient.js with undici inlined (the
//   lean module of lean-undici.js) and effect and @loamy/core left as imports, so an Effect program's layer uses
//   the program's own @loamy/core (one copy of its classes and services) and effect, the optional peers; its
//   declarations inline the undici types it names (Dispatcher, Agent), and import effect's and @loamy/core's.
//
// tsc's files are kept beside them as *.tree.js and *.tree.d.ts (not packed); `postpack` runs this with --restore,
// which puts them back, so development always runs and type-checks the module tree.
//
//   node scripts/bundle-entry.js [packageDir]             (default: this package; test/prepare-packed.mjs and
//   node scripts/bundle-entry.js --restore [packageDir]    bench/startup.js bundle a copy)
//
// The bundle sits in dist/internal/ beside the modules whose files the code finds by its own URL (the sync door's
// worker.js). It carries its own copy of @loamy/core and effect: values and errors from `loamy` are not
// instances of the classes `@loamy/core` exports to a program that imports both (loamy's own exports are its
// copy: `isRequestError`, `RequestError` and the error classes from "loamy" match them).
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { nodeEsm } from "./lean-undici.js"

const args = process.argv.slice(2)
const restore = args[0] === "--restore"
const own = fileURLToPath(new URL("..", import.meta.url))
const dir = resolve(args[restore ? 1 : 0] ?? own)
const outfile = join(dir, "dist/internal/index.bundle.js")
/** The files this replaces, each kept as `<name>.tree<ext>` while packed. */
const replaced = ["dist/index.js", "dist/index.d.ts", "dist/UndiciHttpClient.js", "dist/UndiciHttpClient.d.ts"]
const treeOf = (file) => file.replace(/(\.d)?\.js$|\.d\.ts$/, (ext) => `.tree${ext}`)

/** Puts tsc's files back. */
const restoreTrees = () => {
  for (const file of replaced) {
    if (existsSync(join(dir, treeOf(file)))) renameSync(join(dir, treeOf(file)), join(dir, file))
  }
}

if (restore) {
  restoreTrees()
  rmSync(outfile, { force: true })
  process.exit(0)
}

let esbuild, rollup, dts
try {
  esbuild = await import("esbuild")
  ;({ rollup } = await import("rollup"))
  ;({ dts } = await import("rollup-plugin-dts"))
} catch (error) {
  console.error(`bundle-entry: esbuild, rollup and rollup-plugin-dts must be installed (${error.message})`)
  process.exit(1)
}

// A copy being packed (test/prepare-packed.mjs) has no node_modules: its dependencies are this package's.
const nodePaths = [join(own, "node_modules"), join(own, "../../node_modules")]
const isPeer = (id) => /^(effect|@loamy\/core)(\/|$)/.test(id)

/**
 * Bundles declarations with rollup-plugin-dts, inlining every package's types but the `external` ones. It reads
 * this package's own tsc output (a copy has no node_modules to resolve @loamy/core and effect from), the same
 * files the copy was made from, before any of them is replaced: the internal modules' declarations import
 * `../index.js`, which must still be tsc's.
 */
const bundleTypes = async (file, external) => {
  const input = join(own, file)
  const bundle = await rollup({
    input,
    // nodenext resolution, as a consumer's: the packages' `exports` maps (effect/Schema, @loamy/core/LoamyError).
    plugins: [dts({ respectExternal: true, compilerOptions: { module: 199, moduleResolution: 99 } })],
    external: (id) => id.startsWith("node:") || external(id),
    // A warning is an error here: an import rollup cannot resolve is a warning ("treating it as external"),
    // and would leave the packed declarations naming a package the consumer does not have.
    onwarn: (warning) => {
      throw new Error(`bundle-entry: ${file}: ${warning.message}`)
    }
  })
  const { output } = await bundle.generate({ format: "es" })
  await bundle.close()
  // rollup renames by name, not by TypeScript's declaration spaces: effect/Schema declares a value `PropertyKey`
  // (a schema), which it renames `PropertyKey$1`, and with it the global type `PropertyKey` that Schema's
  // `Record.Key` names. Only the value's own declaration (and a `typeof` of it) keeps the new name.
  let code = output[0].code.replace(/(?<!declare const |typeof )\bPropertyKey\$\d+\b/g, "PropertyKey")
  // And it names an import after the namespace member that re-exports it: undici's `import TPoolStats from
  // "./pool-stats"` becomes `PoolStats`, so `namespace Pool { export type PoolStats = TPoolStats }` turns into a
  // type that names itself. The class (and every reference but the member's own name) takes another name.
  for (const [, name] of code.matchAll(/^\s*export type (\w+) = \1;?\s*$/gm)) {
    code = code.replace(new RegExp(`(?<![.\\w$])${name}(?![\\w$])`, "g"), `${name}$$Type`)
      .replace(new RegExp(`^(\\s*export type )${name}\\$Type = `, "m"), `$1${name} = `)
  }
  return code
}

/** Sets tsc's file aside. */
const setAside = (file) => {
  renameSync(join(dir, file), join(dir, treeOf(file)))
  return join(dir, treeOf(file))
}
// Run twice without --restore in between, tsc's files are put back first.
restoreTrees()
if (dir !== own) {
  for (const file of replaced) {
    if (existsSync(join(own, treeOf(file)))) throw new Error(`bundle-entry: ${own} is being packed; run --restore there first`)
  }
}
const types = {
  index: await bundleTypes("dist/index.d.ts", () => false),
  layer: await bundleTypes("dist/UndiciHttpClient.d.ts", isPeer)
}
try {
  await esbuild.build({
    entryPoints: [setAside("dist/index.js")],
    outfile,
    ...nodeEsm,
    // Not minified: a minified bundle loads no faster (V8 compiles functions lazily), and this one's stack traces
    // and error class names stay readable (Node prints an uncaught error's source line).
    minify: false,
    nodePaths
  })
  writeFileSync(
    join(dir, "dist/index.js"),
    `// The bundled entry (scripts/bundle-entry.js); tsc's module tree is in the repository.\nexport * from "./internal/index.bundle.js"\n`
  )
  setAside("dist/index.d.ts")
  writeFileSync(join(dir, "dist/index.d.ts"), types.index)

  await esbuild.build({
    // Bundled after the main entry, whose module tree imports it.
    entryPoints: [setAside("dist/UndiciHttpClient.js")],
    outfile: join(dir, "dist/UndiciHttpClient.js"),
    ...nodeEsm,
    minify: false,
    nodePaths,
    plugins: [
      ...nodeEsm.plugins,
      {
        name: "peers",
        setup: (build) => build.onResolve({ filter: /^(effect|@loamy\/core)(\/|$)/ }, (args) => ({ path: args.path, external: true }))
      }
    ]
  })
  setAside("dist/UndiciHttpClient.d.ts")
  writeFileSync(join(dir, "dist/UndiciHttpClient.d.ts"), types.layer)
} catch (error) {
  restoreTrees()
  throw error
}
// The layer's bundle must import the program's effect and @loamy/core, never carry its own.
const layer = readFileSync(join(dir, "dist/UndiciHttpClient.js"), "utf8")
// esbuild heads each module it bundles with a comment naming its path.
if (/^\/\/ .*\b(effect|core)\/(dist|src)\//m.test(layer) || !/from "@loamy\/core"/.test(layer)) {
  throw new Error("bundle-entry: dist/UndiciHttpClient.js must import effect and @loamy/core, not bundle them")
}
// On stderr: `npm pack --json` prints its JSON on stdout after prepack.
console.error(`bundle-entry: wrote ${outfile}, dist/index.d.ts and dist/UndiciHttpClient.js and .d.ts in ${dir}`)
