/**
 * A lean `HttpClient` over an undici `Agent` with keep-alive. Requests still go
 * through Effect's `HttpClient` interface, but each one costs little more than
 * a raw `undici.request`: no span unless a tracer that records spans is
 * installed, no URL re-parsing for requests without URL params, response
 * headers as a plain lower-case record, and interruption aborting the undici
 * request (and the socket, when a body is half read).
 *
 * As `fetch` does, it sends `Accept-Encoding: gzip, deflate, br` and decodes
 * response bodies by their `Content-Encoding`, so `text`, `arrayBuffer` and
 * `stream` give the decoded bytes (the headers are left as the server sent
 * them). It also sends `User-Agent: loamy/<version>`. A request's own
 * `accept-encoding` or `user-agent` header wins.
 *
 * It routes through proxies (the core's `proxy` option, or `layerWith({ proxy })`):
 * `https` targets through a `CONNECT` tunnel, `http` targets as requests in
 * absolute form (`GET http://host/path`), as curl and aiohttp send them.
 *
 * ```ts
 * import { Clump } from "@loamy/core"
 * import * as UndiciHttpClient from "loamy/UndiciHttpClient"
 * import { Effect } from "effect"
 *
 * const responses = await Clump.send(Clump.make([{ url: "http://127.0.0.1:8080/", httpOp: "GET" }])).pipe(
 *   Effect.provide(UndiciHttpClient.layer),
 *   Effect.runPromise
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as Cookies from "@effect/platform/Cookies"
import type * as Headers from "@effect/platform/Headers"
import type * as HttpBody from "@effect/platform/HttpBody"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as HttpIncomingMessage from "@effect/platform/HttpIncomingMessage"
import * as HttpTraceContext from "@effect/platform/HttpTraceContext"
import * as UrlParams from "@effect/platform/UrlParams"
import { LoamyError, Options as CoreOptions } from "@loamy/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as Fiber from "effect/Fiber"
import * as FiberRef from "effect/FiberRef"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"
import { Duplex, pipeline, Readable } from "node:stream"
import * as zlib from "node:zlib"
import type { Socket } from "node:net"
import { Agent, buildConnector, type Dispatcher, EnvHttpProxyAgent, Pool, ProxyAgent } from "undici"
import { version } from "./internal/version.js"

/**
 * How the agent behind the client connects.
 *
 * @since 0.1.0
 * @category models
 */
export interface AgentOptions {
  /**
   * Sockets per origin. Default: no limit (about two per request in flight);
   * in `layerWith` and `layer`, each call of the core (`Clump.send`,
   * `stream`, `streamFrom`) then runs on an agent of the layer's capped at
   * the call's concurrency.
   */
  readonly connections?: number | undefined
  /** How long an idle keep-alive socket is kept, in ms. Default 4,000 (undici's default). */
  readonly keepAliveTimeout?: number | undefined
  /** Negotiate HTTP/2 over TLS when the server offers it. Default false. */
  readonly allowH2?: boolean | undefined
  /** Requests pipelined per HTTP/1.1 socket. Default 1 (no pipelining). */
  readonly pipelining?: number | undefined
  /** TLS and socket options for new connections (`ca`, `rejectUnauthorized`, `servername`, `timeout`...). */
  readonly connect?: Agent.Options["connect"] | undefined
}

/**
 * The undici dispatcher the client sends through.
 *
 * @since 0.1.0
 * @category tags
 */
export class UndiciDispatcher extends Context.Tag("loamy/UndiciHttpClient/UndiciDispatcher")<
  UndiciDispatcher,
  Dispatcher
>() {}

/**
 * Makes an undici `Agent` that is closed (its sockets destroyed) when the
 * scope closes. Timeouts are left to Effect (`timeout`, `deadline`), so the
 * agent's own header and body timeouts are off.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeAgent = (options: AgentOptions = {}): Effect.Effect<Agent, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => unsafeMakeAgent(options)),
    (agent) => Effect.promise(() => agent.destroy().catch(() => undefined))
  )

/**
 * The agent `makeAgent` makes, outside any scope: the caller closes it.
 *
 * @internal
 */
export const unsafeMakeAgent = (options: AgentOptions = {}): Agent => {
  const agentOptions: Agent.Options = {
    headersTimeout: 0,
    bodyTimeout: 0,
    keepAliveTimeout: options.keepAliveTimeout ?? 4_000,
    allowH2: options.allowH2 ?? false
  }
  if (options.connections !== undefined) agentOptions.connections = options.connections
  if (options.pipelining !== undefined) agentOptions.pipelining = options.pipelining
  agentOptions.connect = skippingContinue(options.connect, agentOptions.allowH2!)
  return new Agent(agentOptions)
}

type Connect = Agent.Options["connect"]

/**
 * A connector whose HTTP/1.1 sockets take an unsolicited `100 Continue`
 * before the final response as the interim response it is (RFC 9110, 15.2:
 * a client parses a 1xx it did not expect and goes on waiting). undici's
 * parser destroys the socket at a 100 ("bad response"), since it never asks
 * for one; Node's `http` skips it. Each socket's parser (undici's own, made
 * when undici takes the socket) is given a 100 as another 1xx, which undici
 * skips: one look per socket, nothing per request. `connect` is the agent's
 * option: TLS options (or none), or a connector of the caller's own.
 */
const skippingContinue = (connect: Connect, allowH2: boolean): buildConnector.connector => {
  const base: buildConnector.connector = typeof connect === "function"
    ? connect
    : buildConnector({ allowH2, ...connect } as buildConnector.BuildOptions)
  return (options, callback) =>
    base(options, (...args) => {
      // A failure may come without a socket at all.
      const socket = args[0] === null ? args[1] : undefined
      // HTTP/2 has no such parser: its sockets are left as they are.
      if (socket != null && (socket as { alpnProtocol?: unknown }).alpnProtocol !== "h2") {
        socket.once("readable", () => continueAsInterim(socket))
      }
      callback(...args)
    })
}

/** The symbol undici keeps a socket's parser under (`Symbol("parser")`, not registered: found by its name). */
let parserKey: symbol | undefined

/** Status 102 stands in for a 100 that undici's parser would refuse: it skips any other 1xx. */
const continueAsInterim = (socket: Socket): void => {
  const record = socket as unknown as Record<symbol, unknown>
  if (parserKey === undefined) parserKey = Object.getOwnPropertySymbols(socket).find((key) => key.description === "parser")
  const parser = parserKey === undefined ? undefined : record[parserKey] as Record<string, unknown> | null | undefined
  const onHeadersComplete = parser?.["onHeadersComplete"]
  if (typeof onHeadersComplete !== "function") return
  parser!["onHeadersComplete"] = function(this: unknown, statusCode: number, upgrade: boolean, keepAlive: boolean) {
    return onHeadersComplete.call(this, statusCode === 100 ? 102 : statusCode, upgrade, keepAlive)
  }
}

const nativeTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

const userAgent = `loamy/${version}`
const acceptEncoding = "gzip, deflate, br"
const defaultHeaders: Readonly<Record<string, string>> = Object.freeze({
  "accept-encoding": acceptEncoding,
  "user-agent": userAgent
})

/**
 * The request's headers with the defaults a request does not set itself.
 * `Headers` names are lower-case, so a plain `in` finds the user's own.
 */
const withDefaults = (headers: Headers.Headers): Readonly<Record<string, string>> => {
  // No headers at all (most requests): one shared object, which undici only reads.
  let empty = true
  for (const _ in headers) {
    empty = false
    break
  }
  if (empty) return defaultHeaders
  const hasEncoding = "accept-encoding" in headers
  const hasAgent = "user-agent" in headers
  if (hasEncoding && hasAgent) return headers
  const out: Record<string, string> = {}
  if (!hasEncoding) out["accept-encoding"] = acceptEncoding
  if (!hasAgent) out["user-agent"] = userAgent
  for (const name in headers) out[name] = headers[name]!
  return out
}

/**
 * Makes an `HttpClient` that sends through `dispatcher` (an `Agent`, a
 * `Pool`, a `MockAgent`). The dispatcher is not closed by the client.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (dispatcher: Dispatcher): HttpClient.HttpClient => makeClient(dispatcher, undefined, undefined)

/**
 * A client over `dispatcher` that can also send through proxies, with the
 * dispatchers of `proxies`. `route`: the proxy `dispatcher` itself goes
 * through, for naming it in errors.
 */
const makeClient = (
  dispatcher: Dispatcher,
  proxies: Proxies | undefined,
  route: ProxyRoute | undefined
): HttpClient.HttpClient => {
  const client = HttpClient.makeWith<never, never, HttpClientError.HttpClientError, never>(
    (effect) => Effect.flatMap(effect, (request) => execute(dispatcher, request, route)),
    Effect.succeed
  )
  const marked = client as unknown as Record<symbol, unknown>
  marked[deadlineAware] = true
  if (proxies !== undefined) marked[proxyClient] = (proxy: string) => proxies.entry(proxy).client
  return client
}

/**
 * `@loamy/core` bounds an attempt by putting its end (a `performance.now()`
 * time) on the request under this key, when the client says it honours it:
 * one timer per request here costs far less than a forked fiber racing a
 * sleep in the engine. Past it, the request is aborted (or its body
 * destroyed) with an error whose `code` is `LOAMY_ATTEMPT_TIMEOUT`.
 */
const attemptDeadline: unique symbol = Symbol.for("@loamy/core/attemptDeadline")
const deadlineAware: unique symbol = Symbol.for("@loamy/core/deadlineAware")

/**
 * `@loamy/core` asks a client for the client that sends through a proxy
 * (its `proxy` option) with the function under this key, once per call.
 */
const proxyClient: unique symbol = Symbol.for("@loamy/core/proxyClient")

/**
 * A response method `@loamy/core` calls, when present, to read at most
 * `limit` (decoded) bytes: a plain loop over the body instead of an Effect
 * stream, which costs several hundred microseconds per response. Past the
 * limit the body (and its socket) is destroyed and the result is undefined.
 * The bytes it holds are counted in the call's body budget (see `BodyBudget`).
 */
const readUpTo: unique symbol = Symbol.for("@loamy/core/readUpTo")

/**
 * The call's body budget `@loamy/core` gives `readUpTo` (its `bodyBudget`
 * option): a read takes each chunk's bytes (and waits, not reading, when it
 * is told to) and gives them all back when it ends.
 */
interface BodyBudget {
  open(): number
  take(ticket: number, bytes: number): boolean
  wait(ticket: number, resume: () => void): BudgetWaiter
  cancel(waiter: BudgetWaiter): void
  release(ticket: number, bytes: number): void
}

interface BudgetWaiter {
  readonly resume: (() => void) | undefined
}

/** A response method `@loamy/core` calls, when present: the whole body, when it was read before the response was handed over and is not encoded. */
const bufferedBody: unique symbol = Symbol.for("@loamy/core/buffered")

class AttemptTimeout extends Error {
  readonly code = "LOAMY_ATTEMPT_TIMEOUT"
  constructor() {
    super("the attempt's timeout passed")
  }
}

const deadlineOf = (request: HttpClientRequest.HttpClientRequest): number | undefined =>
  (request as unknown as Record<symbol, number | undefined>)[attemptDeadline]

