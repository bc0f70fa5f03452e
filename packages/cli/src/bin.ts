#!/usr/bin/env node
/**
 * The `loamy` executable.
 *
 * @since 0.1.0
 */
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as v8 from "node:v8"
import { run, teardown } from "./Cli.js"
import { runMain } from "./internal/signals.js"

// The live heap of a long `loamy send` stays near 35 MB, but V8's default heap
// growth lets garbage pile up to several times that between full collections
// (330 MB peak RSS over 1M requests). Growing the old generation by at most
// 50 % per collection keeps the peak near 150 MB for a few % of throughput.
// The flag is read at every collection, so setting it at run time works.
v8.setFlagsFromString("--heap-growing-percent=50")

// SIGINT and SIGTERM go to the command that can stop cleanly (`loamy send`), else interrupt it: see signals.ts.
runMain(Effect.provide(run(process.argv), NodeServices.layer), teardown)
