// Bodies beyond JSON, a request's own options, baseUrl and failOn, at the Promise door.
//
//   node examples/forms.mjs [URL]
//
// URL is a server with the test server's routes (its /parse route answers with the body as real parsers read
// it): the argument, else $LOAMY_EXAMPLE_URL, else http://127.0.0.1:8080.
import { fileURLToPath } from "node:url"
import { sendRequests } from "loamy"

const baseUrl = process.argv[2] ?? process.env.LOAMY_EXAMPLE_URL ?? "http://127.0.0.1:8080"
const thisFile = fileURLToPath(import.meta.url)

const responses = await sendRequests(
  [
    // A URL-encoded form from a record (an array sends its name once per value).
    { url: "/parse", httpOp: "POST", form: { name: "Ada Lovelace", tags: ["math", "engines"] } },
    // Plain text, sent as it is.
    { url: "/parse", httpOp: "POST", text: "hello, plain text" },
    // Raw bytes (base64 text in files).
    { url: "/parse", httpOp: "PUT", bytes: new Uint8Array([0, 1, 2, 255]) },
    // multipart/form-data: a field, a file streamed from disk, bytes as a file.
    {
      url: "/parse",
      httpOp: "POST",
      multipart: [
        { name: "title", value: "Q3" },
        { name: "source", path: thisFile, contentType: "text/javascript" },
        { name: "raw", bytes: new Uint8Array([1, 2, 3]), filename: "raw.bin" }
      ]
    },
    // This request's own timeout, shorter than the call's.
    { url: "/delay/2000", httpOp: "GET", options: { timeout: "100ms" } },
    // failOn: a 503 is a failure, not a response.
    { url: "/status/503", httpOp: "GET" }
  ],
  { baseUrl, timeout: "5s", failOn: "5xx" }
)

for (const response of responses) {
  const { pathname } = new URL(response.requestMap.url)
  if (response.error !== undefined) {
    console.log(`${response.requestMap.httpOp} ${pathname} ${response.error._tag}`)
    continue
  }
  const body = response.body
  const seen = body.form ?? body.text ?? body.base64 ?? body.parts.map((part) => part.filename ?? part.value)
  console.log(`${response.requestMap.httpOp} ${pathname} ${body.contentType.split(";")[0]} ${JSON.stringify(seen)}`)
}
