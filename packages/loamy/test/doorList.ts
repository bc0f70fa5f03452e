/**
 * The doors that take requests as values, as one signature, for tests that
 * check a feature at each: Effect (`Clump.send` over `UndiciHttpClient`),
 * Promise, sync, and the sync `Clump`.
 */
import { Clump as CoreClump, type RequestResponse } from "@loamy/core"
import { Effect } from "effect"
import { Clump, type Options, type PromiseRequestInput, sendRequests, sendRequestsSync } from "loamy"
import * as UndiciHttpClient from "loamy/UndiciHttpClient"

type Door = (requests: ReadonlyArray<PromiseRequestInput>, options?: Options) => Promise<ReadonlyArray<RequestResponse.RequestResponse>>

/** Every door that takes requests as values: Effect, Promise, sync, and the sync `Clump`. */
export const doors: ReadonlyArray<readonly [string, Door]> = [
  ["effect", (requests, options) =>
    Effect.runPromise(
      CoreClump.send(CoreClump.make(requests, options ?? {})).pipe(Effect.provide(UndiciHttpClient.layer))
    )],
  ["promise", (requests, options) => sendRequests(requests, options)],
  ["sync", (requests, options) => Promise.resolve().then(() => sendRequestsSync(requests, options))],
  ["clump", (requests, options) => Promise.resolve().then(() => new Clump(requests, options).sendRequests())]
]

