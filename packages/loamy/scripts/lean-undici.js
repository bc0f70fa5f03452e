// An esbuild plugin for the bundles of loamy's code (scripts/bundle-entry.js, and @loamy/cli's scripts/bundle.js):
// loamy's undici layer imports only `Agent`, `Pool`, `Client` (HTTP/2 connections), the proxy agents
// (`ProxyAgent`, `EnvHttpProxyAgent`), `buildConnector` and `FormData` (multipart bodies) from "undici", but undici's entry is CommonJS that loads all of undici (fetch, WebSocket,
// caches, mocks, ...), which esbuild cannot tree-shake: "undici" becomes a module that exports those alone. If the
// layer ever imports more from undici, the build fails ("No matching export"), not at run time.
import { createRequire } from "node:module"
import * as path from "node:path"

const undiciDir = path.dirname(createRequire(import.meta.url).resolve("undici/package.json"))

export const leanUndici = {
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

// What the bundles of loamy's code share: one ES module for Node 22+, and a `require` for the CommonJS inside
// (undici and others require Node built-ins; with splitting, every chunk is a module of its own and gets one).
export const nodeEsm = {
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22",
  legalComments: "none",
  banner: {
    js: "import { createRequire as __loamyRequire } from 'node:module'; const require = __loamyRequire(import.meta.url);"
  },
  plugins: [leanUndici],
  logLevel: "warning"
}
