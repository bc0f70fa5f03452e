/**
 * Waiting for events with a bound: tests poll for what they wait on (a count
 * at a server, a file's contents) and never sleep to synchronise; every wait
 * ends, by the event or by its limit.
 *
 * @since 1.1.0
 */

/**
 * Resolves after `ms` of real time: for a server's own delay or a poll's
 * pause, never to wait for something to happen.
 *
 * @since 1.1.0
 * @category waiting
 */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Polls `check` every 10 ms until it holds or `ms` pass; returns whether it
 * held.
 *
 * @since 1.1.0
 * @category waiting
 */
export const waitUntil = async (check: () => boolean | Promise<boolean>, ms = 5_000): Promise<boolean> => {
  const until = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > until) return false
    await sleep(10)
  }
  return true
}

/**
 * `waitUntil` that fails, saying what it waited for, when `check` does not
 * hold within `ms`.
 *
 * @since 1.1.0
 * @category waiting
 */
export const until = async (check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> => {
  if (!(await waitUntil(check, ms))) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
}

/**
 * Fails with a message after `ms` unless `promise` settles first (calling
 * `onTimeout` then, to kill what it waited on); the timer never outlives the
 * promise.
 *
 * @since 1.1.0
 * @category waiting
 */
export const within = <A>(promise: Promise<A>, ms: number, what: string, onTimeout?: () => void): Promise<A> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        onTimeout?.()
        reject(new Error(`${what} did not finish within ${ms} ms`))
      }, ms)
    })
  ]).finally(() => clearTimeout(timer))
}

let keys = 0

/**
 * A key no other request in this process (nor, by its pid and random tail,
 * in another) uses: for the routes that count attempts per key.
 *
 * @since 1.1.0
 * @category names
 */
export const uniqueKey = (label = "k"): string =>
  `${label}-${process.pid}-${++keys}-${Math.random().toString(36).slice(2, 8)}`
