// The Promise door, from an ES module.
//
//   node examples/promise.mjs [URL]
//
// URL is a server with the test server's routes: the argument, else $LOAMY_EXAMPLE_URL, else
// http://127.0.0.1:8080 (start one with `PORT=8080 node node_modules/@loamy/test-server/dist/main.js &`).
import { sendRequests } from "loamy"

const base = process.argv[2] ?? process.env.LOAMY_EXAMPLE_URL ?? "http://127.0.0.1:8080"

const responses = await sendRequests(
  [
    { url: `${base}/`, httpOp: "GET" },
    { url: `${base}/foo`, httpOp: "POST", body: { hello: "loamy" } },
    { url: `${base}/echo`, httpOp: "GET", queryParams: { page: "2" } },
    { url: `${base}/status/404`, httpOp: "GET" }, // a response, not an error
    { url: `${base}/exception`, httpOp: "GET" } // 500 with an HTML body: a BodyDecodeError in `error`
  ],
  { concurrency: 10, timeout: "5s", retry: 2 } // durations: milliseconds or text ("5s", "250ms", "2m")
)

// One response per request, in input order; failures are values, not exceptions.
for (const response of responses) {
  const path = new URL(response.requestMap.url).pathname
  const outcome = response.error === undefined ? JSON.stringify(response.body).slice(0, 60) : response.error._tag
  console.log(`${response.requestMap.httpOp} ${path} ${response.statusCode} ${outcome}`)
}
