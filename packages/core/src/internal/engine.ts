/**
 * One request, start to finish: build it, pace it (rate limit, origin
 * pause), run one attempt under the timeout (redirects and body included),
 * retry on a schedule, bound it all by the deadline, and fold whatever
 * happened into a `RequestResponse`. The pieces live in their own modules:
 * `redirects`, `retry`, `rateLimit`, `body`, `errors`.
 *
 * @internal
 */
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import type * as Scope from "effect/Scope"
import type * as Tracer from "effect/Tracer"
import { BodyTooLargeError, DeadlineError, type InvalidOptionsError, type RequestError, TimeoutError } from "../LoamyError.js"
import type * as Options from "../Options.js"
import type { RequestMap } from "../RequestMap.js"
import type { RequestResponse, ResponseHeaders } from "../RequestResponse.js"
import { discard, type Outcome, parseBytes, plainHeaders, readLimited } from "./body.js"
import { fromClientError, transportError } from "./errors.js"
import { viaProxy } from "./proxy.js"
import { makeLimiter } from "./rateLimit.js"
import { followRedirects } from "./redirects.js"
import { makeOriginPauses, mayRetry, withRetries } from "./retry.js"
import { isAttemptTimeout, isDeadlineAware, setAttemptDeadline, withinFor } from "./timeout.js"

export { asksManualRedirects, manualRedirects } from "./redirects.js"

/** Sends one validated request; never fails, the outcome is folded. @internal */
export type Sender = (request: RequestMap, index: number) => Effect.Effect<RequestResponse>

const emptyHeaders: ResponseHeaders = {}

/** The URL the request goes to, query params included; used in errors and spans. @internal */
export const fullUrl = (request: RequestMap): string => {
  if (request.queryParams === undefined) return request.url
  const url = new URL(request.url)
  for (const key in request.queryParams) url.searchParams.append(key, request.queryParams[key]!)
  return url.toString()
}

const toHttpRequest = (request: RequestMap, url: string, defaults: Options.Resolved["headers"]) => {
  let headers: Record<string, string> | undefined = request.headers as Record<string, string> | undefined
  if (defaults !== undefined) headers = mergeHeaders(defaults, request.headers)
  let httpRequest = HttpClientRequest.make(request.httpOp)(url, headers === undefined ? undefined : { headers })
  if (request.body !== undefined) {
    // A user's own Content-Type (application/merge-patch+json, ...) wins over the JSON default.
    httpRequest = HttpClientRequest.bodyText(
      httpRequest,
      JSON.stringify(request.body),
      httpRequest.headers["content-type"] ?? "application/json"
    )
  }
  return httpRequest
}

/** Request headers win over defaults, whatever the case of their names. */
const mergeHeaders = (
  defaults: Readonly<Record<string, string>>,
  own: Readonly<Record<string, string>> | undefined
): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const name in defaults) out[name.toLowerCase()] = defaults[name]!
  if (own !== undefined) for (const name in own) out[name.toLowerCase()] = own[name]!
  return out
}

const originOf = (url: string): string => {
  try {
    return new URL(url).origin
  } catch {
    return url
  }
}

/**
 * Makes the sender for one call. Rate limiters, origin pauses and the
 * deadline clock live in the call's scope, shared by all its requests.
 *
 * @internal
 */
export const makeSender = (
  options: Options.Resolved
): Effect.Effect<Sender, InvalidOptionsError, HttpClient.HttpClient | Scope.Scope> =>
  Effect.flatMap(Effect.scope, (scope) => makeSenderIn(options, scope))

/**
 * `makeSender` for a caller that has no scope to give when there is no rate
 * limit (the only resource a sender holds): a call without one skips making
 * and closing a scope.
 *
 * @internal
 */
