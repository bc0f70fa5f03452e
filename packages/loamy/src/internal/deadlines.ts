/**
 * Attempt deadlines without a `setTimeout` per request. The usual bound is
 * minutes away and nearly every request ends long before it: a timer per
 * request (a `Timeout` object, its list entry, its async ids) is made and
 * cleared for nothing. A deadline further off than `near` is put on one list
 * instead, which one timer sweeps every `near / 2`; a sweep gives an entry
 * that has come within `near` of its deadline a timer of its own, so it
 * fires when its own timer would have. Entries are linked through their own
 * fields: arming and disarming allocate nothing.
 *
 * @internal
 */

/** Within this many milliseconds of its deadline an entry has a timer of its own. */
const near = 1_000

/**
 * An entry of the list: the per-request object that is there anyway (the
 * exchange's dispatch handler) extends it and says what to do at the
 * deadline (`expire`): no closure per request either.
 *
 * @internal
 */
export abstract class Timed {
  /** When `expire` runs, on the `performance.now()` clock. */
  private at = 0
  private listed = false
  private timer: ReturnType<typeof setTimeout> | undefined = undefined
  private prev: Timed | undefined = undefined
  private next: Timed | undefined = undefined

  /** Runs at the deadline unless `disarm` came first. */
  protected abstract expire(): void

  /** Calls `expire` at `at` (on the `performance.now()` clock) unless `disarm` comes first. Once per entry. */
  arm(at: number): void {
    const wait = at - performance.now()
    if (wait <= near) {
      this.timer = setTimeout(expireEntry, Math.max(0, wait), this)
      return
    }
    this.at = at
    this.listed = true
    Timed.link(this)
  }

  /** The deadline no longer matters: its timer cleared or the entry taken off the list. */
  disarm(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer)
      this.timer = undefined
    } else if (this.listed) {
      this.listed = false
      Timed.unlink(this)
    }
  }

  /** Gives the entries within `near` of their deadline a timer of their own. */
  static sweep(now: number): void {
    let entry = head
    while (entry !== undefined) {
      const next = entry.next
      const wait = entry.at - now
      if (wait <= near) {
        entry.listed = false
        Timed.unlink(entry)
        entry.timer = setTimeout(expireEntry, Math.max(0, wait), entry)
      }
      entry = next
    }
  }

  /** @internal */
  static expireNow(entry: Timed): void {
    entry.timer = undefined
    entry.expire()
  }

  private static link(entry: Timed): void {
    entry.next = head
    if (head !== undefined) head.prev = entry
    head = entry
    sweeper ??= setInterval(sweepNow, near / 2)
  }

  private static unlink(entry: Timed): void {
    if (entry.prev === undefined) head = entry.next
    else entry.prev.next = entry.next
    if (entry.next !== undefined) entry.next.prev = entry.prev
    entry.prev = entry.next = undefined
    // Nothing listed: no timer keeps the process up.
    if (head === undefined && sweeper !== undefined) {
      clearInterval(sweeper)
      sweeper = undefined
    }
  }
}

function expireEntry(entry: Timed) {
  Timed.expireNow(entry)
}

let head: Timed | undefined
let sweeper: ReturnType<typeof setInterval> | undefined

function sweepNow() {
  Timed.sweep(performance.now())
}
