/**
 * A lean `HttpClient` over an undici `Agent` with keep-alive. Requests still go
 * through Effect's `HttpClient` interface, but each one costs little more than
 * a raw `undici.request`: no span unless a tracer that records spans is
 * installed, no URL re-parsing for requests without URL params, response
 * headers as a plain lower-case record, and interruption aborting the undici
 * request (and the socket, when a body is half read).
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
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Inspectable from "effect/Inspectable"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"
import { Agent, type Dispatcher } from "undici"

/**
 * How the agent behind the client connects.
 *
 * @since 0.1.0
 * @category models
 */
export interface AgentOptions {
  /** Sockets per origin. Default: no limit (one per request in flight). */
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
    Effect.sync(() => {
      const agentOptions: Agent.Options = {
        headersTimeout: 0,
        bodyTimeout: 0,
        keepAliveTimeout: options.keepAliveTimeout ?? 4_000,
        allowH2: options.allowH2 ?? false
      }
      if (options.connections !== undefined) agentOptions.connections = options.connections
      if (options.pipelining !== undefined) agentOptions.pipelining = options.pipelining
      if (options.connect !== undefined) agentOptions.connect = options.connect
      return new Agent(agentOptions)
    }),
    (agent) => Effect.promise(() => agent.destroy().catch(() => undefined))
  )

const nativeTracer: Tracer.Tracer = Effect.runSync(Effect.tracer)

const requestOptionsBase = { headersTimeout: 0, bodyTimeout: 0 } as const

/**
 * Makes an `HttpClient` that sends through `dispatcher` (an `Agent`, a
 * `Pool`, a `MockAgent`). The dispatcher is not closed by the client.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (dispatcher: Dispatcher): HttpClient.HttpClient =>
  HttpClient.makeWith<never, never, HttpClientError.HttpClientError, never>(
    (effect) => Effect.flatMap(effect, (request) => execute(dispatcher, request)),
    Effect.succeed
  )

const execute = (
  dispatcher: Dispatcher,
  request: HttpClientRequest.HttpClientRequest
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
      return send(dispatcher, request, request.headers, url)
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
        ? { ...request.headers, ...HttpTraceContext.toHeaders(span) }
        : request.headers
      return Effect.tap(
        Effect.withParentSpan(send(dispatcher, request, headers, url), span),
        (response) => span.attribute("http.response.status_code", response.status)
      )
    })
  })
}

const send = (
  dispatcher: Dispatcher,
  request: HttpClientRequest.HttpClientRequest,
  headers: Readonly<Record<string, string>>,
  url: URL
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError> => {
  const body = request.body
  if (body._tag === "Stream") {
    return Effect.flatMap(Effect.runtime<never>(), (runtime) =>
      dispatch(dispatcher, request, headers, url, Stream.toAsyncIterableRuntime(body.stream, runtime) as unknown as RequestBody))
  }
  return dispatch(dispatcher, request, headers, url, requestBody(body))
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

const dispatch = (
  dispatcher: Dispatcher,
  request: HttpClientRequest.HttpClientRequest,
  headers: Readonly<Record<string, string>>,
  url: URL,
  body: RequestBody
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError> =>
  Effect.async<HttpClientResponse.HttpClientResponse, HttpClientError.RequestError>((resume) => {
    const abort = new Abort()
    const options: Dispatcher.RequestOptions = {
      ...requestOptionsBase,
      signal: abort as unknown as AbortSignal,
      method: request.method,
      origin: url.origin,
      path: url.pathname + url.search,
      headers,
      body
    }
    try {
      dispatcher.request(options, (error, data) => {
        if (error !== null) {
          resume(Effect.fail(
            new HttpClientError.RequestError({
              request,
              reason: (error as { code?: unknown }).code === "UND_ERR_INVALID_ARG" ? "Encode" : "Transport",
              cause: error
            })
          ))
        } else if (isSmall(request, data)) {
          // A small body is read before the response is handed over: one resumption of the fiber instead of two.
          data.body.bytes().then(
            (bytes) => resume(Effect.succeed(new UndiciResponse(request, data, bytes))),
            (cause) => resume(Effect.fail(new HttpClientError.RequestError({ request, reason: "Transport", cause })))
          )
        } else {
          resume(Effect.succeed(new UndiciResponse(request, data, undefined)))
        }
      })
    } catch (cause) {
      // undici throws synchronously for a header or method it will not send.
      resume(Effect.fail(new HttpClientError.RequestError({ request, reason: "Encode", cause })))
    }
    // Interrupted before the response arrived: undici aborts the request and its socket.
    return Effect.sync(() => abort.abort())
  })

function ignoreError(_: unknown) {}

/** Bodies up to this size (by `content-length`) are buffered with the headers. */
const eagerBodyBytes = 64 * 1024

