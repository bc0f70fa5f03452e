/**
 * Servers of a test's own on 127.0.0.1, and free ports.
 *
 * @since 1.1.0
 */
import { closedPort } from "@loamy/test-server"
import * as http from "node:http"
import type { AddressInfo } from "node:net"

/**
 * A port on 127.0.0.1 that nothing listens on right now: to give a process
 * to listen on, or to be refused on (`closedPort` of `@loamy/test-server`).
 *
 * @since 1.1.0
 * @category ports
 */
export const freePort: () => Promise<number> = closedPort

/**
 * A `node:http` server of a test's own, listening on 127.0.0.1.
 *
 * @since 1.1.0
 * @category models
 */
export interface Listening {
  readonly server: http.Server
  /** `http://127.0.0.1:PORT`, no trailing slash. */
  readonly url: string
  readonly port: number
  /** Stops listening and ends every connection, kept-alive and active ones too. */
  close(): Promise<void>
}

/**
 * Starts `handler` on a free port of 127.0.0.1.
 *
 * @since 1.1.0
 * @category constructors
 */
export const listen = (handler: http.RequestListener): Promise<Listening> =>
  new Promise((resolve, reject) => {
    const server = http.createServer(handler)
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      resolve({
        server,
        url: `http://127.0.0.1:${port}`,
        port,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          })
      })
    })
  })