const execute = (
  dispatcher: Dispatcher,
  request: HttpClientRequest.HttpClientRequest,
  route: ProxyRoute | undefined
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> => {
  let url: URL
  if (request.urlParams.length === 0 && request.hash._tag === "None") {
    try {
      url = new URL(request.url)
    } catch (cause) {
      return Effect.fail(new HttpClientError.RequestError({ request, reason: "InvalidUrl", cause }))
    }
  } else {
    const made = UrlParams.makeUrl(request.url, request.urlParams, request.hash)
    if (made._tag === "Left") {
      return Effect.fail(new HttpClientError.RequestError({ request, reason: "InvalidUrl", cause: made.left }))
    }
    url = made.right
  }
  return Effect.withFiberRuntime((fiber) => {
    // The native tracer records spans nobody reads: skip the span and its attributes.
    if (
      fiber.currentTracer === nativeTracer ||
      !fiber.getFiberRef(FiberRef.currentTracerEnabled) ||
      fiber.getFiberRef(HttpClient.currentTracerDisabledWhen)(request)
    ) {
      return send(fiber, dispatcher, request, withDefaults(request.headers), url, route)
    }
    const name = Context.get(fiber.currentContext, HttpClient.SpanNameGenerator)(request)
    return Effect.useSpan(name, { kind: "client", captureStackTrace: false }, (span) => {
      span.attribute("http.request.method", request.method)
      span.attribute("server.address", url.origin)
      if (url.port !== "") span.attribute("server.port", +url.port)
      span.attribute("url.full", url.toString())
      span.attribute("url.path", url.pathname)
      span.attribute("url.scheme", url.protocol.slice(0, -1))
      const headers = fiber.getFiberRef(HttpClient.currentTracerPropagation)
        ? { ...withDefaults(request.headers), ...HttpTraceContext.toHeaders(span) }
        : withDefaults(request.headers)
      return Effect.tap(
        Effect.withParentSpan(send(fiber, dispatcher, request, headers, url, route), span),
        (response) => span.attribute("http.response.status_code", response.status)
      )
    })
  })
}

const send = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  dispatcher: Dispatcher,
  request: HttpClientRequest.HttpClientRequest,
  headers: Readonly<Record<string, string>>,
  url: URL,
  route: ProxyRoute | undefined
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError> => {
  const body = request.body
  if (body._tag === "Stream") {
    return Effect.flatMap(Effect.runtime<never>(), (runtime) =>
      dispatch(
        fiber,
        dispatcher,
        request,
        headers,
        url,
        Stream.toAsyncIterableRuntime(body.stream, runtime) as unknown as RequestBody,
        route
      ))
  }
  return dispatch(fiber, dispatcher, request, headers, url, requestBody(body), route)
}

type RequestBody = Exclude<Dispatcher.DispatchOptions["body"], undefined>

const requestBody = (body: HttpBody.HttpBody): RequestBody => {
  switch (body._tag) {
    case "Empty":
      return null
    case "Uint8Array":
      return body.body
    case "Raw":
      return body.body as RequestBody
    case "FormData":
      return body.formData as unknown as RequestBody
    case "Stream":
      return null
  }
}

/**
 * Stands in for an `AbortSignal`: undici only needs `addEventListener`, and a
 * real `AbortController` per request costs more than the rest of the client.
 */
class Abort {
  aborted = false
  reason: unknown = undefined
  private listener: (() => void) | undefined = undefined
  addEventListener(_type: string, listener: () => void): void {
    this.listener = listener
  }
  removeEventListener(): void {
    this.listener = undefined
  }
  abort(): void {
    if (this.aborted) return
    this.aborted = true
    const listener = this.listener
    this.listener = undefined
    if (listener !== undefined) listener()
  }
}

/**
 * `Effect.async` for a result that is a resource: `cancel` runs when the
 * fiber ends without having taken a result, given the result if one had
 * been handed over (interrupted as it arrived) or undefined (still pending).
 * It takes the place of a canceler, which wraps the effect in `onInterrupt`
 * (`onExit`, `uninterruptibleMask`, `matchCauseEffect`): about 2 KB of frames
 * per call, more than a tenth of a request's garbage. The price is timing:
 * an interrupted request is aborted when its fiber ends, after the fiber's
 * finalizers, not before them; every interruption ends the fiber.
 */
const asyncOwned = <A, E>(
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  register: (succeed: (value: A) => void, fail: (error: E) => void) => void,
  cancel: (handedOver: A | undefined) => void
): Effect.Effect<A, E> =>
  Effect.async<A, E>((resume) => {
    // 0: pending, 1: handed over (not yet taken), 2: taken, failed or cancelled
    let state = 0
    let handedOver: A | undefined
    const onEnd = () => {
      if (state === 2) return
      const value = state === 1 ? handedOver : undefined
      state = 2
      handedOver = undefined
      cancel(value)
    }
    fiber.addObserver(onEnd)
    register(
      (value) => {
        if (state !== 0) return
        state = 1
        handedOver = value
        resume(Effect.sync(() => {
          state = 2
          handedOver = undefined
          fiber.removeObserver(onEnd)
          return value
        }))
      },
      (error) => {
        if (state !== 0) return
        state = 2
        fiber.removeObserver(onEnd)
        resume(Effect.fail(error))
      }
    )
  })

const dispatch = (
  fiber: Fiber.RuntimeFiber<unknown, unknown>,
  dispatcher: Dispatcher,
  request: HttpClientRequest.HttpClientRequest,
  headers: Readonly<Record<string, string>>,
  url: URL,
  body: RequestBody,
  route: ProxyRoute | undefined
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError> => {
  const abort = new Abort()
  let settled = false
  let timer: ReturnType<typeof setTimeout> | undefined
  return asyncOwned<UndiciResponse, HttpClientError.RequestError>(fiber, (succeed, fail) => {
    const deadline = deadlineOf(request)
    const settle = () => {
      if (settled) return false
      settled = true
      if (timer !== undefined) clearTimeout(timer)
      return true
    }
    if (deadline !== undefined) {
      timer = setTimeout(() => {
        if (!settle()) return
        abort.abort()
        fail(new HttpClientError.RequestError({ request, reason: "Transport", cause: new AttemptTimeout() }))
      }, Math.max(0, deadline - performance.now()))
    }
    // An explicit literal: a spread of shared defaults costs more than the rest of the set-up.
    const options: Dispatcher.RequestOptions = {
      origin: url.origin,
      path: url.pathname + url.search,
      method: request.method,
      // undici's proxy agent adds `host` to the headers it is given: a copy, not the shared defaults.
      headers: route === undefined ? headers : { ...headers },
      body,
      signal: abort as unknown as AbortSignal,
      headersTimeout: 0,
      bodyTimeout: 0
    }
    try {
      dispatcher.request(options, (error, data) => {
        if (error !== null) {
          if (!settle()) return
          const proxyError = route === undefined ? undefined : proxyFailure(route, url, error)
          const refused = proxyError === undefined && (error as { code?: unknown }).code === "UND_ERR_INVALID_ARG"
          fail(
            new HttpClientError.RequestError({
              request,
              reason: refused ? "Encode" : "Transport",
              cause: proxyError ?? (refused && route !== undefined ? ownProxyAuthorization(error) : error)
            })
          )
        } else if (settled) {
          // Timed out (or abandoned) as the headers arrived: nobody will read this body.
          data.body.on("error", ignoreError)
          data.body.destroy()
        } else if (isSmall(request, data)) {
          // A small body is read before the response is handed over: one resumption of the fiber instead of two.
          data.body.bytes().then(
            (bytes) => settle() && succeed(new UndiciResponse(request, data, bytes, undefined)),
            (cause) => settle() && fail(new HttpClientError.RequestError({ request, reason: "Transport", cause }))
          )
        } else if (settle()) {
          succeed(new UndiciResponse(request, data, undefined, deadline))
        }
      })
    } catch (cause) {
      // undici throws synchronously for a header or method it will not send.
      if (!settle()) return
      fail(
        new HttpClientError.RequestError({
          request,
          reason: "Encode",
          cause: route === undefined ? cause : ownProxyAuthorization(cause)
        })
      )
    }
  }, (handedOver) => {
    // The fiber ended (interrupted) before it took the response: undici aborts the request and its socket,
    // or the body of a response that came too late is dropped.
    settled = true
    if (timer !== undefined) clearTimeout(timer)
    if (handedOver === undefined) abort.abort()
    else handedOver.abandon()
  })
}

function ignoreError(_: unknown) {}

/** Bodies up to this size (by `content-length`) are buffered with the headers. */
const eagerBodyBytes = 64 * 1024

const isSmall = (request: HttpClientRequest.HttpClientRequest, data: Dispatcher.ResponseData): boolean => {
  if (request.method === "HEAD") return false
  const length = data.headers["content-length"]
  return typeof length === "string" && length.length < 7 && Number(length) <= eagerBodyBytes
}

const utf8 = new TextDecoder()

type Coding = "gzip" | "deflate" | "br"

/** fetch's limit: more codings than this are a malformed (or hostile) response. */
const maxCodings = 5

/**
 * The decoders a body needs, in the order they apply (the reverse of the
 * header's), as fetch has them: none for `HEAD`, 204 and 304, none for
 * `identity`, and none at all when a coding is unknown (the body is given as
 * it came). `"too many"` when there are more than five.
 */
const codingsOf = (
  request: HttpClientRequest.HttpClientRequest,
  status: number,
  header: string | ReadonlyArray<string> | undefined
): ReadonlyArray<Coding> | "too many" | undefined => {
  if (header === undefined || request.method === "HEAD" || status === 204 || status === 304) return undefined
  const names = (typeof header === "string" ? header : header.join(",")).toLowerCase().split(",")
  if (names.length > maxCodings) return "too many"
  const codings: Array<Coding> = []
  for (let i = names.length - 1; i >= 0; i--) {
    const name = names[i]!.trim()
    if (name === "gzip" || name === "x-gzip") codings.push("gzip")
    else if (name === "deflate") codings.push("deflate")
    else if (name === "br") codings.push("br")
    else if (name !== "identity" && name !== "") return undefined
  }
  return codings.length === 0 ? undefined : codings
}

// Lenient as fetch and curl are: a body cut short gives what it has instead of an error.
const zlibOptions: zlib.ZlibOptions = { flush: zlib.constants.Z_SYNC_FLUSH, finishFlush: zlib.constants.Z_SYNC_FLUSH }
const brotliOptions: zlib.BrotliOptions = {
  flush: zlib.constants.BROTLI_OPERATION_FLUSH,
  finishFlush: zlib.constants.BROTLI_OPERATION_FLUSH
}

/** `deflate` is meant to be zlib-wrapped, but some servers send it raw; fetch takes both. */
const isZlibWrapped = (first: number): boolean => (first & 0x0f) === 0x08

/** A whole (small) body at once: the synchronous decoders cost less than streams. */
const decodeSync = (bytes: Uint8Array, codings: ReadonlyArray<Coding>): Uint8Array => {
  let out = bytes
  for (const coding of codings) {
    if (out.byteLength === 0) return out
    out = coding === "gzip"
      ? zlib.gunzipSync(out, zlibOptions)
      : coding === "br"
      ? zlib.brotliDecompressSync(out, brotliOptions)
      : isZlibWrapped(out[0]!)
      ? zlib.inflateSync(out, zlibOptions)
      : zlib.inflateRawSync(out, zlibOptions)
  }
  return out
}

/**
 * `deflate`, zlib-wrapped or raw as the first byte says. Unlike fetch's, it
 * passes the reader's back-pressure on to the inflater, so a reader that
 * stops also stops the inflating.
 */
class AutoInflate extends Duplex {
  private inner: zlib.Inflate | zlib.InflateRaw | undefined = undefined

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let inner = this.inner
    if (inner === undefined) {
      if (chunk.byteLength === 0) return callback()
      const made = isZlibWrapped(chunk[0]!) ? zlib.createInflate(zlibOptions) : zlib.createInflateRaw(zlibOptions)
      inner = this.inner = made
      made.on("data", (data: Buffer) => {
        if (!this.push(data)) made.pause()
      })
      made.on("end", () => this.push(null))
      made.on("error", (error) => this.destroy(error))
    }
    inner.write(chunk, callback)
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.inner === undefined) this.push(null)
    else this.inner.end()
    callback()
  }

  override _read(): void {
    this.inner?.resume()
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.inner?.destroy()
    callback(error)
  }
}

