// Clump.send under OpenTelemetry: each send is a `loamy.send` span with a `loamy.request` child per request.
// The spans go to an in-memory exporter here and are printed; use any exporter of @opentelemetry/sdk-trace-base
// (or OTLP) instead.
//
//   npm install @loamy/core loamy effect @effect/opentelemetry @opentelemetry/api@^1.9 \
//     @opentelemetry/resources@^2 @opentelemetry/sdk-trace-base@^2 @opentelemetry/sdk-trace-node@^2 \
//     @opentelemetry/sdk-metrics@^2 @opentelemetry/api-logs@^0.223 @opentelemetry/sdk-logs@^0.223
//   node examples/opentelemetry.mjs [URL]
//
// URL: the argument, else $LOAMY_EXAMPLE_URL, else http://127.0.0.1:8080.
// Clump.stream and Clump.streamFrom make the same spans. NodeSdk (from "@effect/opentelemetry/NodeSdk", not the
// package's index) loads the SDK packages above when it is imported, metrics and logs included, even when only
// traces are configured.
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base"
import { Clump } from "@loamy/core"
import { Effect } from "effect"
import * as UndiciHttpClient from "loamy/UndiciHttpClient"

const base = process.argv[2] ?? process.env.LOAMY_EXAMPLE_URL ?? "http://127.0.0.1:8080"

const exporter = new InMemorySpanExporter()
const TracingLive = NodeSdk.layer(() => ({
  resource: { serviceName: "loamy-example" },
  spanProcessor: new SimpleSpanProcessor(exporter)
}))

// The spans as a tree: parents before children. Read before the layer shuts the SDK down (which empties the
// in-memory exporter).
const printSpans = Effect.sync(() => {
  const spans = exporter.getFinishedSpans()
  const byId = new Map(spans.map((span) => [span.spanContext().spanId, span]))
  const parentOf = (span) => span.parentSpanContext?.spanId ?? span.parentSpanId
  const depth = (span) => (byId.has(parentOf(span)) ? 1 + depth(byId.get(parentOf(span))) : 0)
  const lines = spans.map((span) => {
    const attributes = span.attributes
    const detail = span.name === "loamy.send"
      ? ` requests=${attributes["loamy.requests"]}`
      : span.name === "loamy.request"
      ? ` ${attributes["http.request.method"]} ${new URL(String(attributes["url.full"])).pathname}`
      : ""
    return { depth: depth(span), text: `${"  ".repeat(depth(span))}${span.name}${detail}` }
  })
  lines.sort((a, b) => a.depth - b.depth || a.text.localeCompare(b.text))
  for (const line of lines) console.log(line.text)
})

const program = Effect.gen(function*() {
  const responses = yield* Clump.send(
    Clump.make([
      { url: `${base}/`, httpOp: "GET" },
      { url: `${base}/foo`, httpOp: "POST", body: { hello: "otel" } },
      { url: `${base}/status/404`, httpOp: "GET" }
    ])
  )
  console.log(`statuses ${responses.map((r) => r.statusCode).join(" ")}`)
  yield* printSpans
})

await Effect.runPromise(program.pipe(Effect.provide(UndiciHttpClient.layer), Effect.provide(TracingLive)))
