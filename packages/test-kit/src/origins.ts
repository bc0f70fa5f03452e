/**
 * Two origins on 127.0.0.1 for the engine's bounds, at the Effect door and
 * through the CLI alike: a slow one that holds its answers until the test
 * releases them, and a fast one that answers at once and counts.
 *
 * @since 1.1.0
 */
import type * as http from "node:http"
import { listen, type Listening } from "./ports.js"

/**
 * @since 1.1.0
 * @category models
 */
export interface SlowAndFast {
  /** Holds every response open after its headers, until `release()`. */
  readonly slow: Listening
  /** Answers `{"origin":"B"}` at once. */
  readonly fast: Listening
  /** Responses the slow origin holds right now. */
  readonly held: number
  /** Requests the fast origin answered since it started (or `reset()`). */
  readonly arrived: number
  /** `slow` GETs to the slow origin (`/a/0`, `/a/1`, ...), then `fast` to the fast one (`/b/0`, ...). */
  batch(slow: number, fast: number): Array<{ readonly url: string; readonly httpOp: "GET" }>
  /** Ends every held response with `{"origin":"A"}`. */
  release(): void
  /** Sets `arrived` back to 0. */
  reset(): void
  /** Releases what is held, then closes both. */
  close(): Promise<void>
}

/** `?n=N` (N > 0) at either origin: a JSON string of N bytes at once, chunked, in two writes. */
const bulk = (req: http.IncomingMessage, res: http.ServerResponse): boolean => {
  const n = Number(new URL(req.url ?? "/", "http://127.0.0.1").searchParams.get("n") ?? "0")
  if (!(n > 0)) return false
  res.writeHead(200, { "content-type": "application/json" })
  res.write("\"")
  res.end("z".repeat(n - 2) + "\"")
  return true
}

/**
 * Starts the two origins. A request to either with `n=N` in its query gets a
 * chunked JSON string of N bytes at once instead (for body-budget tests).
 *
 * @since 1.1.0
 * @category constructors
 */
export const startSlowAndFast = async (): Promise<SlowAndFast> => {
  const held = new Set<http.ServerResponse>()
  let arrived = 0
  const release = () => {
    for (const res of held) res.end("{\"origin\":\"A\"}")
    held.clear()
  }
  const [slow, fast] = await Promise.all([
    listen((req, res) => {
      if (bulk(req, res)) return
      res.writeHead(200, { "content-type": "application/json" })
      held.add(res)
    }),
    listen((req, res) => {
      if (bulk(req, res)) return
      arrived++
      res.writeHead(200, { "content-type": "application/json" })
      res.end("{\"origin\":\"B\"}")
    })
  ])
  return {
    slow,
    fast,
    get held() {
      return held.size
    },
    get arrived() {
      return arrived
    },
    batch: (slowCount, fastCount) => [
      ...Array.from({ length: slowCount }, (_, i) => ({ url: `${slow.url}/a/${i}`, httpOp: "GET" as const })),
      ...Array.from({ length: fastCount }, (_, i) => ({ url: `${fast.url}/b/${i}`, httpOp: "GET" as const }))
    ],
    release,
    reset: () => {
      arrived = 0
    },
    close: async () => {
      release()
      await Promise.all([slow.close(), fast.close()])
    }
  }
}
