// `node bench/undici-versions.js DIR_A DIR_B`: raw `undici.request` + `body.json()` of two installed undici
// versions side by side (each DIR holds node_modules/undici), 10,000 GETs of the test server's `/` at concurrency
// 64 and 256, 5 rounds alternating the order, after a 2,000-request warm-up; prints the median req/s of each and
// their ratio. For example, beside the pinned version:
//
//   d=$(mktemp -d) && (cd $d && npm init -y >/dev/null && npm install undici@8) && node bench/undici-versions.js . $d
import { spawn } from "node:child_process"
import { resolve } from "node:path"
import { pathToFileURL } from "node:url"

const dirs = process.argv.slice(2, 4)
if (dirs.length !== 2) throw new Error("usage: node bench/undici-versions.js DIR_A DIR_B")
const root = new URL("..", import.meta.url).pathname
const server = spawn(process.execPath, [`${root}packages/test-server/dist/main.js`, "--exit-with-stdin"], {
  stdio: ["pipe", "pipe", "inherit"]
})
const url = await new Promise((done) => {
  let out = ""
  server.stdout.on("data", (chunk) => {
    out += chunk
    const newline = out.indexOf("\n")
    if (newline >= 0) done(JSON.parse(out.slice(0, newline)).url)
  })
})
const target = `${url}/`
const clients = []
for (const dir of dirs) {
  const base = resolve(dir, "node_modules/undici")
  const { version } = (await import(pathToFileURL(`${base}/package.json`).href, { with: { type: "json" } })).default
  const undici = await import(pathToFileURL(`${base}/index.js`).href)
  const dispatcher = new undici.Agent()
  const run = async (n, concurrency) => {
    let i = 0
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (i++ < n) await (await undici.request(target, { dispatcher })).body.json()
    }))
  }
  clients.push({ version, run })
}
console.log(`Node ${process.version}, undici ${clients[0].version} and ${clients[1].version}, median req/s of 5 rounds`)
for (const concurrency of [64, 256]) {
  for (const client of clients) await client.run(2_000, concurrency)
  const rates = clients.map(() => [])
  for (let round = 0; round < 5; round++) {
    const order = round % 2 === 0 ? [0, 1] : [1, 0]
    for (const k of order) {
      const started = performance.now()
      await clients[k].run(10_000, concurrency)
      rates[k].push(10_000 / ((performance.now() - started) / 1000))
    }
  }
  const median = (values) => values.sort((a, b) => a - b)[2]
  const [a, b] = rates.map(median)
  console.log(`C=${concurrency}: ${clients[0].version} ${a.toFixed(0)}, ${clients[1].version} ${b.toFixed(0)}, ratio ${(b / a).toFixed(2)}`)
}
server.kill()
