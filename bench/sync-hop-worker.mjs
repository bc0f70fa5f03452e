// The worker of bench/sync-latency.js's bare-hop rungs: answers each message on its port, then bumps the
// shared counter and wakes the caller blocked in Atomics.wait (synckit's shape, without synckit).
import { workerData } from "node:worker_threads"

const { port, buffer, rung, target } = workerData
const state = new Int32Array(buffer)
let handle
if (rung === "hop-noop") {
  handle = async () => null
} else if (rung === "hop") {
  const { Agent, request } = await import("undici")
  const dispatcher = new Agent()
  handle = async () => (await request(target, { dispatcher })).body.json()
} else if (rung === "hop-cb") {
  const { Agent } = await import("undici")
  const dispatcher = new Agent({ connections: 100, headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 4000 })
  const u = new URL(target)
  const headers = { "user-agent": "loamy/0.0.0", "accept-encoding": "gzip, deflate, br" }
  handle = () => new Promise((resolve, reject) => {
    dispatcher.request({ origin: u.origin, path: u.pathname, method: "GET", headers, body: null, headersTimeout: 0, bodyTimeout: 0 }, (error, data) => {
      if (error) return reject(error)
      data.body.bytes().then((bytes) => resolve(JSON.parse(Buffer.from(bytes).toString("utf8"))), reject)
    })
  })
} else if (rung === "hop-effect" || rung === "hop-effect-fiber") {
  const { Agent } = await import("undici")
  const Effect = await import("effect/Effect")
  const dispatcher = new Agent({ connections: 100, headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 4000 })
  const u = new URL(target)
  const headers = { "user-agent": "loamy/0.0.0", "accept-encoding": "gzip, deflate, br" }
  const get = Effect.callback((resume) => {
    dispatcher.request({ origin: u.origin, path: u.pathname, method: "GET", headers, body: null, headersTimeout: 0, bodyTimeout: 0 }, (error, data) => {
      if (error) return resume(Effect.fail(error))
      data.body.bytes().then((bytes) => resume(Effect.succeed(JSON.parse(Buffer.from(bytes).toString("utf8")))), (e) => resume(Effect.fail(e)))
    })
  })
  if (rung === "hop-effect") {
    handle = () => Effect.runPromise(get)
  } else {
    // hop-effect-fiber: the same effect on one long-lived fiber that takes the calls in turn, as the door's
    // worker does, instead of a new fiber per call.
    const calls = []
    let wake
    const arrival = Effect.callback((resume) => {
      wake = resume
    })
    const take = Effect.suspend(() => (calls.length > 0 ? Effect.succeed(calls.shift()) : Effect.flatMap(arrival, () => take)))
    Effect.runFork(Effect.forever(Effect.flatMap(take, (done) => Effect.map(get, done))))
    handle = () =>
      new Promise((resolve) => {
        calls.push(resolve)
        const resume = wake
        wake = undefined
        resume?.(Effect.void)
      })
  }
} else if (rung === "hop-layer") {
  // loamy's HttpClient layer alone: execute + json, run as an Effect.
  const Effect = await import("effect/Effect")
  const HttpClientRequest = await import("effect/http/HttpClientRequest")
  const { Agent } = await import("undici")
  const UndiciHttpClient = await import("loamy/UndiciHttpClient")
  const client = UndiciHttpClient.make(new Agent({ connections: 100, headersTimeout: 0, bodyTimeout: 0, keepAliveTimeout: 4000 }))
  const get = Effect.flatMap(client.execute(HttpClientRequest.get(target)), (response) => response.json)
  handle = () => Effect.runPromise(get)
} else {
  const { Options } = await import("@loamy/core")
  const Unchecked = await import("@loamy/core/Unchecked")
  const Context = await import("effect/Context")
  const Effect = await import("effect/Effect")
  const References = await import("effect/References")
  const FetchHttpClient = await import("effect/http/FetchHttpClient")
  const { runtime } = await import("../packages/loamy/dist/internal/runtime.js")
  const requests = [{ url: target, httpOp: "GET" }]
  const resolved = Options.decode(rung === "hop-prepared-inf" ? { timeout: Infinity } : undefined).success
  if (rung === "hop-core") {
    handle = () => runtime().runPromise(Effect.withTracerEnabled(Unchecked.unsafeSend(requests, resolved), false))
  } else {
    // hop-prepared: the pipeline the worker prepares once per options value, on its runtime's context.
    const built = Context.add(
      Context.add(await runtime().context(), References.TracerEnabled, false),
      FetchHttpClient.RequestInit,
      { redirect: "manual" }
    )
    const prepared = await Effect.runPromiseWith(built)(Unchecked.unsafePrepare(resolved))
    handle = () => Effect.runPromiseWith(built)(prepared(requests))
  }
}
port.on("message", async (id) => {
  const result = await handle()
  port.postMessage({ id, result })
  Atomics.add(state, 0, 1)
  Atomics.notify(state, 0)
})
