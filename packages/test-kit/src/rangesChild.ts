/**
 * The child side of `startRemoteRangeServer`: `node rangesChild.js`, its log
 * over IPC.
 *
 * @internal
 */
import { answerParent } from "./forked.js"
import { startRangeServer } from "./ranges.js"

const server = await startRangeServer()
answerParent({ url: server.url }, {
  log: () => server.log,
  reset: () => {
    server.log.length = 0
  }
}, server.close)