/** What zlib's inflaters hold besides their output: the 32 KiB window and their state. */
const zlibWindowBytes = 48 * 1024

/** A brotli stream's window (RFC 7932, 9.1) from its first byte; undefined: the common 4 MiB (WBITS 22). */
const brotliWindowBytes = (first: number | undefined): number => {
  if (first === undefined) return 1 << 22
  let bits = 16
  if ((first & 1) !== 0) {
    const n = (first >> 1) & 7
    const m = (first >> 4) & 7
    // m = 1 asks for a large window, which the decoder refuses: it fails at once, holding nothing.
    bits = n !== 0 ? 17 + n : m > 1 ? 8 + m : 17
  }
  return 1 << bits
}

/**
 * What a body's decoders hold while inflating, for the call's body budget:
 * brotli's ring buffer, the size of its window, dominates (a hundred
 * inflating bombs hold hundreds of MB in them alone). `first` is the body's
 * first byte, when brotli reads the body as it came.
 */
const decoderBytes = (codings: ReadonlyArray<Coding>, first: number | undefined): number => {
  let bytes = 0
  for (let i = 0; i < codings.length; i++) {
    const coding = codings[i]!
    bytes += coding !== "br" ? zlibWindowBytes : i === 0 ? brotliWindowBytes(first) : 1 << 24
  }
  return bytes
}

const decoder = (coding: Coding): Duplex =>
  coding === "gzip"
    ? zlib.createGunzip(zlibOptions)
    : coding === "br"
    ? zlib.createBrotliDecompress(brotliOptions)
    : new AutoInflate()

const concat = (chunks: ReadonlyArray<Uint8Array>, size: number): Uint8Array => {
  if (chunks.length === 1) return chunks[0]!
  const out = new Uint8Array(size)
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.byteLength
  }
  return out
}

const collect = async (readable: Readable): Promise<Uint8Array> => {
  const chunks: Array<Uint8Array> = []
  let size = 0
  for await (const chunk of readable as AsyncIterable<Uint8Array>) {
    chunks.push(chunk)
    size += chunk.byteLength
  }
  return concat(chunks, size)
}

/** The bytes as an `ArrayBuffer` of their own, without a copy when they already are one. */
const toArrayBuffer = (bytes: Uint8Array): ArrayBuffer =>
  bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes.buffer as ArrayBuffer
    : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer

class UndiciResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly status: number
  readonly headers: Headers.Headers
  private readonly body: Dispatcher.ResponseData["body"]
  private readonly rawHeaders: Dispatcher.ResponseData["headers"]
  /** The decoders the body needs; undefined for a body as sent, which is nearly every one. */
  private readonly codings: ReadonlyArray<Coding> | "too many" | undefined
  private textPromise: Promise<string> | undefined
  private bytesPromise: Promise<ArrayBuffer> | undefined
  private decodedPromise: Promise<Uint8Array> | undefined
  private decodedBuffered: Uint8Array | undefined

  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    data: Dispatcher.ResponseData,
    private readonly buffered: Uint8Array | undefined,
    deadline: number | undefined
  ) {
    super()
    this.status = data.statusCode
    this.body = data.body
    this.rawHeaders = data.headers
    const encoding = data.headers["content-encoding"]
    this.codings = encoding === undefined ? undefined : codingsOf(request, data.statusCode, encoding)
    this.headers = plainHeaders(data.headers)
    // An error on a body nobody reads must not crash the process.
    data.body.on("error", ignoreError)
    if (deadline !== undefined) {
      // The attempt's bound covers the body too: past it, the body is destroyed and its readers fail.
      const body = data.body
      const timer = setTimeout(() => {
        if (!body.readableEnded) body.destroy(new AttemptTimeout())
      }, Math.max(0, deadline - performance.now()))
      body.once("close", () => clearTimeout(timer))
    }
  }

  get statusText(): string | undefined {
    return undefined
  }

  get remoteAddress(): Option.Option<string> {
    return Option.none()
  }

  get cookies(): Cookies.Cookies {
    const header = this.rawHeaders["set-cookie"]
    if (header === undefined) return Cookies.empty
    return Cookies.fromSetCookie(Array.isArray(header) ? header : [header])
  }

  private decodeError(cause: unknown): HttpClientError.ResponseError {
    return new HttpClientError.ResponseError({ request: this.request, response: this, reason: "Decode", cause })
  }

  private read<A>(promise: () => Promise<A>): Effect.Effect<A, HttpClientError.ResponseError> {
    return Effect.withFiberRuntime((fiber) =>
      asyncOwned<A, HttpClientError.ResponseError>(
        fiber,
        (succeed, fail) => promise().then(succeed, (cause) => fail(this.decodeError(cause))),
        () => this.abort()
      )
    )
  }

  /** Drops a response its fiber never took (see `dispatch`). */
  abandon(): void {
    this.abort()
  }

  /** Destroying a body that has not ended aborts the undici request and its socket. */
  private abort(): void {
    if (!this.body.readableEnded) this.body.destroy()
  }

  /** The whole decoded body of an encoded response. */
  private get decoded(): Effect.Effect<Uint8Array, HttpClientError.ResponseError> {
    const codings = this.codings!
    if (codings === "too many") return Effect.fail(this.decodeError(new Error("too many content-encodings")))
    const buffered = this.buffered
    if (buffered !== undefined) {
      if (this.decodedBuffered !== undefined) return Effect.succeed(this.decodedBuffered)
      try {
        return Effect.succeed(this.decodedBuffered = decodeSync(buffered, codings))
      } catch (cause) {
        return Effect.fail(this.decodeError(cause))
      }
    }
    return this.read(() => this.decodedPromise ??= collect(this.decodedReadable(codings)))
  }

  /**
   * The body through its decoders. Destroying the last stream (a reader that
   * stops) destroys every stream before it, the undici body included, which
   * aborts the request and closes its socket.
   */
  private decodedReadable(codings: ReadonlyArray<Coding>): Readable {
    const buffered = this.buffered
    const source: Readable = buffered === undefined ? this.body : Readable.from([buffered], { objectMode: false })
    const streams: Array<NodeJS.ReadableStream | NodeJS.ReadWriteStream> = [source]
    for (const coding of codings) streams.push(decoder(coding))
    return pipeline(streams, ignoreError) as unknown as Readable
  }

  [bufferedBody](): Uint8Array | undefined {
    return this.codings === undefined ? this.buffered : undefined
  }

  [readUpTo](limit: number, budget: BodyBudget | undefined): Effect.Effect<Uint8Array | undefined, HttpClientError.ResponseError> {
    const codings = this.codings
    if (codings === "too many") return Effect.fail(this.decodeError(new Error("too many content-encodings")))
    if (codings === undefined) {
      const buffered = this.buffered
      if (buffered !== undefined) return Effect.succeed(buffered.byteLength > limit ? undefined : buffered)
      return this.readBounded(this.body, limit, budget, budget === undefined ? 0 : budget.open(), 0)
    }
    // An encoded body goes through its decoders even when buffered: a small bomb must not be inflated whole.
    if (budget === undefined) return this.readBounded(this.decodedReadable(codings), limit, undefined, 0, 0)
    // A decoder's window is held as long as the read (brotli's is up to 16 MiB, set by the stream's first byte,
    // and a hundred inflating bombs hold hundreds of MB in theirs alone). It is taken before the decoders are
    // made: a read that must wait for it has allocated nothing.
    return Effect.suspend(() => {
      const ticket = budget.open()
      const first = this.buffered === undefined ? undefined : this.buffered[0]
      const window = decoderBytes(codings, first)
      // Streamed brotli: the window counted is the common one until the body's first byte tells the real one.
      const read = () =>
        this.readBounded(
          this.decodedReadable(codings),
          limit,
          budget,
          ticket,
          window,
          first === undefined && codings[0] === "br"
        )
      if (budget.take(ticket, window)) return read()
      return Effect.flatMap(
        Effect.withFiberRuntime<void>((fiber) => {
          let waiter: BudgetWaiter | undefined
          return asyncOwned<void, never>(fiber, (succeed) => {
            waiter = budget.wait(ticket, () => succeed(undefined))
          }, () => {
            if (waiter !== undefined && waiter.resume !== undefined) budget.cancel(waiter)
            budget.release(ticket, window)
            this.abort()
          })
        }),
        read
      )
    })
  }

  /**
   * Reads `source` to its end, or to `limit` bytes (then it and the body are
   * destroyed and the result is undefined). With a budget, read `ticket`
   * holds `held` bytes already (its decoders') and takes each chunk's, and
   * stops reading while the budget says to wait; it gives everything back
   * when it ends, however it ends. `brotliFirst`: the body's first byte may
   * ask for a larger brotli window than `held` counts.
   */
  private readBounded(
    source: Readable,
    limit: number,
    budget: BodyBudget | undefined,
    ticket: number,
    held: number,
    brotliFirst = false
  ): Effect.Effect<Uint8Array | undefined, HttpClientError.ResponseError> {
    return Effect.withFiberRuntime((fiber) => {
      let stop: () => void = () => undefined
      return asyncOwned<Uint8Array | undefined, HttpClientError.ResponseError>(fiber, (succeed, fail) => {
        const chunks: Array<Uint8Array> = []
        let size = 0
        let waiter: BudgetWaiter | undefined
        /** Window bytes to take with the next chunk. */
        let larger = 0
        if (brotliFirst) {
          this.body.prependOnceListener("data", (chunk: Uint8Array) => {
            larger = Math.max(0, brotliWindowBytes(chunk[0]) - brotliWindowBytes(undefined))
          })
        }
        stop = () => {
          source.off("data", onData)
          source.off("end", onEnd)
          source.off("error", onError)
          if (budget !== undefined) {
            if (waiter !== undefined && waiter.resume !== undefined) budget.cancel(waiter)
            waiter = undefined
            budget.release(ticket, held)
            held = 0
          }
        }
        const onData = (chunk: Uint8Array) => {
          if (size + chunk.byteLength > limit) {
            stop()
            source.destroy()
            return succeed(undefined)
          }
          size += chunk.byteLength
          chunks.push(chunk)
          if (budget === undefined) return
          const bytes = chunk.byteLength + larger
          larger = 0
          held += bytes
          if (!budget.take(ticket, bytes)) {
            // Past the budget: the body is not read (nor inflated) until other reads give bytes back.
            source.pause()
            waiter = budget.wait(ticket, () => {
              waiter = undefined
              source.resume()
            })
          }
        }
        const onEnd = () => {
          const out = concat(chunks, size)
          stop()
          succeed(out)
        }
        const onError = (cause: unknown) => {
          stop()
          fail(this.decodeError(cause))
        }
        source.on("data", onData)
        source.once("end", onEnd)
        source.once("error", onError)
      }, () => {
        stop()
        source.destroy()
      })
    })
  }

  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    if (this.codings !== undefined) return Effect.map(this.decoded, (bytes) => utf8.decode(bytes))
    if (this.buffered !== undefined) return Effect.succeed(utf8.decode(this.buffered))
    return this.read(() => this.textPromise ??= this.body.text())
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    if (this.codings !== undefined) return Effect.map(this.decoded, toArrayBuffer)
    // undici's `bytes()` gives a body of one chunk (nearly every small one) an ArrayBuffer of its own.
    if (this.buffered !== undefined) return Effect.succeed(toArrayBuffer(this.buffered))
    return this.read(() => this.bytesPromise ??= this.body.arrayBuffer())
  }

  get json(): Effect.Effect<unknown, HttpClientError.ResponseError> {
    return Effect.flatMap(this.text, (text) => {
      try {
        return Effect.succeed(text === "" ? null : JSON.parse(text) as unknown)
      } catch (cause) {
        return Effect.fail(this.decodeError(cause))
      }
    })
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.ResponseError> {
    return Effect.map(this.text, (text) => UrlParams.fromInput(new URLSearchParams(text)))
  }

  get formData(): Effect.Effect<FormData, HttpClientError.ResponseError> {
    return Effect.flatMap(this.arrayBuffer, (bytes) =>
      Effect.tryPromise({
        try: () => new Response(bytes, { headers: this.headers }).formData(),
        catch: (cause) => this.decodeError(cause)
      }))
  }

  get stream(): Stream.Stream<Uint8Array, HttpClientError.ResponseError> {
    const codings = this.codings
    if (codings !== undefined) {
      if (codings === "too many") return Stream.fail(this.decodeError(new Error("too many content-encodings")))
      // Streamed through the decoders even when buffered: a reader that stops early stops the inflating.
      return Stream.suspend(() =>
        Stream.fromAsyncIterable(this.decodedReadable(codings) as AsyncIterable<Uint8Array>, (cause) =>
          this.decodeError(cause))
      )
    }
    if (this.buffered !== undefined) return this.buffered.byteLength === 0 ? Stream.empty : Stream.succeed(this.buffered)
    // Ending the stream early calls the iterator's `return`, which destroys the body and aborts the request.
    return Stream.fromAsyncIterable(this.body as AsyncIterable<Uint8Array>, (cause) => this.decodeError(cause))
  }

  toJSON(): unknown {
    return HttpIncomingMessage.inspect(this, {
      _id: "@effect/platform/HttpClientResponse",
      request: this.request.toJSON(),
      status: this.status
    })
  }
}