const isSmall = (request: HttpClientRequest.HttpClientRequest, data: Dispatcher.ResponseData): boolean => {
  if (request.method === "HEAD") return false
  const length = data.headers["content-length"]
  return typeof length === "string" && length.length < 7 && Number(length) <= eagerBodyBytes
}

const utf8 = new TextDecoder()

class UndiciResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpIncomingMessage.TypeId]: HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly status: number
  readonly headers: Headers.Headers
  private readonly body: Dispatcher.ResponseData["body"]
  private readonly rawHeaders: Dispatcher.ResponseData["headers"]
  private textPromise: Promise<string> | undefined
  private bytesPromise: Promise<ArrayBuffer> | undefined

  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    data: Dispatcher.ResponseData,
    private readonly buffered: Uint8Array | undefined
  ) {
    super()
    this.status = data.statusCode
    this.body = data.body
    this.rawHeaders = data.headers
    this.headers = plainHeaders(data.headers)
    // An error on a body nobody reads must not crash the process.
    data.body.on("error", ignoreError)
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
    return Effect.async<A, HttpClientError.ResponseError>((resume) => {
      promise().then(
        (value) => resume(Effect.succeed(value)),
        (cause) => resume(Effect.fail(this.decodeError(cause)))
      )
      return Effect.sync(() => this.abort())
    })
  }

  /** Destroying a body that has not ended aborts the undici request and its socket. */
  private abort(): void {
    if (!this.body.readableEnded) this.body.destroy()
  }

  get text(): Effect.Effect<string, HttpClientError.ResponseError> {
    if (this.buffered !== undefined) return Effect.succeed(utf8.decode(this.buffered))
    return this.read(() => this.textPromise ??= this.body.text())
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.ResponseError> {
    const buffered = this.buffered
    if (buffered !== undefined) {
      return Effect.sync(() =>
        buffered.buffer.slice(buffered.byteOffset, buffered.byteOffset + buffered.byteLength) as ArrayBuffer
      )
    }
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
    const value = headers[name]
    if (typeof value !== "string") headers[name] = Array.isArray(value) ? value.join(", ") : String(value)
  }
  return headers as unknown as Headers.Headers
}

/**
 * The client over the `UndiciDispatcher` in the context.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWithoutAgent: Layer.Layer<HttpClient.HttpClient, never, UndiciDispatcher> = HttpClient
  .layerMergedContext(Effect.map(UndiciDispatcher, make))

/**
 * The client over an agent of its own, made with `options` and closed with
 * the layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layerWith = (options: AgentOptions): Layer.Layer<HttpClient.HttpClient | UndiciDispatcher> =>
  Layer.provideMerge(layerWithoutAgent, Layer.scoped(UndiciDispatcher, makeAgent(options)))

/**
 * The client over an agent with undici's defaults (keep-alive, unlimited
 * sockets per origin), closed with the layer.
 *
 * @since 0.1.0
 * @category layers
 */
export const layer: Layer.Layer<HttpClient.HttpClient | UndiciDispatcher> = layerWith({})
