// The baseline for `npm run bench:cli`: what raw undici does with the same JSONL file in a process of its own.
// Reads the file line by line, sends each request with `undici.request` (at most CONCURRENCY at once, the file
// read no further ahead than that) and writes one JSON line per response (index, status, body) to OUT.
//
//   node bench/raw-undici-jsonl.js IN.jsonl OUT.jsonl CONCURRENCY
import * as fs from "node:fs"
import * as readline from "node:readline"
import { Agent, request } from "undici"

const [input, output, concurrencyArg] = process.argv.slice(2)
const concurrency = Number(concurrencyArg)
const dispatcher = new Agent({ connections: concurrency })
const out = fs.createWriteStream(output)
const lines = readline.createInterface({ input: fs.createReadStream(input), crlfDelay: Infinity })[Symbol.asyncIterator]()

let index = 0
let failed = 0
const writeLine = async (text) => {
  if (!out.write(text)) await new Promise((resolve) => out.once("drain", resolve))
}
const worker = async () => {
  for (;;) {
    const next = await lines.next()
    if (next.done) return
    const i = index++
    const { url, httpOp } = JSON.parse(next.value)
    try {
      const response = await request(url, { method: httpOp, dispatcher })
      const body = await response.body.text()
      await writeLine(`${JSON.stringify({ index: i, statusCode: response.statusCode, body })}\n`)
    } catch (error) {
      failed++
      await writeLine(`${JSON.stringify({ index: i, error: String(error) })}\n`)
    }
  }
}
await Promise.all(Array.from({ length: concurrency }, worker))
await new Promise((resolve) => out.end(resolve))
await dispatcher.close()
process.stderr.write(`${failed} failed\n`)
