/**
 * One process per `--resume` file, with real processes against a loopback
 * server whose answers wait at a gate the test opens: a second run started
 * while the first is still sending is
 * refused (exit 3, nothing sent, the file untouched), a lock left behind by a
 * run killed with SIGKILL is taken over, and one of another host is not.
 */
import { type Listening, listen } from "@loamy/test-kit"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { acquire, LockHeld } from "../dist/internal/lock.js"
import { jsonl, loamy, records, spawnLoamy, within } from "./helpers.js"

/**
 * `/gate?i=N` answers once the gate is open (`open()`); `sent` lists the `i`
 * of every request, `requests` counts them.
 */
let server: Listening
let url: string
let gateOpen = false
let held: Array<() => void> = []
let sent: Array<number> = []
const open = () => {
  gateOpen = true
  for (const answer of held.splice(0)) answer()
}
const closeGate = () => {
  gateOpen = false
  sent = []
}
let dir: string
beforeAll(async () => {
  server = await listen((req, res) => {
    const i = Number(new URL(req.url!, "http://x").searchParams.get("i"))
    sent.push(i)
    const answer = () => {
      res.setHeader("content-type", "application/json")
      res.end(JSON.stringify({ i }))
    }
    if (gateOpen) answer()
    else held.push(answer)
  })
  url = server.url
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "loamy-cli-lock-"))
})
afterAll(async () => {
  open()
  await server.close()
  if (dir !== undefined) fs.rmSync(dir, { recursive: true, force: true })
})

let files = 0
const fresh = (name: string) => path.join(dir, `${++files}-${name}`)

/** `size` requests that wait at the gate, tagged with their index. */
const gatedInput = (size: number) => {
  const file = fresh("in.jsonl")
  fs.writeFileSync(file, jsonl(Array.from({ length: size }, (_, i) => ({ url: `${url}/gate?i=${i}`, httpOp: "GET" }))))
  return file
}

/** Resolves once `test()` holds, checked every few ms (it reads what the server has received: an event, not a time). */
const whenServer = (test: () => boolean) =>
  new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      if (test()) {
        clearInterval(timer)
        resolve()
      }
    }, 5)
  })

