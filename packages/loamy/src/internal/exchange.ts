/**
 * One request over an undici dispatcher: the client `UndiciHttpClient.make`
 * returns. Per request it reads, from the calling fiber's context, the
 * route the transport leased to the call (`Transport.CurrentRoute`: a capped
 * agent, a proxy) and the attempt's deadline (`Transport.AttemptDeadline`);
 * context values survive any middleware a user puts around the client.
 *
 * Each request costs less than a raw `undici.request`: it goes through
 * undici's dispatch API with one handler object (`Exchange`), with no span
 * unless a tracer that records spans is installed, no URL re-parsing for
 * requests without URL params, no `AbortSignal`, small bodies collected with
 * the headers and no stream (one resumption of the fiber instead of two),
 * and interruption aborting the undici request (and its socket).
 *
 * @internal
 */
import { Transport } from "@loamy/core"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type * as HttpBody from "effect/http/HttpBody"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientError from "effect/http/HttpClientError"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as HttpTraceContext from "effect/http/HttpTraceContext"
import * as Url from "effect/http/Url"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as Tracer from "effect/Tracer"
import { Readable } from "node:stream"
import { type Dispatcher, FormData as UndiciFormData } from "undici"
import { Timed } from "./deadlines.js"
import { concat } from "./decoding.js"
import { gateOf, type OriginGate } from "./http2.js"
import { version } from "./version.js"
import { ownProxyAuthorization, proxyFailure, type ProxyRoute } from "./proxies.js"
import { UndiciResponse } from "./undiciResponse.js"
import { BodyReadable, destroy, RequestAbortedError, responseHeaders } from "./undiciInternals.js"

/**
 * Where a request goes: a dispatcher and, when it sends through a proxy,
 * which (`via`, for naming the proxy in errors), with the settings it was
 * leased for (`Transport.Route`). The transport leases one to each call
 * (`Transport.CurrentRoute`); a client sends on its own when none is there.
 *
 * @internal
 */
export class UndiciRoute implements Transport.Route {
  readonly [Transport.RouteTypeId]: Transport.RouteTypeId = Transport.RouteTypeId
  /** The first-connection gate of an agent made for HTTP/2 (see `http2.ts`); undefined for any other. */
  readonly gate: OriginGate | undefined
  constructor(
    readonly dispatcher: Dispatcher,
    readonly via: ProxyRoute | undefined,
    readonly connections: number,
    readonly proxy: string | undefined,
    readonly http2: boolean = false,
    readonly ca: string | undefined = undefined
  ) {
    this.gate = gateOf(dispatcher)
  }
}

/**
 * A client whose requests go by the route in the calling fiber's context,
 * else by `fallback`.
 *
 * @internal
 */
