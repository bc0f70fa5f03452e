/**
 * What a distributed batch refuses before it talks to the cluster, and the wire form of its options.
 */
import { ChunkEntity, Distributed } from "@loamy/cluster"
import { Clump, Options } from "@loamy/core"
import { Sharding } from "effect/cluster/Sharding"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { describe, expect, it } from "vitest"

// Nothing here may reach the cluster: a Sharding that fails the test if it is used.
const noCluster = Effect.provideService(Sharding, new Proxy({}, {
  get: (_, name) => {
    throw new Error(`the cluster was used (${String(name)})`)
  }
}) as never)

const refusal = (options: Parameters<typeof Distributed.streamFrom>[1]) =>
  Effect.runPromise(
    Distributed.streamFrom(Stream.make({ url: "http://127.0.0.1:1/", httpOp: "GET" }), options).pipe(
      Stream.runDrain,
      Effect.flip,
      noCluster
    )
  )

describe("Distributed.streamFrom", () => {
  it("refuses a bad job id, chunk size or parallel, a deadline and returnExceptions: false", async () => {
    expect(await refusal({ job: "a/b" })).toMatchObject({ _tag: "InvalidOptionsError", option: "job" })
    expect(await refusal({ job: "" })).toMatchObject({ _tag: "InvalidOptionsError", option: "job" })
    expect(await refusal({ job: "x".repeat(201) })).toMatchObject({ _tag: "InvalidOptionsError", option: "job" })
    expect(await refusal({ job: "ok", chunkSize: 0 })).toMatchObject({ option: "chunkSize" })
    expect(await refusal({ job: "ok", parallel: 1.5 })).toMatchObject({ option: "parallel" })
    expect(await refusal({ job: "ok", deadline: "5 seconds" })).toMatchObject({ option: "deadline" })
    expect(await refusal({ job: "ok", returnExceptions: false })).toMatchObject({ option: "returnExceptions" })
    expect(await refusal({ job: "ok", concurrency: 0 })).toMatchObject({ _tag: "InvalidOptionsError", option: "concurrency" })
  })

  it("send refuses a bad request before anything is sent", async () => {
    const error = await Effect.runPromise(
      Distributed.send(Clump.make([{ url: "http://127.0.0.1:1/", httpOp: "GET" }, { url: "not a url", httpOp: "GET" }]), {
        job: "ok"
      }).pipe(Effect.flip, noCluster)
    )
    expect(error).toMatchObject({ _tag: "InvalidInputError", index: 1, field: "url" })
  })
})

describe("ChunkEntity.toWireOptions", () => {
  it("is JSON as it is and decodes back into the same options, without the rate limit and deadline", () => {
    const resolved = Result.getOrThrow(Options.decode({
      concurrency: 7,
      timeout: Infinity,
      retry: { attempts: 3, baseDelay: 10 },
      rateLimit: { limit: 5, interval: 1000, perOrigin: true },
      headers: { "x-a": "b" },
      maxRedirects: 2
    }))
    const wire = ChunkEntity.toWireOptions(resolved)
    expect(wire.rateLimit).toBeUndefined()
    // As effect/cluster stores a message: the payload's schema made JSON (`Schema.toCodecJson`), then JSON text.
    const codec = Schema.toCodecJson(ChunkEntity.SendChunk.payloadSchema)
    const encoded = Schema.encodeSync(codec)(ChunkEntity.SendChunk.payloadSchema.make({
      job: "ok",
      index: 0,
      key: "k",
      requests: [{ url: "http://127.0.0.1:1/", httpOp: "GET" }],
      options: wire,
      rateLimit: null
    }))
    expect(JSON.parse(JSON.stringify(encoded))).toEqual(encoded)
    const back = Schema.decodeUnknownSync(codec)(JSON.parse(JSON.stringify(encoded))).options
    expect(Options.isResolved(back)).toBe(true)
    expect(back.concurrency).toBe(7)
    expect(back.timeoutMs).toBeUndefined()
    expect(back.retry).toMatchObject({ attempts: 3, baseDelayMs: 10 })
    expect(back.headers).toEqual({ "x-a": "b" })
    expect(back.maxRedirects).toBe(2)
    expect(back.rateLimit).toBeUndefined()
    expect(back).toEqual(wire)
  })
})

describe("http2 and ca on the wire", () => {
  it("a chunk's options carry http2 and the CA's PEM text to the runners, as stored JSON", () => {
    const pem = "-----BEGIN CERTIFICATE-----\nMIIBtest\n-----END CERTIFICATE-----\n"
    const wire = ChunkEntity.toWireOptions(Result.getOrThrow(Options.decode({ http2: true, ca: pem })))
    const codec = Schema.toCodecJson(ChunkEntity.SendChunk.payloadSchema)
    const encoded = Schema.encodeSync(codec)(ChunkEntity.SendChunk.payloadSchema.make({
      job: "ok",
      index: 0,
      key: "k",
      requests: [{ url: "https://127.0.0.1:1/", httpOp: "GET" }],
      options: wire,
      rateLimit: null
    }))
    const back = Schema.decodeUnknownSync(codec)(JSON.parse(JSON.stringify(encoded))).options
    expect([back.http2, back.ca]).toEqual([true, pem])
    expect(back).toEqual(wire)
  })
})
