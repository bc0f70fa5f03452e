// An Effect program: Clump.stream composed with Stream combinators, failures caught by tag.
//
//   node examples/effect-stream.mjs [URL]
//
// URL: the argument, else $LOAMY_EXAMPLE_URL, else http://127.0.0.1:8080.
import { Clump } from "@loamy/core"
import { Console, Effect, Stream } from "effect"
import * as UndiciHttpClient from "loamy/UndiciHttpClient"

const base = process.argv[2] ?? process.env.LOAMY_EXAMPLE_URL ?? "http://127.0.0.1:8080"

const requests = [
  ...Array.from({ length: 6 }, (_, i) => ({ url: `${base}/delay/${10 * i}`, httpOp: "GET" })),
  { url: `${base}/exception`, httpOp: "GET" },
  { url: `${base}/status/503`, httpOp: "GET" }
]

// Folded: every request gets its RequestResponse, in completion order, each with its input index.
const folded = Clump.stream(Clump.make(requests, { concurrency: 4, timeout: "5 seconds" })).pipe(
  Stream.filter(({ response }) => response.error === undefined && response.statusCode < 400),
  Stream.map(({ index, response }) => `${index}: ${response.statusCode} ${JSON.stringify(response.body)}`),
  Stream.take(3),
  Stream.runCollect // an array on Effect 4
)

// returnExceptions: false: the first failed request fails the stream with its typed error.
const failFast = Clump.stream(Clump.make(requests, { concurrency: 4, returnExceptions: false })).pipe(
  Stream.runCount,
  Effect.map((count) => `all ${count} succeeded`),
  Effect.catchTags({
    BodyDecodeError: (error) => Effect.succeed(`stopped by BodyDecodeError (status ${error.statusCode})`),
    TransportError: (error) => Effect.succeed(`stopped by TransportError (${error.reason})`),
    TimeoutError: () => Effect.succeed("stopped by TimeoutError")
  })
)

const program = Effect.gen(function*() {
  for (const line of yield* folded) yield* Console.log(line)
  yield* Console.log(yield* failFast)
})

await Effect.runPromise(program.pipe(Effect.provide(UndiciHttpClient.layer)))
