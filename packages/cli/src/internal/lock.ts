/**
 * One process per `--resume` file: a lock file next to it, `FILE.loamy-lock`,
 * holding the pid and host of the run that uses FILE.
 *
 * - Taken atomically: created with `O_CREAT | O_EXCL` (`"wx"`), which exactly
 *   one of two processes racing for it can do.
 * - Given back when the run ends, however it ends short of a kill: normally,
 *   on an error, after SIGINT or SIGTERM, and at process exit.
 * - A run killed outright (SIGKILL, a crash, a reboot) leaves it behind, so it
 *   is stale, and taken over, when the pid it names is not running on this
 *   host. A lock of another host (a file on a shared volume) is never taken
 *   over: loamy cannot tell whether that run is alive; the message says how to
 *   remove it by hand.
 * - A takeover cannot remove a live lock: the stale file is first renamed to
 *   a name of this process's own (atomic), then checked to be the stale one;
 *   had another process taken the lock over meanwhile, its file is put back.
 *
 * @internal
 */
import * as fs from "node:fs"
import * as os from "node:os"

/**
 * The lock is held by another run: nothing was sent, nothing changed.
 *
 * @internal
 */
export class LockHeld extends Error {
  override readonly name = "LockHeld"
}

/** What a lock file says. */
interface Owner {
  readonly pid: number
  readonly host: string
  readonly started: string
}

/** A lock this process holds. @internal */
export interface Lock {
  readonly path: string
  /** Removes the lock file if it is still this process's. Safe to call more than once. */
  readonly release: () => void
  /** Whose stale lock this one replaced ("a run that is gone (pid 123)"), if it did. */
  readonly takenOver: string | undefined
}

const readOwner = (text: string): Owner | undefined => {
  try {
    const value = JSON.parse(text) as Partial<Owner>
    if (typeof value.pid === "number" && Number.isSafeInteger(value.pid) && value.pid > 0 && typeof value.host === "string") {
      return { pid: value.pid, host: value.host, started: typeof value.started === "string" ? value.started : "?" }
    }
  } catch {
    // not a lock this code wrote
  }
  return undefined
}

/** Whether a process with this pid exists on this machine (one of another user's counts: EPERM). */
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM"
  }
}

/** A lock file that was created but never written (a process killed in between) is stale after this long. */
const UNWRITTEN_STALE_MS = 10_000

/** Why a lock file's content is not a live lock, or undefined when it is one (or may be). */
const staleness = (text: string, mtimeMs: number, host: string): string | undefined => {
  const owner = readOwner(text)
  if (owner === undefined) {
    return Date.now() - mtimeMs > UNWRITTEN_STALE_MS ? "a run that never completed it" : undefined
  }
  if (owner.host !== host) return undefined
  return alive(owner.pid) ? undefined : `a run that is gone (pid ${owner.pid})`
}

const describeOwner = (text: string, host: string): string => {
  const owner = readOwner(text)
  if (owner === undefined) return "another loamy run (starting)"
  const where = owner.host === host ? "" : ` on host ${owner.host}`
  return `another loamy run (pid ${owner.pid}${where}, since ${owner.started})`
}

/**
 * Takes the lock of `file` (`FILE.loamy-lock`), taking over a stale one.
 * Throws `LockHeld` when another run holds it; other failures (a directory
 * that cannot be written) throw as they are.
 *
 * @internal
 */
export const acquire = (file: string): Lock => {
  const path = `${file}.loamy-lock`
  const host = os.hostname()
  const content = JSON.stringify({ pid: process.pid, host, started: new Date().toISOString() }) + "\n"
  let takenOver: string | undefined
  // Each pass either takes the lock, refuses, or removes a stale lock and tries again; a few passes are plenty.
  for (let pass = 0; pass < 5; pass++) {
    let fd: number
    try {
      fd = fs.openSync(path, "wx", 0o644)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
      let text: string
      let mtimeMs: number
      try {
        text = fs.readFileSync(path, "utf8")
        mtimeMs = fs.statSync(path).mtimeMs
      } catch (readError) {
        // Released between our attempt and the read: try again.
        if ((readError as NodeJS.ErrnoException).code === "ENOENT") continue
        throw readError
      }
      const stale = staleness(text, mtimeMs, host)
      if (stale === undefined) {
        throw new LockHeld(
          `${describeOwner(text, host)} is using ${file} (its lock ${path} is held); nothing sent. ` +
            `One process per --resume file at a time: wait for that run to end. If no such run is going on, ` +
            `delete ${path}.`
        )
      }
      removeStale(path, text)
      takenOver = stale
      continue
    }
    try {
      fs.writeSync(fd, content)
      fs.fsyncSync(fd)
    } finally {
      fs.closeSync(fd)
    }
    let released = false
    const release = () => {
      if (released) return
      released = true
      process.removeListener("exit", release)
      try {
        if (fs.readFileSync(path, "utf8") === content) fs.unlinkSync(path)
      } catch {
        // already gone
      }
    }
    // A run that ends without releasing (process.exit from anywhere) still gives the lock back.
    process.on("exit", release)
    return { path, release, takenOver }
  }
  throw new LockHeld(`the lock ${path} of ${file} keeps changing hands; nothing sent. Try again.`)
}

/** Removes the stale lock whose content was `stale`, never a live one that replaced it meanwhile. */
const removeStale = (path: string, stale: string) => {
  const aside = `${path}.stale-${process.pid}-${Math.random().toString(36).slice(2)}`
  try {
    fs.renameSync(path, aside)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return
    throw error
  }
  let moved: string | undefined
  try {
    moved = fs.readFileSync(aside, "utf8")
  } catch {
    moved = undefined
  }
  if (moved !== stale) {
    // Another process took the lock over between our read and the rename: give its file back.
    try {
      fs.linkSync(aside, path)
    } catch {
      // a third one holds it now; the next pass sees theirs
    }
  }
  fs.rmSync(aside, { force: true })
}
