/**
 * The child side of `startRemoteProxy`: `node proxyChild.js [user:pass]`,
 * what the proxy saw asked for over IPC.
 *
 * @internal
 */
import { answerParent } from "./forked.js"
import { startProxy } from "./proxy.js"

const auth = process.argv[2]
const proxy = await startProxy(auth === undefined ? {} : { auth })
answerParent({ url: proxy.url, port: proxy.port }, { seen: () => proxy.seen, reset: proxy.reset }, proxy.close)
