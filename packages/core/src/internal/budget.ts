/**
 * The `bodyBudget` option: bytes of response bodies held at once by the
 * reads of one call. One object per call; a read costs a number (its
 * ticket) and an addition per chunk. A read that takes the budget past its
 * bound is told to wait: it stops reading (its connection is not read, so
 * the server is held back by TCP) until other reads give bytes back.
 *
 * One read at a time may go past the bound (the overdraft): the first that
 * would wait while no other holds it goes on instead. So reads that all
 * wait for each other (each holding part of the budget, none able to
 * finish) cannot happen: the overdraft's read always moves, and when it ends
 * the next waiting read takes its place. At most `limit` plus one read's
 * bytes (`maxBodyBytes`) plus a chunk per read are held.
 *
 * It is shared with a transport that reads bodies itself (loamy's undici
 * layer) as `Transport.BodyBudget`, the second argument of `readUpTo`.
 *
 * @internal
 */
import type { BodyBudget, BudgetWaiter } from "../Transport.js"

/** A read waiting for bytes to be given back; undefined `resume` once cancelled or resumed. @internal */
export type Waiter = BudgetWaiter

/** @internal */
export class Budget implements BodyBudget {
  /** Bytes held by the reads in progress. */
  held = 0
  /** The ticket of the read allowed past the bound; 0 when none is. */
  private over = 0
  private tickets = 0
  private readonly waiting: Array<Waiter | undefined> = []
  private head = 0

  constructor(readonly limit: number) {}

  /** A number for one read (its overdraft is known by it). */
  open(): number {
    return ++this.tickets
  }

  /**
   * Counts `bytes` more for read `ticket` (held whatever the answer: the
   * chunk is in hand). True: read on. False: stop reading and `wait`.
   */
  take(ticket: number, bytes: number): boolean {
    const held = this.held += bytes
    if (this.over === ticket) return true
    if (held <= this.limit && this.head === this.waiting.length) return true
    if (this.over === 0) {
      this.over = ticket
      return true
    }
    return false
  }

  /** Calls `resume` once read `ticket` may go on (first come, first served). */
  wait(ticket: number, resume: () => void): Waiter {
    const waiter: Waiter = { ticket, resume }
    this.waiting.push(waiter)
    return waiter
  }

  /** A waiting read that ended (its body failed, timed out, was interrupted): it no longer waits. */
  cancel(waiter: Waiter): void {
    waiter.resume = undefined
    // Whatever it was waiting behind may have gone meanwhile.
    this.drain()
  }

  /** Read `ticket` ended, holding `bytes`: they are given back, and waiting reads go on while there is room. */
  release(ticket: number, bytes: number): void {
    this.held -= bytes
    if (this.over === ticket) this.over = 0
    this.drain()
  }

  private drain(): void {
    const waiting = this.waiting
    while (this.head < waiting.length) {
      const waiter = waiting[this.head]!
      const resume = waiter.resume
      if (resume !== undefined) {
        if (this.held > this.limit) {
          if (this.over !== 0) return
          this.over = waiter.ticket
        }
        waiter.resume = undefined
      }
      waiting[this.head++] = undefined
      if (resume !== undefined) resume()
    }
    waiting.length = 0
    this.head = 0
  }
}
