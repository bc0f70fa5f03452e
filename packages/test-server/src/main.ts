/**
 * Runs the test server in a process of its own (benchmarks use this so the
 * server does not share a thread with the client being measured). Prints one
 * JSON line `{"url": ...}` when listening; exits on SIGTERM, SIGINT or when
 * its stdin closes, so it never outlives its parent.
 *
 * @since 0.1.0
 */
import { start } from "./index.js"

const port = Number(process.env["PORT"] ?? 0)
const server = await start({ port })
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`)
const stop = () => {
  void server.close().then(() => process.exit(0))
}
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
process.stdin.on("end", stop)
process.stdin.on("close", stop)
process.stdin.resume()
