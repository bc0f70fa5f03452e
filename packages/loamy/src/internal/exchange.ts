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
import { encodeError, Exchange, type RequestBody } from "./dispatchHandler.js"
import { gateOf, type OriginGate } from "./http2.js"
import { version } from "./version.js"
import { ownProxyAuthorization, type ProxyRoute } from "./proxies.js"
import type { UndiciResponse } from "./undiciResponse.js"

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
