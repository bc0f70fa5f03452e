// `node bench/alloc-summary.js file.heapprofile [more...] [--top 25] [--requests 10000]`: what a ladder rung
// allocated (`BENCH_ALLOC=dir node bench/ladder.js`), summed by allocating function (name + file + line) and
// by package, as bytes per request. The ladder samples one run of 10,000 requests.
import { readFileSync } from "node:fs"

const args = process.argv.slice(2)
const topIndex = args.indexOf("--top")
const top = topIndex >= 0 ? Number(args.splice(topIndex, 2)[1]) : 25
const requestsIndex = args.indexOf("--requests")
const requests = requestsIndex >= 0 ? Number(args.splice(requestsIndex, 2)[1]) : 10_000
const perRequest = (bytes) => `${(bytes / requests).toFixed(0).padStart(7)} B/req`
const short = (url) => url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/packages\//, "packages/")
const packageOf = (where) =>
  where.startsWith("packages/")
    ? where.split("/").slice(0, 2).join("/")
    : where.startsWith("node:") || where === "" || where.startsWith(":")
    ? "node (and its native code)"
    : where.split("/")[0].startsWith("@")
    ? where.split("/").slice(0, 2).join("/")
    : where.split("/")[0]
for (const file of args) {
  const { head } = JSON.parse(readFileSync(file, "utf8"))
  const self = new Map()
  const byPackage = new Map()
  let total = 0
  const visit = (node) => {
    const { functionName, url, lineNumber } = node.callFrame
    const where = short(url)
    const key = `${functionName || "(anonymous)"}  ${where}:${lineNumber + 1}`
    self.set(key, (self.get(key) ?? 0) + node.selfSize)
    const pkg = packageOf(where)
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + node.selfSize)
    total += node.selfSize
    for (const child of node.children) visit(child)
  }
  visit(head)
  console.log(`\n${file}: ${perRequest(total)} in all`)
  console.log("by package:")
  for (const [pkg, bytes] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
    console.log(`  ${perRequest(bytes)}  ${pkg}`)
  }
  console.log(`top ${top} allocating functions:`)
  for (const [key, bytes] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${perRequest(bytes)}  ${key}`)
  }
}
