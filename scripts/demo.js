// `npm start` until the CLI's `loamy demo` exists: starts the embedded test
// server, sends a mixed clump through the core and prints the responses.
import { NodeHttpClient } from "@effect/platform-node"
import { Clump } from "@loamy/core"
import { start } from "@loamy/test-server"
import { Effect } from "effect"

const server = await start()
const requests = [
  { url: `${server.url}/`, httpOp: "GET" },
  { url: `${server.url}/foo`, httpOp: "POST", body: { hello: "loamy" } },
  { url: `${server.url}/echo`, httpOp: "PUT", queryParams: { page: "2" }, body: [1, 2, 3] },
  { url: `${server.url}/status/404`, httpOp: "GET" },
  { url: `${server.url}/exception`, httpOp: "GET" },
  { url: `${server.url}/destroy`, httpOp: "GET" }
]
try {
  const responses = await Clump.send(Clump.make(requests, { concurrency: 4, timeout: "5 seconds" })).pipe(
    Effect.provide(NodeHttpClient.layerUndici),
    Effect.runPromise
  )
  for (const r of responses) {
    const outcome = r.error ? `${r.error._tag}: ${r.error.message}` : JSON.stringify(r.body).slice(0, 60)
    console.log(`${r.requestMap.httpOp.padEnd(6)} ${new URL(r.requestMap.url).pathname.padEnd(14)} ${String(r.statusCode).padEnd(4)} ${outcome}`)
  }
} finally {
  await server.close()
}