export const makeClient = (fallback: UndiciRoute): HttpClient.HttpClient => {
  const client = HttpClient.makeWith<never, never, HttpClientError.HttpClientError, never>(
    (effect) => Effect.flatMap(effect, (request) => Effect.withFiber((fiber) => execute(fallback, request, fiber))),
    Effect.succeed
  )
  // Its own `execute`, the same as `postprocess(preprocess(request))` without the `Effect.succeed` and the
  // `flatMap` around each request. Clients made from this one (middleware) compose `preprocess` and
  // `postprocess`, which stay as they are.
  return Object.assign(client, {
    execute: (request: HttpClientRequest.HttpClientRequest) =>
      Effect.withFiber((fiber) => execute(fallback, request, fiber))
  })
}

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
const withDefaults = (headers: Readonly<Record<string, string>>): Readonly<Record<string, string>> => {
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

/** Effect 4's default span name is the method; loamy's spans keep the name they had (`http.client GET`). */
const effectSpanName = Context.get(Context.empty(), HttpClient.SpanNameGenerator)

const spanName = (fiber: Fiber.Fiber<unknown, unknown>, request: HttpClientRequest.HttpClientRequest): string => {
  const generate = fiber.getRef(HttpClient.SpanNameGenerator)
  return generate === effectSpanName ? `http.client ${request.method}` : generate(request)
}

const invalidUrl = (request: HttpClientRequest.HttpClientRequest, cause: unknown) =>
  new HttpClientError.HttpClientError({ reason: new HttpClientError.InvalidUrlError({ request, cause }) })

const execute = (
  fallback: UndiciRoute,
  request: HttpClientRequest.HttpClientRequest,
  fiber: Fiber.Fiber<unknown, unknown>
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> => {
  let url: URL
  if (request.urlParams.params.length === 0 && Option.isNone(request.hash)) {
    try {
      url = new URL(request.url)
    } catch (cause) {
      return Effect.fail(invalidUrl(request, cause))
    }
  } else {
    const made = Url.make(request.url, request.urlParams, Option.getOrUndefined(request.hash))
    if (made._tag === "Failure") return Effect.fail(invalidUrl(request, made.failure))
    url = made.success
  }
  const leased = fiber.getRef(Transport.CurrentRoute)
  const route = leased instanceof UndiciRoute ? leased : fallback
  const deadline = fiber.getRef(Transport.AttemptDeadline)
  const tracer = fiber.cache.tracer
  // The native tracer records spans nobody reads: skip the span and its attributes.
  if (
    !fiber.cache.tracerEnabled || tracer === undefined || tracer === Tracer.nativeTracer ||
    fiber.getRef(HttpClient.TracerDisabledWhen)(request) || fiber.getRef(Tracer.DisablePropagation)
  ) {
    return send(route, request, withDefaults(request.headers), url, deadline)
  }
  return Effect.useSpan(spanName(fiber, request), { kind: "client" }, (span) => {
    span.attribute("http.request.method", request.method)
    span.attribute("server.address", url.origin)
    if (url.port !== "") span.attribute("server.port", +url.port)
    span.attribute("url.full", url.toString())
    span.attribute("url.path", url.pathname)
    span.attribute("url.scheme", url.protocol.slice(0, -1))
    const headers = fiber.getRef(HttpClient.TracerPropagationEnabled)
      ? { ...withDefaults(request.headers), ...HttpTraceContext.toHeaders(span) }
      : withDefaults(request.headers)
    return Effect.tap(
      Effect.withParentSpan(send(route, request, headers, url, deadline), span, { captureStackTrace: false }),
      (response) => Effect.sync(() => span.attribute("http.response.status_code", response.status))
    )
  })
}

type RequestBody = Exclude<Dispatcher.DispatchOptions["body"], undefined>

const send = (
  route: UndiciRoute,
  request: HttpClientRequest.HttpClientRequest,
  headers: Readonly<Record<string, string>>,
  url: URL,
  deadline: number | undefined
): Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError> => {
  const body = request.body
  if (body._tag === "Stream") {
    return Effect.flatMap(Effect.context<never>(), (context) =>
      dispatch(
        route,
        request,
        headers,
        url,
        Readable.from(Stream.toAsyncIterableWith(body.stream, context), { objectMode: false }),
        deadline,
        undefined
      ))
  }
  const made = requestBody(body)
  if (made === false) {
    return Effect.fail(
      new HttpClientError.HttpClientError({
        reason: new HttpClientError.EncodeError({ request, description: "a raw body undici cannot send" })
      })
    )
  }
  const gate = route.gate
  if (gate === undefined) return dispatch(route, request, headers, url, made, deadline, undefined)
  return gate.through(url.origin, (done) => dispatch(route, request, headers, url, made, deadline, done))
}

/** The body as undici takes it; false for a raw body of a kind it cannot send. */
const requestBody = (body: Exclude<HttpBody.HttpBody, HttpBody.Stream>): RequestBody | false => {
  switch (body._tag) {
    case "Empty":
      return null
    case "Uint8Array":
      return body.body
    case "FormData":
      return undiciFormData(body.formData)
    case "Raw": {
      const raw = body.body
      return typeof raw === "string" || raw instanceof Uint8Array || raw instanceof Readable ? raw : false
    }
  }
}

/**
 * A `FormData` this undici serializes: its own class. Node's global
 * `FormData` is the undici bundled with Node, which this one does not
 * recognise; its entries (a file's `Blob` read from disk as it is sent) are
 * moved over as they are.
 */
const undiciFormData = (form: globalThis.FormData): UndiciFormData => {
  if (form instanceof UndiciFormData) return form
  const out = new UndiciFormData()
  form.forEach((value, name) => {
    if (typeof value === "string") out.append(name, value)
    else out.append(name, value, value.name)
  })
  return out
}

function ignoreError(_: unknown) {}

/** Bodies up to this size (by `content-length`) are read with the headers. */
const eagerBodyBytes = 64 * 1024

const isSmall = (method: string, headers: Record<string, string | Array<string>>): boolean => {
  if (method === "HEAD") return false
  const length = headers["content-length"]
  return typeof length === "string" && length.length < 7 && Number(length) <= eagerBodyBytes
}

const transportError = (request: HttpClientRequest.HttpClientRequest, cause: unknown) =>
  new HttpClientError.HttpClientError({ reason: new HttpClientError.TransportError({ request, cause }) })

const encodeError = (request: HttpClientRequest.HttpClientRequest, cause: unknown) =>
  new HttpClientError.HttpClientError({ reason: new HttpClientError.EncodeError({ request, cause }) })

const isInvalidArgument = (error: Error): boolean => "code" in error && error.code === "UND_ERR_INVALID_ARG"

type Resume = (effect: Effect.Effect<UndiciResponse, HttpClientError.HttpClientError>) => void

/** The bytes of a small body in one `Uint8Array` of their own (the chunks are views on the socket's reads). */
const joined = (chunks: ReadonlyArray<Uint8Array>, length: number): Uint8Array =>
  chunks.length === 1 ? new Uint8Array(chunks[0]!) : concat(chunks, length)

/**
 * One request's handler of undici's dispatch API: what `dispatcher.request`
 * does for its callback, less what loamy does not use. A small body (by its
 * `content-length`) is collected here and handed over with the headers, with
 * no stream made for it; any other gets undici's own body stream
 * (`BodyReadable`), as `dispatcher.request` gives. No `AbortSignal` (undici
 * hands the handler its abort), no async-hooks resource, no promise; and the
 * handler carries the attempt's deadline (`Timed`): no timer per request.
 */
class Exchange extends Timed implements Dispatcher.DispatchHandler {
  /** The fiber has its answer (or was interrupted): nothing more is handed over. */
  settled = false
  private aborted = false
  /** undici is done with the request: its end or its error came. */
  private completed = false
  private abortRequest: ((reason?: Error) => void) | undefined = undefined
  /** A small body being collected, and its status and headers. */
  private chunks: Array<Uint8Array> | undefined = undefined
  private length = 0
  private statusCode = 0
  private headers: Record<string, string | Array<string>> | undefined = undefined
  /** A body handed over as a stream, until it ends or fails. */
  private res: Dispatcher.ResponseData["body"] | undefined = undefined

  constructor(
    private readonly resume: Resume,
    private readonly request: HttpClientRequest.HttpClientRequest,
    private readonly url: URL,
    private readonly proxy: ProxyRoute | undefined,
    private readonly deadline: number | undefined,
    /** Called once the request has its answer, failed or was interrupted (see `OriginGate.through`). */
    private readonly done: (() => void) | undefined,
    private body: RequestBody | undefined
  ) {
    super()
    if (deadline !== undefined) this.arm(deadline)
  }

  /**
   * Resumes the fiber once undici is done with this callback: resumed at
   * once, the fiber would run on (and send its next request) while undici
   * still counts this one as running, and its pool would take the connection
   * for a busy one. As undici's own handler does (a promise, a microtask).
   */
  private deliver(effect: Effect.Effect<UndiciResponse, HttpClientError.HttpClientError>): void {
    queueMicrotask(() => this.resume(effect))
  }

  private settle(): boolean {
    if (this.settled) return false
    this.settled = true
    if (this.deadline !== undefined) this.disarm()
    if (this.done !== undefined) this.done()
    return true
  }

  /** Stops the undici request (and its socket): now, or as soon as it starts. */
  private abort(): void {
    if (this.aborted || this.completed) return
    this.aborted = true
    const abortRequest = this.abortRequest
    if (abortRequest !== undefined) abortRequest(new RequestAbortedError())
  }

  protected expire(): void {
    if (!this.settle()) return
    this.abort()
    this.resume(Effect.fail(transportError(this.request, new Transport.AttemptTimeoutError())))
  }

  /** Interrupted before the response was handed over: undici aborts the request and its socket. */
  interrupt(): void {
    this.settle()
    this.abort()
  }

  onConnect(abort: (reason?: Error) => void): void {
    this.abortRequest = abort
    if (this.aborted) abort(new RequestAbortedError())
  }

  onHeaders(
    statusCode: number,
    rawHeaders: Array<Buffer> | Array<string>,
    resume: () => void
  ): boolean {
    // An interim response (1xx): the final one is still to come.
    if (statusCode < 200) return true
    if (this.settled) {
      // Timed out (or interrupted) as the headers arrived: nobody will read this body.
      this.abort()
      return false
    }
    const headers = responseHeaders(rawHeaders)
    const method = this.request.method
    if (isSmall(method, headers)) {
      // A small body is read before the response is handed over: one resumption of the fiber instead of two.
      this.statusCode = statusCode
      this.headers = headers
      this.chunks = []
      return true
    }
    const contentType = headers["content-type"]
    const contentLength = headers["content-length"]
    const res = new BodyReadable({
      resume,
      abort: this.abortRequest!,
      contentType: typeof contentType === "string" ? contentType : undefined,
      contentLength: method !== "HEAD" && typeof contentLength === "string" ? Number(contentLength) : null
    })
    this.res = res
    this.settle()
    this.resume(Effect.succeed(new UndiciResponse(this.request, this.url, statusCode, headers, res, undefined, this.deadline)))
    return true
  }

  onData(chunk: Buffer): boolean {
    const chunks = this.chunks
    if (chunks !== undefined) {
      chunks.push(chunk)
      this.length += chunk.byteLength
      return true
    }
    const res = this.res
    return res === undefined ? false : res.push(chunk)
  }

  onComplete(): void {
    this.completed = true
    this.body = undefined
    const chunks = this.chunks
    if (chunks !== undefined) {
      this.chunks = undefined
      if (!this.settle()) return
      const bytes = joined(chunks, this.length)
      this.deliver(
        Effect.succeed(new UndiciResponse(this.request, this.url, this.statusCode, this.headers!, undefined, bytes, undefined))
      )
      return
    }
    const res = this.res
    this.res = undefined
    if (res !== undefined) res.push(null)
  }

  onError(error: Error): void {
    this.completed = true
    const res = this.res
    if (res !== undefined) {
      this.res = undefined
      // As undici's own handler: the body's readers get the error once what is queued has run.
      queueMicrotask(() => destroy(res.on("error", ignoreError), error))
    } else if (this.chunks !== undefined) {
      // The headers came and the body failed.
      this.chunks = undefined
      if (this.settle()) this.deliver(Effect.fail(transportError(this.request, error)))
    } else if (this.settle()) {
      const { proxy, request } = this
      const proxyError = proxy === undefined ? undefined : proxyFailure(proxy, this.url, error)
      if (proxyError === undefined && isInvalidArgument(error)) {
        this.deliver(Effect.fail(encodeError(request, proxy === undefined ? error : ownProxyAuthorization(error))))
      } else {
        this.deliver(Effect.fail(transportError(request, proxyError ?? error)))
      }
    }
    const body = this.body
    if (body instanceof Readable) {
      this.body = undefined
      body.on("error", ignoreError)
      destroy(body, error)
    }
  }
}

const dispatch = (
  route: UndiciRoute,
  request: HttpClientRequest.HttpClientRequest,
  headers: Readonly<Record<string, string>>,
  url: URL,
  body: RequestBody,
  deadline: number | undefined,
  /** Called once the request has its answer, failed or was interrupted (see `OriginGate.through`). */
  done: (() => void) | undefined
): Effect.Effect<UndiciResponse, HttpClientError.HttpClientError> =>
  // One parameter: a second would make Effect allocate an AbortController per request.
  Effect.callback<UndiciResponse, HttpClientError.HttpClientError>((resume) => {
    const proxy = route.via
    const handler = new Exchange(resume, request, url, proxy, deadline, done, body)
    try {
      // An explicit literal: a spread of shared defaults costs more than the rest of the set-up.
      route.dispatcher.dispatch({
        origin: url.origin,
        path: url.pathname + url.search,
        method: request.method as Dispatcher.HttpMethod,
        // undici's proxy agent adds `host` to the headers it is given: a copy, not the shared defaults.
        headers: proxy === undefined ? headers : { ...headers },
        body,
        headersTimeout: 0,
        bodyTimeout: 0
      }, handler)
    } catch (cause) {
      // A dispatcher throws synchronously for a header or method it will not send.
      if (!handler.settled) {
        handler.interrupt()
        resume(Effect.fail(encodeError(request, proxy === undefined ? cause : ownProxyAuthorization(cause))))
      }
      return
    }
    if (handler.settled) return
    return Effect.sync(() => handler.interrupt())
  })
