// The synchronous door, from a CommonJS script: no await, no callbacks. The calling thread blocks until the
// batch is done (loamy runs it on a worker thread), so the server must run elsewhere: in another process here.
//
//   node examples/sync.cjs [URL]
//
// URL: the argument, else $LOAMY_EXAMPLE_URL, else http://127.0.0.1:8080
// (start a server with `PORT=8080 node node_modules/@loamy/test-server/dist/main.js &`).
const { Clump, sendRequestsSync } = require("loamy")

const base = process.argv[2] || process.env.LOAMY_EXAMPLE_URL || "http://127.0.0.1:8080"

// The original's shape: a Clump of RequestMaps, snake_case fields welcome.
const clump = new Clump(
  [
    { url: `${base}/`, http_op: "GET" },
    { url: `${base}/foo`, http_op: "POST", body: { hello: "loamy" } },
    { url: `${base}/echo`, http_op: "GET", query_params: { q: "sync" } }
  ],
  { deadline: 10_000 }
)
const responses = clump.sendRequests({ returnExceptions: true })
for (const response of responses) {
  console.log(`${response.requestMap.httpOp} ${new URL(response.requestMap.url).pathname} ${response.statusCode}`)
}

// Or in one call. With returnExceptions: false the first failure is thrown.
const [missing] = sendRequestsSync([{ url: `${base}/status/404`, httpOp: "GET" }])
console.log(`GET /status/404 ${missing.statusCode}`)
try {
  new Clump([{ url: `${base}/exception`, httpOp: "GET" }]).sendRequests({ returnExceptions: false })
} catch (error) {
  console.log(`thrown: ${error._tag}`)
}
