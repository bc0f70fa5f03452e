#!/usr/bin/env node
// The `loamy` command. A packed @loamy/cli holds one bundled file, dist/loamy.js (written by `prepack`, or by
// `npm run bundle`, and removed again by `postpack`); in the repository, after `npm run build`, this runs the
// module tree tsc builds, dist/bin.js. This file exists before anything is built, so npm links it as
// node_modules/.bin/loamy at install time.
import { existsSync } from "node:fs"

const bundle = new URL("../dist/loamy.js", import.meta.url)
await import(existsSync(bundle) ? bundle.href : new URL("../dist/bin.js", import.meta.url).href)
