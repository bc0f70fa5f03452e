#!/usr/bin/env node
// The `loamy` command. A packed @loamy/cli holds the bundle, dist/bundle/loamy.js and its chunks (written by
// `prepack`, or by `npm run bundle`, and removed again by `postpack`); in the repository, after `npm run build`, this runs the
// module tree tsc builds, dist/bin.js. This file exists before anything is built, so npm links it as
// node_modules/.bin/loamy at install time.
import { existsSync } from "node:fs"
import module from "node:module"

// Node's compile cache (in os.tmpdir()/node-compile-cache, or NODE_COMPILE_CACHE; off with
// NODE_DISABLE_COMPILE_CACHE=1): from the second run on, the bundle's code is read from V8's cache rather than
// compiled, which takes about an eighth off `loamy --help`'s CPU time (bench/startup.js). Only the modules
// loaded after this line are cached; Node keeps one cache per file and Node version and checks it by content.
module.enableCompileCache?.()

const bundle = new URL("../dist/bundle/loamy.js", import.meta.url)
await import(existsSync(bundle) ? bundle.href : new URL("../dist/bin.js", import.meta.url).href)