/** undici already lower-cases names; only repeated headers need joining. */
const plainHeaders = (headers: Dispatcher.ResponseData["headers"]): Headers.Headers => {
  for (const name in headers) {
    // Own names only: a name enumerable on a polluted Object.prototype would otherwise become a header here.
    if (!Object.hasOwn(headers, name)) continue
    const value = headers[name]
    if (typeof value !== "string") headers[name] = Array.isArray(value) ? value.join(", ") : String(value)
  }
  return headers as unknown as Headers.Headers
}

/**
 * The proxies a dispatcher sends through, by target scheme (for `"env"`:
 * `HTTPS_PROXY`, else `HTTP_PROXY`, for https; `HTTP_PROXY` for http).
 */
interface ProxyRoute {
  readonly http: URL | undefined
  readonly https: URL | undefined
  /** From the environment: `NO_PROXY` may send a request around the proxy. */
  readonly env: boolean
}

/** A proxy's failure, named by its origin (never its credentials). */
class ProxyFailure extends Error {
  constructor(message: string, readonly code: string | undefined) {
    super(message)
  }
}

/** undici refuses a request's own `Proxy-Authorization` through a proxy; its message names undici's constructor. */
const ownProxyAuthorization = (error: unknown): unknown =>
  /Proxy-Authorization/i.test(String((error as Error | undefined)?.message))
    ? new Error("a request's own Proxy-Authorization header is not sent through a proxy: give the credentials in the proxy URL")
    : error

/** Codes of a failure to reach a host: with an explicit proxy, that host is always the proxy. */
const unreachable: ReadonlySet<string> = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT"
])

/** undici's errors for a proxy's answer: 407 in absolute form, any status but 200 to a `CONNECT`. */
const proxyStatus = /^Proxy (?:Authentication Required \((\d{3})\)|response \((\d{3})\) !== 200)/

/**
 * The error to report when `error` is the proxy's doing (it refused the
 * connection or the credentials, answered a `CONNECT` with another status),
 * else undefined: the target's failures stay as they are.
 */
const proxyFailure = (route: ProxyRoute, url: URL, error: Error): ProxyFailure | undefined => {
  const proxy = url.protocol === "https:" ? route.https ?? route.http : route.http
  if (proxy === undefined) return undefined
  const status = proxyStatus.exec(error.message)
  if (status !== null) {
    const code = status[1] ?? status[2]
    return new ProxyFailure(
      code === "407"
        ? `proxy ${proxy.origin} answered 407 Proxy Authentication Required: ${
          proxy.username === "" ? "give the credentials in the proxy URL" : "it refused the proxy URL's credentials"
        }`
        : `proxy ${proxy.origin} answered ${code} to CONNECT ${url.host}`,
      undefined
    )
  }
  const code = (error as { code?: unknown }).code
  if (typeof code !== "string" || !unreachable.has(code)) return undefined
  if (route.env && !isFrom(error, proxy)) return undefined
  return new ProxyFailure(`proxy ${proxy.origin}: ${error.message}`, code)
}

