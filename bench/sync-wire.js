// `node bench/sync-wire.js`: what carrying a batch's responses back from the synchronous door's worker costs per
// response, the way `wire.ts` carries them: one structured-clone message of N responses (each as the engine makes
// it for the test server's small JSON answer: status, parsed body, six headers in a record without a prototype,
// elapsedMs, attempts; `requestMap` left out), posted on one port and read with `receiveMessageOnPort` on the other,
// then the caller giving each header record its null prototype back (`decodeResponses`). Both ends run on this
// thread here; in the door the posting is the worker's and the reading the caller's. 5 rounds of 10,000.
import { MessageChannel, receiveMessageOnPort } from "node:worker_threads"

const N = Number(process.env.BENCH_N ?? 10_000)
const response = (i) => {
  const headers = Object.setPrototypeOf({}, null)
  Object.assign(headers, {
    "content-type": "application/json",
    "content-length": "27",
    date: "Sun, 06 Dec 2026 14:00:00 GMT",
    connection: "keep-alive",
    "keep-alive": "timeout=5",
    etag: "W/\"1b-abc\""
  })
  return { requestMap: undefined, statusCode: 200, body: { message: "Hello, world!" }, headers, elapsedMs: 1.25 + i, attempts: 1 }
}
const { port1, port2 } = new MessageChannel()
const us = (ms) => ((ms / N) * 1000).toFixed(2).padStart(6)
console.log(`Node ${process.version}, ${N} responses per message; µs per response`)
console.log(`${"round".padEnd(6)}${"post".padStart(7)}${"read".padStart(7)}${"proto".padStart(7)}${"all".padStart(7)}`)
for (let round = 1; round <= 5; round++) {
  const responses = Array.from({ length: N }, (_, i) => response(i))
  const t0 = performance.now()
  port1.postMessage({ id: round, ok: true, responses })
  const t1 = performance.now()
  const { message } = receiveMessageOnPort(port2)
  const t2 = performance.now()
  for (const r of message.responses) Object.setPrototypeOf(r.headers, null)
  const t3 = performance.now()
  console.log(`${String(round).padEnd(6)}${us(t1 - t0)} ${us(t2 - t1)} ${us(t3 - t2)} ${us(t3 - t0)}`)
}
port1.close()