describe("--resume FILE is used by one process at a time", () => {
  it("a second run on the same file while the first is sending is refused: exit 3, nothing sent, the file untouched", async () => {
    closeGate()
    const input = gatedInput(20)
    const out = fresh("out.jsonl")
    const first = spawnLoamy(["send", "-q", "-c", "2", "--resume", out, input])
    // The first run holds the lock before it sends: with its requests at the gate, it is mid-run until the gate opens.
    await within(whenServer(() => sent.length >= 2), 60_000, "the first run's requests", () => first.child.kill("SIGKILL"))
    expect(fs.existsSync(`${out}.loamy-lock`)).toBe(true)
    const second = await loamy(["send", "-c", "50", "--resume", out, input], { timeoutMs: 60_000 })
    expect(second.code, second.stderr).toBe(3)
    expect(second.stderr).toContain(`another loamy run (pid ${first.child.pid}, since `)
    expect(second.stderr).toContain(`is using ${out} (its lock ${out}.loamy-lock is held); nothing sent`)
    // Nothing sent (at -c 50 it would have sent the 18 others at once), nothing written.
    expect(sent.sort((a, b) => a - b)).toEqual([0, 1])
    expect(fs.existsSync(out) ? fs.readFileSync(out, "utf8") : "").toBe("")
    open()
    const done = await within(first.exited, 60_000, "the first run", () => first.child.kill("SIGKILL"))
    expect(done.code, done.stderr).toBe(0)
    // One record per index, each request sent once.
    expect(records(fs.readFileSync(out, "utf8")).map((r) => r["index"]).sort((a, b) => a - b)).toEqual([...Array(20).keys()])
    expect(sent.sort((a, b) => a - b)).toEqual([...Array(20).keys()])
    // Given back at the end.
    expect(fs.existsSync(`${out}.loamy-lock`)).toBe(false)
  }, 120_000)

  it("a lock left by a run killed with SIGKILL is taken over: the next run completes the file", async () => {
    closeGate()
    const input = gatedInput(12)
    const out = fresh("out.jsonl")
    const killed = spawnLoamy(["send", "-q", "-c", "2", "--resume", out, input])
    await within(whenServer(() => sent.length >= 2), 60_000, "the run's requests", () => killed.child.kill("SIGKILL"))
    killed.child.kill("SIGKILL")
    const { signal } = await within(killed.exited, 30_000, "the killed run")
    expect(signal).toBe("SIGKILL")
    // Left behind, naming a process that is gone.
    const left = JSON.parse(fs.readFileSync(`${out}.loamy-lock`, "utf8")) as { pid: number; host: string }
    expect(left).toMatchObject({ pid: killed.child.pid, host: os.hostname() })
    open()
    const next = await loamy(["send", "-c", "10", "--resume", out, input], { timeoutMs: 60_000 })
    expect(next.code, next.stderr).toBe(0)
    expect(next.stderr).toContain(`took over the lock of a run that is gone (pid ${killed.child.pid})`)
    expect(records(fs.readFileSync(out, "utf8")).map((r) => r["index"]).sort((a, b) => a - b)).toEqual([...Array(12).keys()])
    expect(fs.existsSync(`${out}.loamy-lock`)).toBe(false)
  }, 120_000)

  it("a lock of another host is never taken over (loamy cannot tell whether that run is alive): exit 3, how to remove it", async () => {
    closeGate()
    const input = gatedInput(3)
    const out = fresh("out.jsonl")
    const lockFile = `${out}.loamy-lock`
    const content = JSON.stringify({ pid: 1, host: "another-host.example", started: "2026-01-01T00:00:00.000Z" }) + "\n"
    fs.writeFileSync(lockFile, content)
    const r = await loamy(["send", "--resume", out, input], { timeoutMs: 60_000 })
    expect(r.code).toBe(3)
    expect(r.stderr).toContain("another loamy run (pid 1 on host another-host.example, since 2026-01-01T00:00:00.000Z)")
    expect(r.stderr).toContain(`If no such run is going on, delete ${lockFile}`)
    expect(sent).toEqual([])
    expect(fs.existsSync(out)).toBe(false)
    expect(fs.readFileSync(lockFile, "utf8")).toBe(content)
  }, 60_000)
})

describe("the lock file (in this process)", () => {
  it("is taken with O_EXCL, refused while held, given back only by its holder, and a never-written one goes stale", () => {
    const file = fresh("state.jsonl")
    const held = acquire(file)
    expect(JSON.parse(fs.readFileSync(held.path, "utf8"))).toMatchObject({ pid: process.pid, host: os.hostname() })
    // This process is alive: its own lock is held, even against itself.
    expect(() => acquire(file)).toThrow(LockHeld)
    held.release()
    expect(fs.existsSync(held.path)).toBe(false)
    // A holder whose lock was replaced leaves the new one alone.
    const again = acquire(file)
    fs.writeFileSync(again.path, JSON.stringify({ pid: process.pid, host: os.hostname(), started: "other" }) + "\n")
    again.release()
    expect(fs.existsSync(again.path)).toBe(true)
    fs.rmSync(again.path)
    // Created but never written (a run killed in between): held for a moment, then stale.
    fs.writeFileSync(`${file}.loamy-lock`, "")
    expect(() => acquire(file)).toThrow(LockHeld)
    const old = new Date(Date.now() - 60_000)
    fs.utimesSync(`${file}.loamy-lock`, old, old)
    const taken = acquire(file)
    expect(taken.takenOver).toBe("a run that never completed it")
    taken.release()
    expect(fs.readdirSync(dir).filter((name) => name.includes(".stale-"))).toEqual([])
  })
})
