/**
 * A buffered writer of records that respects backpressure, so a slow reader
 * of stdout slows the sending instead of filling memory, and that knows how
 * many records reached the output when a write fails.
 *
 * @internal
 */
import * as fs from "node:fs"

/**
 * Why the output stopped: a write failed. `readerGone` is true when the
 * reader of a pipe went away (`loamy send … | head -1`: EPIPE), which is
 * not an error worth a message; anything else (a full disk: ENOSPC) is.
 *
 * @internal
 */
export class WriteFailure extends Error {
  override readonly name = "WriteFailure"
  constructor(
    /** What was being written: a path, or `stdout`. */
    readonly target: string,
    readonly code: string | undefined,
    readonly readerGone: boolean,
    options: { readonly cause: unknown }
  ) {
    super(`cannot write ${target}: ${(options.cause as Error)?.message ?? String(options.cause)}`, options)
  }
}

/**
 * Buffers lines and writes them in large chunks. `needsDrain` tells the
 * sender to start no new requests until `drained` resolves, so a slow reader
 * of stdout slows the sending instead of filling memory.
 *
 * A write that fails ends the output: later lines are dropped, `failed()`
 * returns the failure and `onFail` callbacks run once. The sending loop must
 * then stop (start nothing more, abandon the requests in flight): check
 * `failed()` before starting a request, or stop from `onFail`.
 *
 * @internal
 */
export interface Writer {
  readonly write: (line: string) => void
  readonly needsDrain: () => boolean
  readonly drained: () => Promise<void>
  /**
   * Writes what is buffered and waits until it has left the process (or the
   * file is closed), or the output failed. Never rejects: see `failed()`.
   */
  readonly close: () => Promise<void>
  /** The failure that ended the output, or `undefined` while all is well. */
  readonly failed: () => WriteFailure | undefined
  /**
   * Records (lines) known to be in the output: handed to it by writes that
   * succeeded, plus, after a failure on a file, the whole lines the failed
   * write still put there.
   */
  readonly written: () => number
  /** Runs `callback` once when the output fails (at once if it already has). */
  readonly onFail: (callback: (failure: WriteFailure) => void) => void
}

const HIGH_WATER = 64 * 1024

/**
 * A writer to `destination`. `target` names it in messages (a path, or
 * `stdout`); `startBytes`, for a file, is its size when opened, so that after
 * a failed write the records that still reached it can be counted.
 *
 * @internal
 */
export const makeWriter = (
  destination: NodeJS.WritableStream,
  ownsDestination: boolean,
  target = "stdout",
  startBytes?: number
): Writer => {
  let buffer = ""
  let bufferedLines = 0
  // Handed to the destination and not yet confirmed, oldest first (a stream confirms writes in order).
  const unconfirmed: Array<{ readonly text: string; readonly lines: number }> = []
  let confirmedLines = 0
  let confirmedBytes = 0
  let blocked = false
  // Lines written while nothing else arrives (slow requests) should not wait in the buffer for long.
  let timer: ReturnType<typeof setTimeout> | undefined
  let failure: WriteFailure | undefined
  let failCallbacks: Array<(failure: WriteFailure) => void> = []
  // Writes handed to the destination whose callback has not run yet.
  let pending = 0
  let settledWaiters: Array<() => void> = []
  // Listening all the time, so a drain that happens before anyone waits is not missed.
  let waiters: Array<() => void> = []
  const unblock = () => {
    blocked = false
    const ready = waiters
    waiters = []
    for (const resolve of ready) resolve()
  }
  const settle = () => {
    if (pending > 0 && failure === undefined) return
    const ready = settledWaiters
    settledWaiters = []
    for (const resolve of ready) resolve()
  }
  /** After a failed write to a file: the whole lines of the failed chunk that reached it anyway. */
  const countPartial = () => {
    const chunk = unconfirmed[0]
    if (startBytes === undefined || chunk === undefined) return
    try {
      const extra = fs.statSync(target).size - startBytes - confirmedBytes
      if (extra <= 0) return
      const bytes = Buffer.from(chunk.text).subarray(0, extra)
      let lines = 0
      for (let at = bytes.indexOf(0x0a); at !== -1; at = bytes.indexOf(0x0a, at + 1)) lines++
      confirmedLines += lines
    } catch {
      // The file is gone: only what was confirmed counts.
    }
  }
  const fail = (error: unknown) => {
    if (failure !== undefined) return
    countPartial()
    const code = (error as NodeJS.ErrnoException)?.code
    failure = new WriteFailure(target, code, code === "EPIPE" || code === "ERR_STREAM_DESTROYED", { cause: error })
    buffer = ""
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    unblock()
    settle()
    const callbacks = failCallbacks
    failCallbacks = []
    for (const callback of callbacks) callback(failure)
  }
  destination.on("drain", unblock)
  destination.on("error", fail)
  const written = (error?: Error | null) => {
    pending--
    if (error) return fail(error)
    const chunk = unconfirmed.shift()
    if (chunk !== undefined) {
      confirmedLines += chunk.lines
      if (startBytes !== undefined) confirmedBytes += Buffer.byteLength(chunk.text)
    }
    settle()
  }
  const push = () => {
    if (timer !== undefined) {
      clearTimeout(timer)
      timer = undefined
    }
    if (buffer === "" || failure !== undefined) return
    const chunk = buffer
    buffer = ""
    unconfirmed.push({ text: chunk, lines: bufferedLines })
    bufferedLines = 0
    pending++
    if (!destination.write(chunk, written)) blocked = true
  }
  const drained = () =>
    new Promise<void>((resolve) => {
      if (!blocked) resolve()
      else waiters.push(resolve)
    })
  const allWritten = () =>
    new Promise<void>((resolve) => {
      if (pending === 0 || failure !== undefined) resolve()
      else settledWaiters.push(resolve)
    })
  return {
    write: (line) => {
      if (failure !== undefined) return
      buffer += line + "\n"
      bufferedLines++
      if (buffer.length >= HIGH_WATER) push()
      else timer ??= setTimeout(push, 50)
    },
    needsDrain: () => blocked,
    drained,
    close: async () => {
      push()
      await drained()
      await allWritten()
      if (ownsDestination && failure === undefined) {
        await new Promise<void>((resolve) => {
          destination.once("error", () => resolve())
          destination.end(() => resolve())
        })
      }
    },
    failed: () => failure,
    written: () => confirmedLines,
    onFail: (callback) => {
      if (failure !== undefined) callback(failure)
      else failCallbacks.push(callback)
    }
  }
}

/**
 * A writer to `path`, or to stdout when there is none.
 *
 * @internal
 */
export const openWriter = (path: string | undefined): Writer => {
  if (path === undefined || path === "-") return makeWriter(process.stdout, false)
  // Opened here so a path that cannot be written is refused before anything is sent.
  const fd = fs.openSync(path, "w")
  return makeWriter(fs.createWriteStream(path, { fd }), true, path, 0)
}