/** Whether a socket error names the proxy's host (a request `NO_PROXY` sent around it names another). */
const isFrom = (error: Error, proxy: URL): boolean => {
  const { address, hostname, port } = error as { address?: unknown; hostname?: unknown; port?: unknown }
  const host = proxy.hostname.replace(/^\[|\]$/g, "")
  if (hostname === host) return true
  const proxyPort = proxy.port === "" ? (proxy.protocol === "https:" ? 443 : 80) : Number(proxy.port)
  return address === host && port === proxyPort
}

/** A proxy variable's value as a URL; `proxy:3128` (no scheme) is taken as `http://proxy:3128`, as curl does. */
const fromEnv = (names: ReadonlyArray<string>): URL | undefined => {
  for (const name of names) {
    const value = process.env[name]
    if (value === undefined || value.trim() === "") continue
    const text = value.trim()
    let url: URL | undefined
    try {
      url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`)
    } catch {
      url = undefined
    }
    if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") {
      throw new Error(`"env": ${name} is not an http(s) URL`)
    }
    return url
  }
  return undefined
}

const httpNames = ["http_proxy", "HTTP_PROXY"] as const
const httpsNames = ["https_proxy", "HTTPS_PROXY"] as const

/** What identifies the environment's proxies: a change of these variables makes a new dispatcher. */
const envKey = (): string => {
  const env = process.env
  return `env\n${env["http_proxy"] ?? env["HTTP_PROXY"] ?? ""}\n${env["https_proxy"] ?? env["HTTPS_PROXY"] ?? ""}`
}

/**
 * The options of the dispatchers behind proxies: the agent's own (the same
 * cap on sockets per origin, keep-alive, TLS options for the targets and for
 * an https proxy), undici's timeouts off as on the agent, and `http` targets
 * sent in absolute form to the proxy rather than tunnelled (`proxyTunnel:
 * false`): what curl and aiohttp do, and what proxies that allow `CONNECT` to
 * port 443 only (Squid's default) accept.
 */
const proxyAgentOptions = (options: AgentOptions): Omit<ProxyAgent.Options, "uri"> => {
  const pool: Pool.Options = {
    headersTimeout: 0,
    bodyTimeout: 0,
    keepAliveTimeout: options.keepAliveTimeout ?? 4_000,
    allowH2: options.allowH2 ?? false
  }
  if (options.connections !== undefined) pool.connections = options.connections
  if (options.pipelining !== undefined) pool.pipelining = options.pipelining
  const out: { -readonly [K in keyof Omit<ProxyAgent.Options, "uri">]: Omit<ProxyAgent.Options, "uri">[K] } = {
    ...pool,
    proxyTunnel: false,
    // undici's pools to the proxy (absolute form) get only `connect`: the same cap and timeouts as the others,
    // and the same skipping of a 100 Continue.
    factory: (origin, opts) => {
      const connect = (opts as { connect?: Connect }).connect
      return new Pool(origin, { ...pool, ...opts, connect: skippingContinue(connect, pool.allowH2!) })
    }
  }
  // For the requests `NO_PROXY` sends around the proxy; a proxy agent puts its own `connect` in its place.
  if (options.connect !== undefined) out.connect = options.connect
  if (typeof options.connect === "object" && options.connect !== null) {
    out.requestTls = options.connect as NonNullable<ProxyAgent.Options["requestTls"]>
    out.proxyTls = options.connect as NonNullable<ProxyAgent.Options["proxyTls"]>
  }
  return out
}

interface ProxyEntry {
  readonly dispatcher: Dispatcher
  readonly client: HttpClient.HttpClient
}

/**
 * The dispatchers (and clients) through proxies of one client: made on first
 * use, one per proxy value (for `"env"`, one per value of the variables),
 * with the agent's options, and closed together.
 *
 * @internal
 */
export class Proxies {
  private readonly entries = new Map<string, ProxyEntry>()
  private closed = false
  constructor(private readonly options: AgentOptions) {}

  /** Throws, with a message that holds no credentials, for a proxy variable that is not a URL. */
  entry(proxy: string): ProxyEntry {
    const key = proxy === "env" ? envKey() : proxy
    let entry = this.entries.get(key)
    if (entry !== undefined) return entry
    if (this.closed) throw new Error("the HTTP client's layer is closed")
    const options = proxyAgentOptions(this.options)
    let route: ProxyRoute
    let dispatcher: Dispatcher
    if (proxy === "env") {
      const http = fromEnv(httpNames)
      const https = fromEnv(httpsNames)
      route = { http, https, env: true }
      // Given explicitly (normalized); `NO_PROXY` is read by undici on every request.
      // "" for none: undici would read the variables again, and take a blank one for a proxy.
      dispatcher = new EnvHttpProxyAgent({ ...options, httpProxy: http?.href ?? "", httpsProxy: https?.href ?? "" })
    } else {
      const url = new URL(proxy)
      route = { http: url, https: url, env: false }
      dispatcher = new ProxyAgent({ ...options, uri: url.href })
    }
    entry = { dispatcher, client: makeClient(dispatcher, this, route) }
    this.entries.set(key, entry)
    return entry
  }

  /** Destroys every dispatcher (a replaced `"env"` one too: a call may still have been using it). */
  close(): Promise<void> {
    this.closed = true
    const dispatchers = Array.from(this.entries.values(), (entry) => entry.dispatcher)
    this.entries.clear()
    return Promise.all(dispatchers.map((dispatcher) => dispatcher.destroy().catch(() => undefined))).then(() => undefined)
  }
}

/** @internal */
export const unsafeMakeProxies = (options: AgentOptions = {}): Proxies => new Proxies(options)

const makeProxies = (options: AgentOptions): Effect.Effect<Proxies, never, Scope.Scope> =>
  Effect.acquireRelease(Effect.sync(() => new Proxies(options)), (proxies) => Effect.promise(() => proxies.close()))

/**
 * A client over `dispatcher` that also sends through proxies when the core's
 * `proxy` option asks, with dispatchers made from `proxies`; the caller
 * closes both.
 *
 * @internal
 */
export const unsafeMakeWithProxies = (dispatcher: Dispatcher, proxies: Proxies): HttpClient.HttpClient =>
  makeClient(dispatcher, proxies, undefined)

/**
 * A client method `@loamy/core` calls, when present, once per call with the
 * call's concurrency: the client on sockets capped at it, and a release for
 * when the call ends.
 */
const cappedClient: unique symbol = Symbol.for("@loamy/core/cappedClient")

/** @internal */
export interface Capped {
  readonly connections: number
  readonly agent: Agent
  /** The dispatchers through proxies (the `proxy` option), capped alike; made on first use. */
  readonly proxies: Proxies
  readonly client: HttpClient.HttpClient
  /** Calls running on it: an agent is closed only when none is. */
  active: number
}

/**
 * Agents capped at a call's concurrency, one per distinct concurrency, with
 * the same options otherwise. An uncapped agent opens about twice as many
 * sockets as there are requests in flight (a socket is taken for the next
 * request before undici has marked the last one's free), and throughput
 * falls with them. A few are kept; the least recently used is closed once
 * no call runs on it. Calls of one concurrency share an agent and its
 * keep-alive sockets.
 *
 * @internal
 */
export class CappedAgents {
  /** By connections cap, least recently used first. */
  private readonly entries = new Map<number, Capped>()
  private closed = false
  constructor(private readonly options: AgentOptions, private readonly max = 4) {}

  /** The agent (and its client) that opens at most `connections` sockets per origin, in use until `release`. */
  acquire(connections: number): Capped {
    let entry = this.entries.get(connections)
    if (entry !== undefined) {
      this.entries.delete(connections)
    } else {
      if (this.closed) throw new Error("the HTTP client's layer is closed")
      const options = { ...this.options, connections }
      const agent = unsafeMakeAgent(options)
      const proxies = new Proxies(options)
      entry = { connections, agent, proxies, client: makeClient(agent, proxies, undefined), active: 0 }
      // Too many kept: close the least recently used that no call is running on.
      for (const other of this.entries.values()) {
        if (this.entries.size < this.max) break
        if (other.active === 0) {
          this.entries.delete(other.connections)
          void other.agent.close().catch(() => undefined)
          void other.proxies.close()
        }
      }
    }
    this.entries.set(connections, entry)
    entry.active++
    return entry
  }

  release(entry: Capped): void {
    entry.active--
  }

  /** Destroys every agent, in use or not. */
  close(): Promise<void> {
    this.closed = true
    const entries = Array.from(this.entries.values())
    this.entries.clear()
    return Promise.all([
      ...entries.map((entry) => entry.agent.destroy().catch(() => undefined)),
      ...entries.map((entry) => entry.proxies.close())
    ]).then(() => undefined)
  }
}

/** A client that asks for an agent capped at each call's concurrency (see `CappedAgents`). */
const withCapped = (client: HttpClient.HttpClient, agents: CappedAgents): HttpClient.HttpClient => {
  ;(client as unknown as Record<symbol, unknown>)[cappedClient] = (connections: number) => {
    const entry = agents.acquire(connections)
    return { client: entry.client, release: () => agents.release(entry) }
  }
  return client
}

/**
 * A client over `dispatcher` (and `proxies`) whose core calls each run on
 * an agent of `agents` capped at the call's concurrency; the caller closes
 * all three.
 *
 * @internal
 */
export const unsafeMakeOnCapped = (dispatcher: Dispatcher, proxies: Proxies, agents: CappedAgents): HttpClient.HttpClient =>
  withCapped(makeClient(dispatcher, proxies, undefined), agents)

/**
 * The agent's options, and a proxy for every request of the layer.
 *
 * @since 0.2.0
 * @category models
 */
export interface LayerOptions extends AgentOptions {
  /**
   * Send every request through this proxy: an http(s) URL
   * (`"http://user:pass@proxy:3128"`), or `"env"` for `HTTPS_PROXY`,
   * `HTTP_PROXY` and `NO_PROXY` (either case). A call's own `proxy` option
   * wins. `connect`'s TLS options apply to the targets and to an https
   * proxy. Default none.
   */
  readonly proxy?: string | undefined
}

/**
 * The client over the `UndiciDispatcher` in the context. The core's `proxy`
 * option goes through dispatchers of the layer's own, with undici's defaults.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWithoutAgent: Layer.Layer<HttpClient.HttpClient, never, UndiciDispatcher> = Layer.scoped(
  HttpClient.HttpClient,
  // Not `HttpClient.layerMergedContext`: the client reads nothing from the context, and merging the
  // layer's context into every request's fiber costs as much as the rest of the client.
  Effect.zipWith(UndiciDispatcher, makeProxies({}), (dispatcher, proxies) => makeClient(dispatcher, proxies, undefined))
)

/**
 * The client over an agent of its own, made with `options` and closed with
 * the layer; with `proxy`, over the dispatcher through that proxy instead.
 * Throws an `InvalidOptionsError` for a `proxy` that is neither `"env"` nor
 * an http(s) URL.
 *
 * ```ts
 * const corporate = UndiciHttpClient.layerWith({ connections: 50, proxy: "env" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (options: LayerOptions): Layer.Layer<HttpClient.HttpClient | UndiciDispatcher> => {
  const proxy = options.proxy
  if (proxy !== undefined) {
    const checked = CoreOptions.decode({ proxy })
    if (Either.isLeft(checked)) throw checked.left
  }
  return Layer.scopedContext(Effect.gen(function*() {
    const proxies = yield* makeProxies(options)
    if (proxy === undefined) {
      const agent = yield* makeAgent(options)
      let client = makeClient(agent, proxies, undefined)
      // No cap given: each call of the core runs on sockets capped at its concurrency.
      if (options.connections === undefined) {
        const capped = yield* Effect.acquireRelease(
          Effect.sync(() => new CappedAgents(options)),
          (agents) => Effect.promise(() => agents.close())
        )
        client = withCapped(client, capped)
      }
      return Context.make(UndiciDispatcher, agent as Dispatcher).pipe(Context.add(HttpClient.HttpClient, client))
    }
    // A proxy variable that is not a URL is a mistake in the set-up: the layer fails to build, saying which.
    const entry = yield* Effect.try({
      try: () => proxies.entry(proxy),
      catch: (error) => new LoamyError.InvalidOptionsError({ option: "proxy", detail: (error as Error).message })
    }).pipe(Effect.orDie)
    return Context.make(UndiciDispatcher, entry.dispatcher).pipe(Context.add(HttpClient.HttpClient, entry.client))
  }))
}

/**
 * The client over an agent with undici's defaults (keep-alive), closed with
 * the layer. Each call of the core runs on sockets capped at its
 * concurrency (see `AgentOptions.connections`).
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<HttpClient.HttpClient | UndiciDispatcher> = layerWith({})
