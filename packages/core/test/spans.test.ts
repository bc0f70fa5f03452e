/**
 * Each send and each request is a span, so an OpenTelemetry layer shows them.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { it } from "@effect/vitest"
import { Clump } from "@loamy/core"
import { start, type TestServer } from "@loamy/test-server"
import { Effect, Layer, Option, Stream, Tracer } from "effect"
import { afterAll, beforeAll, expect } from "vitest"

let server: TestServer
beforeAll(async () => {
  server = await start()
})
afterAll(() => server.close())

interface Recorded {
  readonly name: string
  readonly parent: string | undefined
  readonly attributes: ReadonlyMap<string, unknown>
  ended: boolean
}

/** A tracer that records every span and delegates the rest to Effect's own. */
const recording = Effect.sync(() => {
  const native = Tracer.nativeTracer
  const spans: Array<Recorded> = []
  const tracer = Tracer.make({
    span(options) {
      const span = native.span(options)
      const recorded: Recorded = {
        name: options.name,
        parent: Option.match(options.parent, { onNone: () => undefined, onSome: (p) => p.spanId }),
        attributes: span.attributes,
        ended: false
      }
      spans.push(recorded)
      const end = span.end.bind(span)
      span.end = (endTime, exit) => {
        recorded.ended = true
        end(endTime, exit)
      }
      Object.defineProperty(recorded, "id", { value: span.spanId })
      return span
    }
  })
  return { spans, tracer }
})

it.live("records one loamy.send span and one loamy.request span per request", () =>
  Effect.gen(function*() {
    const { spans, tracer } = yield* recording
    const requests = [
      { url: `${server.url}/`, httpOp: "GET" as const },
      { url: `${server.url}/foo`, httpOp: "POST" as const },
      { url: `${server.url}/status/404`, httpOp: "GET" as const }
    ]
    yield* Clump.send(Clump.make(requests)).pipe(
      Effect.provide(Layer.merge(NodeHttpClient.layerUndici, Layer.succeed(Tracer.Tracer, tracer)))
    )
    const sends = spans.filter((s) => s.name === "loamy.send")
    const perRequest = spans.filter((s) => s.name === "loamy.request")
    expect(sends).toHaveLength(1)
    expect(sends[0]!.attributes.get("loamy.requests")).toBe(3)
    expect(perRequest).toHaveLength(3)
    expect(perRequest.map((s) => s.attributes.get("loamy.index")).sort()).toEqual([0, 1, 2])
    expect(perRequest.map((s) => s.attributes.get("http.request.method")).sort()).toEqual(["GET", "GET", "POST"])
    const sendId = (sends[0] as unknown as { id: string }).id
    for (const span of perRequest) expect(span.parent).toBe(sendId)
    expect(spans.every((s) => s.ended)).toBe(true)
  }))

it.live("records a loamy.request span per streamed request", () =>
  Effect.gen(function*() {
    const { spans, tracer } = yield* recording
    const requests = Array.from({ length: 5 }, () => ({ url: `${server.url}/`, httpOp: "GET" as const }))
    yield* Stream.runDrain(Clump.stream(Clump.make(requests))).pipe(
      Effect.provide(Layer.merge(NodeHttpClient.layerUndici, Layer.succeed(Tracer.Tracer, tracer)))
    )
    expect(spans.filter((s) => s.name === "loamy.request")).toHaveLength(5)
  }))
