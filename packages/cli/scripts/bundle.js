// Bundles the `loamy` command (dist/bin.js and everything it imports: effect with effect/cli, @effect/platform-node,
// @loamy/core, loamy's undici layer, the test server for `loamy demo`) into dist/bundle/: loamy.js, which
// bin/loamy.js runs when it is there, and the chunks it imports when a command runs (Cli.ts loads the commands'
// machinery with import(), so `--help` compiles only the first file). A few files start several times faster
// than a few thousand modules, and the published package needs no runtime dependencies. Run by `prepack` and
// by `npm run bundle`; `postpack` removes it again, so that development runs the module tree.
//
//   node scripts/bundle.js [outdir]
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const entry = fileURLToPath(new URL("../dist/bin.js", import.meta.url))
const outdir = process.argv[2] ?? fileURLToPath(new URL("../dist/bundle", import.meta.url))

// loamy's undici layer imports only `Agent`, `Pool`, `Client` (HTTP/2 connections), the proxy agents (`ProxyAgent`, `EnvHttpProxyAgent`) and `buildConnector` from
// "undici", but undici's entry is CommonJS that loads all of undici (fetch, WebSocket, caches, ...), which esbuild
// cannot tree-shake: point "undici" at a module that exports those alone. If the layer ever imports more from
// undici, the build fails here ("No matching export"), not at run time.
const undiciDir = path.dirname(createRequire(import.meta.url).resolve("undici/package.json", {
  paths: [fileURLToPath(new URL("../../loamy/", import.meta.url)), fileURLToPath(new URL("..", import.meta.url))]
}))
const leanUndici = {
  name: "lean-undici",
  setup(build) {
    build.onResolve({ filter: /^undici$/ }, () => ({ path: "undici-agent", namespace: "lean-undici" }))
    build.onLoad({ filter: /.*/, namespace: "lean-undici" }, () => ({
      // As undici's index does: the request/stream/pipeline methods are mixed into Dispatcher's prototype.
      contents: [
        `import Dispatcher from ${JSON.stringify(path.join(undiciDir, "lib/dispatcher/dispatcher.js"))}`,
        `import api from ${JSON.stringify(path.join(undiciDir, "lib/api/index.js"))}`,
        `import Agent from ${JSON.stringify(path.join(undiciDir, "lib/dispatcher/agent.js"))}`,
        `import Pool from ${JSON.stringify(path.join(undiciDir, "lib/dispatcher/pool.js"))}`,
        `import Client from ${JSON.stringify(path.join(undiciDir, "lib/dispatcher/client.js"))}`,
        `import ProxyAgent from ${JSON.stringify(path.join(undiciDir, "lib/dispatcher/proxy-agent.js"))}`,
        `import EnvHttpProxyAgent from ${JSON.stringify(path.join(undiciDir, "lib/dispatcher/env-http-proxy-agent.js"))}`,
        `import buildConnector from ${JSON.stringify(path.join(undiciDir, "lib/core/connect.js"))}`,
        // Multipart bodies: the client hands undici its own FormData (body.js, which serializes it, is bundled anyway).
        `import { FormData } from ${JSON.stringify(path.join(undiciDir, "lib/web/fetch/formdata.js"))}`,
        `Object.assign(Dispatcher.prototype, api)`,
        `export { Agent, buildConnector, Client, EnvHttpProxyAgent, FormData, Pool, ProxyAgent }`
      ].join("\n"),
      resolveDir: undiciDir,
      loader: "js"
    }))
  }
}

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
  bundle: true,
  splitting: true,
  chunkNames: "chunk-[hash]",
  minify: true,
  platform: "node",
  format: "esm",
  target: "node22",
  legalComments: "none",
  // Some dependencies are CommonJS and require Node built-ins (in every chunk: each is a module of its own).
  banner: {
    js: "import { createRequire as __loamyRequire } from 'node:module'; const require = __loamyRequire(import.meta.url);"
  },
  plugins: [leanUndici],
  logLevel: "warning",
  metafile: true
}).then((result) => {
  if (process.env.LOAMY_BUNDLE_ANALYZE) console.log(esbuild.analyzeMetafileSync(result.metafile))
})
// On stderr: `npm pack --json` prints its JSON on stdout after prepack.
console.error(`bundle: wrote ${outdir}`)
