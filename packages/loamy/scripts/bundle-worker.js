// Bundles the synchronous door's worker (workerMain.js and everything it imports) into one file,
// dist/internal/worker.bundle.js, which the worker loads instead of the module tree when it is there.
// Loading one file instead of a few hundred modules makes the first synchronous call about 3x faster.
// Run by `prepack` (and removed again by `postpack`), so development always runs the module tree.
//
//   node scripts/bundle-worker.js [outfile]
import { fileURLToPath } from "node:url"

const entry = fileURLToPath(new URL("../dist/internal/workerMain.js", import.meta.url))
const outfile = process.argv[2] ?? fileURLToPath(new URL("../dist/internal/worker.bundle.js", import.meta.url))

let esbuild
try {
  esbuild = await import("esbuild")
} catch {
  console.error("bundle-worker: esbuild is not installed; the worker will load its modules one by one")
  process.exit(1)
}

await esbuild.build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  minify: true,
  platform: "node",
  format: "esm",
  target: "node20",
  legalComments: "none",
  // undici is CommonJS and requires Node built-ins.
  banner: { js: "import { createRequire as __loamyRequire } from 'node:module'; const require = __loamyRequire(import.meta.url);" },
  logLevel: "warning"
})
console.log(`bundle-worker: wrote ${outfile}`)
