#!/usr/bin/env node
// The `loamy` command. A packed @loamy/cli holds the bundle, dist/bundle/loamy.js and its chunks (written by
// `prepack`, or by `npm run bundle`, and removed again by `postpack`); in the repository, after `npm run build`, this runs the
// module tree tsc builds, dist/bin.js. This file exists before anything is built, so npm links it as
// node_modules/.bin/loamy at install time.
import { existsSync } from "node:fs"

const bundle = new URL("../dist/bundle/loamy.js", import.meta.url)
await import(existsSync(bundle) ? bundle.href : new URL("../dist/bin.js", import.meta.url).href)
