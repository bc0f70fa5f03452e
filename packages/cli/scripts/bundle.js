// Bundles the `loamy` command (dist/bin.js and everything it imports: effect with effect/cli, @effect/platform-node,
// @loamy/core, loamy's undici layer, the test server for `loamy demo`) into dist/bundle/: loamy.js, which
// bin/loamy.js runs when it is there, and the chunks it imports when a command runs (Cli.ts loads the commands'
// machinery with import(), so `--help` compiles only the first file). A few files start several times faster
// than a few thousand modules, and the published package needs no runtime dependencies. Run by `prepack` and
// by `npm run bundle`; `postpack` removes it again, so that development runs the module tree.
//
//   node scripts/bundle.js [outdir]
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
// On stderr: `npm pack --json` prints its JSON on stdout after prepack.
console.error(`bundle: wrote ${outdir}`)
