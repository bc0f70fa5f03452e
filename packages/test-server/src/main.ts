/**
 * Runs the test server in a process of its own and prints one JSON line
 * `{"url": ..., "otherUrl": ...}` (its second origin) when listening. It serves until it gets SIGTERM or SIGINT,
 * so `node …/main.js &` works from a shell.
 *
 * With `--exit-with-stdin` (or `LOAMY_TEST_SERVER_EXIT_WITH_STDIN=1`) it also
 * exits when its stdin closes, so a parent that spawns it with a stdin pipe
 * (as the benchmarks do) never leaves it behind, even if the parent is killed.
 * `PORT` picks the port (default: a free one); the address is 127.0.0.1.
 *
 * @since 0.1.0
 */
import { start } from "./index.js"

const args = process.argv.slice(2)
const unknown = args.filter((arg) => arg !== "--exit-with-stdin")
if (unknown.length > 0) {
  process.stderr.write(
    `loamy test server: unknown argument ${JSON.stringify(unknown[0])}\n` +
      "usage: node main.js [--exit-with-stdin]   (PORT=n picks the port)\n"
  )
  process.exit(2)
}
const exitWithStdin = args.includes("--exit-with-stdin") || process.env["LOAMY_TEST_SERVER_EXIT_WITH_STDIN"] === "1"

const port = Number(process.env["PORT"] ?? 0)
const server = await start({ port })
process.stdout.write(`${JSON.stringify({ url: server.url, otherUrl: server.otherUrl })}\n`)
const stop = () => {
  void server.close().then(() => process.exit(0))
}
process.on("SIGTERM", stop)
process.on("SIGINT", stop)
if (exitWithStdin) {
  process.stdin.on("end", stop)
  process.stdin.on("close", stop)
  process.stdin.resume()
}
