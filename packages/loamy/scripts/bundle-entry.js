// Bundles loamy's main entry (dist/index.js and everything it imports: @loamy/core, the parts of effect they
// use, the parts of undici the layer uses) into one module, dist/internal/index.bundle.js, and makes
// dist/index.js re-export it, keeping tsc's dist/index.js as dist/index.tree.js (not packed). `import "loamy"`
// then reads one file of about 1 MB instead of some 330 modules (180 of effect, all of undici's
// index with fetch, WebSocket and the mocks): in a fresh process about a quarter of the time, less than
// `import "undici"` itself (bench/startup.js). Run by `prepack`; `postpack` runs it with --restore, which puts
// tsc's dist/index.js back, so development always runs the module tree.
//
//   node scripts/bundle-entry.js [packageDir]             (default: this package; test/prepare-packed.mjs and
//   node scripts/bundle-entry.js --restore [packageDir]    bench/startup.js bundle a copy)
//
// The bundle sits in dist/internal/ beside the modules whose files the code finds by its own URL (the sync door's
// worker.js). It carries its own copy of @loamy/core and effect: values and errors from `loamy` are not
// instances of the classes `@loamy/core` exports to a program that imports both (loamy's own exports are its
// copy: `isRequestError`, `RequestError` and the error classes from "loamy" match them). `loamy/UndiciHttpClient`
// stays the module tree, for use with the program's own @loamy/core and effect.
import { existsSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { nodeEsm } from "./lean-undici.js"

const args = process.argv.slice(2)
const restore = args[0] === "--restore"
const dir = resolve(args[restore ? 1 : 0] ?? fileURLToPath(new URL("..", import.meta.url)))
const entry = join(dir, "dist/index.js")
const tree = join(dir, "dist/index.tree.js")
const outfile = join(dir, "dist/internal/index.bundle.js")

if (restore) {
  if (existsSync(tree)) renameSync(tree, entry)
  rmSync(outfile, { force: true })
  process.exit(0)
}

let esbuild
try {
  esbuild = await import("esbuild")
} catch {
  console.error("bundle-entry: esbuild is not installed")
  process.exit(1)
}

// Run twice without --restore in between, the module tree is still there to bundle.
if (!existsSync(tree)) renameSync(entry, tree)
try {
  await esbuild.build({
    entryPoints: [tree],
    outfile,
    ...nodeEsm,
    // Not minified: a minified bundle loads no faster (V8 compiles functions lazily), and this one's stack traces
    // and error class names stay readable (Node prints an uncaught error's source line).
    minify: false,
    // A copy being packed (test/prepare-packed.mjs) has no node_modules: its dependencies are this package's.
    nodePaths: [fileURLToPath(new URL("../node_modules", import.meta.url)), fileURLToPath(new URL("../../../node_modules", import.meta.url))]
  })
} catch (error) {
  renameSync(tree, entry)
  throw error
}
writeFileSync(entry, `// The bundled entry (scripts/bundle-entry.js); tsc's module tree is in the repository.\nexport * from "./internal/index.bundle.js"\n`)
// On stderr: `npm pack --json` prints its JSON on stdout after prepack.
console.error(`bundle-entry: wrote ${outfile}`)