export const makeSenderIn = (
  options: Options.Resolved,
  scope: Scope.Scope | undefined
): Effect.Effect<Sender, InvalidOptionsError, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const given = yield* HttpClient.HttpClient
    // Asked once per call; a client that cannot route through a proxy fails the call (see `proxy.ts`).
    const base = options.proxy === undefined ? given : yield* viaProxy(given, options.proxy)
    const client = followRedirects(base, options.maxRedirects, options.sensitiveHeaders)
    // A client that bounds attempts itself is given each attempt's end; any other is raced by a fiber.
    const timeoutMs = options.timeoutMs
    const boundByClient = timeoutMs !== undefined && isDeadlineAware(base)
    const startedAt = yield* Clock.currentTimeMillis
    const within = withinFor(yield* Effect.clock)
    const deadlineAt = options.deadlineMs === undefined ? undefined : startedAt + options.deadlineMs
    const traced = yield* isTracing
    // Only retries and per-origin limits need the origin; parsing it costs a URL per request.
    const needsOrigin = options.retry !== undefined || options.rateLimit?.perOrigin === true
    const limiterFor = yield* makeLimiter(options.rateLimit, scope)
    const pauses = options.retry === undefined ? undefined : makeOriginPauses(options.retry)
    const maxBodyBytes = options.maxBodyBytes

    /** One exchange (redirects included) and its body, as an outcome. */
    const exchange = (request: RequestMap, url: string): Effect.Effect<Outcome, RequestError> => {
      const method = request.httpOp
      const timedOut = () => new TimeoutError({ method, url, timeoutMs: timeoutMs! })
      const httpRequest = toHttpRequest(request, url, options.headers)
      if (boundByClient) setAttemptDeadline(httpRequest, performance.now() + timeoutMs!)
      return client.execute(httpRequest).pipe(
        Effect.mapError((error) =>
          error._tag === "RedirectError"
            ? error
            : boundByClient && isAttemptTimeout(error)
            ? timedOut()
            : fromClientError(method, error.request.url, error)
        ),
        Effect.flatMap((response): Effect.Effect<Outcome, RequestError> => {
          const statusCode = response.status
          const headers = plainHeaders(response)
          if (method === "HEAD") {
            return Effect.as(discard(response), { statusCode, headers, body: null, error: undefined })
          }
          const read = Effect.map(readLimited(response, maxBodyBytes), (bytes): Outcome =>
            bytes === undefined
              ? {
                statusCode,
                headers,
                body: null,
                error: new BodyTooLargeError({ method, url, statusCode, maxBodyBytes })
              }
              : parseBytes(bytes, method, url, statusCode, headers))
          return Effect.mapError(read, (error) =>
            boundByClient && isAttemptTimeout(error)
              ? timedOut()
              : transportError(method, response.request.url, error.cause ?? error))
        })
      )
    }

    const attemptOnce = (request: RequestMap, url: string, origin: string): Effect.Effect<Outcome> => {
      let folded = Effect.catchAll(exchange(request, url), (error) =>
        Effect.succeed<Outcome>({ statusCode: 0, headers: emptyHeaders, body: null, error }))
      if (timeoutMs !== undefined && !boundByClient) {
        folded = within(folded, timeoutMs, () => ({
          statusCode: 0,
          headers: emptyHeaders,
          body: null,
          error: new TimeoutError({ method: request.httpOp, url, timeoutMs })
        }))
      }
      const paced = limiterFor === undefined ? folded : Effect.zipRight(limiterFor(origin), folded)
      if (pauses === undefined) return paced
      return Effect.zipRight(pauses.wait(origin), Effect.tap(paced, (outcome) => pauses.note(outcome, origin)))
    }

    const sender: Sender = (request, index) =>
      Effect.suspend(() => {
        const method = request.httpOp
        const url = fullUrl(request)
        const origin = needsOrigin ? originOf(url) : ""
        const started = performance.now()
        let attempts = 0
        const counted = Effect.suspend(() => {
          attempts++
          return attemptOnce(request, url, origin)
        })
        const retry = options.retry
        const outcome = retry !== undefined && mayRetry(retry, request)
          ? withRetries(counted, retry, deadlineAt)
          : counted
        const toResponse = (o: Outcome): RequestResponse => {
          const response: {
            requestMap: RequestMap
            statusCode: number
            body: unknown
            headers: ResponseHeaders
            error?: RequestError
            elapsedMs: number
            attempts: number
          } = {
            requestMap: request,
            statusCode: o.statusCode,
            body: o.body,
            headers: o.headers,
            elapsedMs: performance.now() - started,
            attempts
          }
          if (o.error !== undefined) response.error = o.error
          return response
        }
        let bounded: Effect.Effect<RequestResponse> = Effect.map(outcome, toResponse)
        if (deadlineAt !== undefined) {
          const deadlineMs = options.deadlineMs!
          const expired = () =>
            toResponse({
              statusCode: 0,
              headers: emptyHeaders,
              body: null,
              error: new DeadlineError({ method, url, deadlineMs })
            })
          bounded = Effect.flatMap(Clock.currentTimeMillis, (now) =>
            now >= deadlineAt ? Effect.sync(expired) : within(Effect.map(outcome, toResponse), deadlineAt - now, expired))
        }
        return traced
          ? Effect.withSpan(bounded, "loamy.request", {
            kind: "client",
            captureStackTrace: false,
            attributes: { "http.request.method": method, "url.full": url, "loamy.index": index }
          })
          : bounded
      })

    return sender
  })

let defaultTracer: Tracer.Tracer | undefined

/**
 * Whether spans would reach anyone: tracing is on and a tracer other than
 * Effect's built-in one is installed (an OpenTelemetry layer, a test tracer).
 * Built-in spans go nowhere, and making one per request is measurable.
 *
 * @internal
 */
export const isTracing: Effect.Effect<boolean> = Effect.flatMap(
  FiberRef.get(FiberRef.currentTracerEnabled),
  (enabled) =>
    enabled
      ? Effect.map(Effect.tracer, (tracer) => {
        defaultTracer ??= Effect.runSync(Effect.tracer)
        return tracer !== defaultTracer
      })
      : Effect.succeed(false)
)

