// Downloads at the Promise door: bodies written to files instead of memory, with their size and SHA-256.
//
//   node examples/downloads.mjs [URL]
//
// URL is a server with the test server's routes (/big-stream streams a large JSON string, /binary 256 bytes): the
// argument, else $LOAMY_EXAMPLE_URL, else http://127.0.0.1:8080. The files go to a temporary directory, removed at
// the end.
import { mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { basename, join } from "node:path"
import { sendRequests } from "loamy"

const baseUrl = process.argv[2] ?? process.env.LOAMY_EXAMPLE_URL ?? "http://127.0.0.1:8080"
const dir = mkdtempSync(join(tmpdir(), "loamy-downloads-"))

try {
  const responses = await sendRequests(
    [
      // Named by saveName: "0-big-stream.bin", streamed to disk whatever its size.
      { url: "/big-stream?bytes=5000000", httpOp: "GET" },
      // A request's own file (relative to saveDir), and its own timeout.
      { url: "/binary", httpOp: "GET", options: { saveTo: "all-bytes.bin", timeout: "10s" } },
      // A status that is not 2xx is read into memory as usual: no file.
      { url: "/status/404", httpOp: "GET" }
    ],
    { baseUrl, saveDir: dir, saveName: "{index}-{name}.bin" }
  )
  for (const { requestMap, statusCode, saved, body } of responses) {
    const { pathname } = new URL(requestMap.url)
    console.log(
      saved === undefined
        ? `GET ${pathname} ${statusCode} in memory: ${JSON.stringify(body)}`
        : `GET ${pathname} ${statusCode} saved ${basename(saved.path)} ${saved.bytes} bytes sha256 ${saved.sha256.slice(0, 12)}`
    )
  }
  console.log(readdirSync(dir).sort().join(" "))
} finally {
  rmSync(dir, { recursive: true, force: true })
}
