/**
 * Servers of a test's own on 127.0.0.1, and free ports.
 *
 * @since 1.1.0
 */
import { closedPort } from "@loamy/test-server"
import * as http from "node:http"
import type { AddressInfo, Server, Socket } from "node:net"

/**
 * A port on 127.0.0.1 that nothing listens on right now: to give a process
 * to listen on, or to be refused on (`closedPort` of `@loamy/test-server`).
 *
 * @since 1.1.0
 * @category ports
 */
export const freePort: () => Promise<number> = closedPort

/**
 * A server of a test's own, listening on 127.0.0.1.
 *
 * @since 1.1.0
 * @category models
 */
export interface Listening<S extends Server = http.Server> {
  readonly server: S
  /** `http://127.0.0.1:PORT` (`https://` for a TLS server), no trailing slash. */
  readonly url: string
  readonly port: number
  /** Stops listening and ends every connection, kept-alive and active ones too. */
  close(): Promise<void>
}

/**
 * Listens with `server` on a free port of 127.0.0.1, keeping track of its
 * connections so that `close` can end them.
 *
 * @since 1.1.0
 * @category constructors
 */
export const serve = <S extends Server>(server: S, scheme: "http" | "https" = "http"): Promise<Listening<S>> =>
  new Promise((resolve, reject) => {
    const sockets = new Set<Socket>()
    server.on("connection", (socket: Socket) => {
      sockets.add(socket)
      socket.once("close", () => sockets.delete(socket))
    })
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as AddressInfo).port
      resolve({
        server,
        url: `${scheme}://127.0.0.1:${port}`,
        port,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy()
            server.close(() => done())
          })
      })
    })
  })

/**
 * Starts `handler` as a `node:http` server on a free port of 127.0.0.1.
 *
 * @since 1.1.0
 * @category constructors
 */
export const listen = (handler: http.RequestListener): Promise<Listening> => serve(http.createServer(handler))
