/**
 * The child side of `startHostileProcess`: the hostile server, its arrivals
 * asked for over IPC.
 *
 * @internal
 */
import { answerParent } from "./forked.js"
import { startHostile } from "./hostile.js"

const server = await startHostile()
answerParent({ url: server.url }, {
  arrivals: () => server.arrivals,
  reset: () => {
    server.arrivals.length = 0
  }
}, server.close)
