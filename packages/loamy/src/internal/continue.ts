/**
 * An unsolicited `100 Continue` before the final response, taken as the
 * interim response it is (RFC 9110, 15.2: a client parses a 1xx it did not
 * expect and goes on waiting), as Node's `http` does. undici's parser
 * destroys the socket at a 100 ("bad response"), since it never asks for
 * one (undici 7 and 8 alike).
 *
 * There is no public hook for it: the connector below reaches the parser
 * undici keeps on each socket (`Symbol("parser")`, found by its name) and
 * has it see a 100 as another 1xx, which undici skips. That is an undici
 * internal, which is why loamy pins undici exactly: a release that changes
 * it would make the fix do nothing (it checks what it finds and steps aside),
 * and the pinned version is the one the tests ran against.
 *
 * @internal
 */
import type { Socket } from "node:net"
import { type Agent, buildConnector } from "undici"

/** An agent's `connect` option: TLS options (or none), or a connector of the caller's own. @internal */
export type Connect = Agent.Options["connect"]

/**
 * A connector whose HTTP/1.1 sockets skip an unsolicited `100 Continue`.
 * Each socket's parser (undici's own, made when undici takes the socket) is
 * patched once, when the socket first has data: nothing per request.
 *
 * @internal
 */
export const skippingContinue = (connect: Connect, allowH2: boolean): buildConnector.connector => {
  const base: buildConnector.connector = typeof connect === "function"
    ? connect
    : buildConnector(connect === undefined || connect === null ? { allowH2 } : { allowH2, ...connect })
  return (options, callback) =>
    base(options, (...args) => {
      // A failure may come without a socket at all.
      const socket = args[0] === null ? args[1] : undefined
      // HTTP/2 has no such parser: its sockets are left as they are.
      if (socket != null && !isH2(socket)) socket.once("readable", () => continueAsInterim(socket))
      callback(...args)
    })
}

const isH2 = (socket: Socket): boolean => "alpnProtocol" in socket && socket.alpnProtocol === "h2"

/** The symbol undici keeps a socket's parser under (not registered: found by its description). */
let parserKey: symbol | undefined

type HeadersComplete = (this: unknown, statusCode: number, upgrade: boolean, keepAlive: boolean) => unknown

const isParser = (u: unknown): u is { onHeadersComplete: HeadersComplete } =>
  typeof u === "object" && u !== null && "onHeadersComplete" in u && typeof u.onHeadersComplete === "function"

/** Status 102 stands in for a 100 that undici's parser would refuse: it skips any other 1xx. */
const continueAsInterim = (socket: Socket): void => {
  parserKey ??= Object.getOwnPropertySymbols(socket).find((key) => key.description === "parser")
  if (parserKey === undefined) return
  const parser: unknown = Reflect.get(socket, parserKey)
  if (!isParser(parser)) return
  const onHeadersComplete = parser.onHeadersComplete
  parser.onHeadersComplete = function(statusCode, upgrade, keepAlive) {
    return onHeadersComplete.call(this, statusCode === 100 ? 102 : statusCode, upgrade, keepAlive)
  }
}
