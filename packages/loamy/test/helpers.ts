import { startProcess, type Stats } from "@loamy/test-server"

export interface RemoteServer {
  readonly url: string
  stats(): Promise<Stats>
  reset(): Promise<void>
  close(): Promise<void>
}

/** The test server in a child process: the sync door blocks this thread, so the server cannot live on it. */
export const startRemote = async (): Promise<RemoteServer> => {
  const server = await startProcess()
  return { url: server.url, stats: server.stats, reset: server.resetStats, close: server.close }
}

/** The original loamy's test batch: 100 requests alternating GET / and POST /foo. */
export const originalBatch = (url: string) =>
  Array.from({ length: 100 }, (_, i) =>
    i % 2 === 0
      ? { url: `${url}/`, httpOp: "GET" as const }
      : { url: `${url}/foo`, httpOp: "POST" as const, body: { i }, headers: { "X-Test": "Test" } })
