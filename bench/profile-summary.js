// `node bench/profile-summary.js file.cpuprofile [more...] [--top 25] [--requests 32000]`: self time
// summed by function (name + file + line) and by package, as a share of all samples, so the ladder's
// profiles can be read without DevTools. With --requests (a ladder rung makes 2,000 + 3 × 10,000), also
// µs per request; start-up is in the profile too, so this is an upper bound.
import { readFileSync } from "node:fs"

const args = process.argv.slice(2)
const topIndex = args.indexOf("--top")
const top = topIndex >= 0 ? Number(args.splice(topIndex, 2)[1]) : 25
const requestsIndex = args.indexOf("--requests")
const requests = requestsIndex >= 0 ? Number(args.splice(requestsIndex, 2)[1]) : undefined
const perRequest = (t) => (requests ? `${(t / requests).toFixed(1).padStart(7)} µs/req  ` : "")
for (const file of args) {
  const profile = JSON.parse(readFileSync(file, "utf8"))
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const self = new Map()
  const deltas = profile.timeDeltas
  let total = 0
  for (let i = 0; i < profile.samples.length; i++) {
    const node = byId.get(profile.samples[i])
    const dt = deltas[i] ?? 0
    total += dt
    const { functionName, url, lineNumber } = node.callFrame
    const short = url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/packages\//, "packages/")
    const key = `${functionName || "(anonymous)"}  ${short}:${lineNumber + 1}`
    self.set(key, (self.get(key) ?? 0) + dt)
  }
  const byPackage = new Map()
  for (const [key, t] of self) {
    const [name, where = ""] = key.split("  ")
    const pkg = where === ":0" && name.startsWith("(")
      ? name
      : where.startsWith("packages/")
      ? where.split("/").slice(0, 2).join("/")
      : where.startsWith("node:") || where === ":0"
      ? "node (and its native code)"
      : where.split("/")[0].startsWith("@")
      ? where.split("/").slice(0, 2).join("/")
      : where.split("/")[0]
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + t)
  }
  console.log(`\n${file}: ${(total / 1000).toFixed(0)} ms sampled`)
  console.log("by package:")
  for (const [pkg, t] of [...byPackage].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
    console.log(`  ${((100 * t) / total).toFixed(1).padStart(5)}%  ${perRequest(t)}${pkg}`)
  }
  console.log(`top ${top} functions by self time:`)
  for (const [key, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(`  ${((100 * t) / total).toFixed(1).padStart(5)}%  ${perRequest(t)}${key}`)
  }
}
