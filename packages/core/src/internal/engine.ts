/**
 * The per-request machinery behind `Clump`: build the request, pace it (rate
 * limit, origin pause), run one attempt under the timeout (redirects and body
 * included), retry on a schedule, bound it all by the deadline, and fold
 * whatever happened into a `RequestResponse`.
 *
 * @internal
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as RateLimiter from "effect/RateLimiter"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type * as Tracer from "effect/Tracer"
import {
  BodyDecodeError,
  BodyTooLargeError,
  DeadlineError,
  InvalidRequestError,
  RedirectError,
  type RequestError,
  TimeoutError,
  TransportError,
  type TransportReason
} from "../LoamyError.js"
import type { RequestMap } from "../RequestMap.js"
import type { RequestResponse } from "../RequestResponse.js"

/** Options after defaults and checks, in milliseconds. @internal */
export interface Resolved {
  readonly concurrency: number
  readonly failFast: boolean
  readonly timeoutMs: number | undefined
  readonly deadlineMs: number | undefined
  readonly retry: ResolvedRetry | undefined
  readonly rateLimit: ResolvedRateLimit | undefined
  readonly maxBodyBytes: number | undefined
  readonly headers: Readonly<Record<string, string>> | undefined
  readonly maxRedirects: number
}

/** @internal */
export interface ResolvedRetry {
  readonly attempts: number
  readonly baseDelayMs: number
  readonly maxDelayMs: number
  readonly maxRetryAfterMs: number
  readonly statuses: ReadonlySet<number>
  readonly nonIdempotent: boolean
}

/** @internal */
export interface ResolvedRateLimit {
  readonly limit: number
  readonly intervalMs: number
  readonly perOrigin: boolean
}

/** Sends one validated request; never fails, the outcome is folded. @internal */
export type Sender = (request: RequestMap, index: number) => Effect.Effect<RequestResponse>

/** What one attempt produced. */
interface Outcome {
  readonly statusCode: number
  readonly headers: Record<string, string>
  readonly body: unknown
  readonly error: RequestError | undefined
}

const idempotentMethods: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE"])
const redirectStatuses: ReadonlySet<number> = new Set([301, 302, 303, 307, 308])
/** Not forwarded when a redirect leaves the origin. */
const credentialHeaders = ["authorization", "cookie", "proxy-authorization"]
const emptyHeaders: Record<string, string> = {}
const decoder = new TextDecoder()

/** The URL the request goes to, query params included; used in errors and spans. */
const fullUrl = (request: RequestMap): string => {
  if (request.queryParams === undefined) return request.url
  const url = new URL(request.url)
  for (const key in request.queryParams) url.searchParams.append(key, request.queryParams[key]!)
  return url.toString()
}

const toHttpRequest = (request: RequestMap, url: string, defaults: Resolved["headers"]) => {
  let headers: Record<string, string> | undefined = request.headers as Record<string, string> | undefined
  if (defaults !== undefined) headers = mergeHeaders(defaults, request.headers)
  let httpRequest = HttpClientRequest.make(request.httpOp)(url, headers === undefined ? undefined : { headers })
  if (request.body !== undefined) httpRequest = HttpClientRequest.bodyUnsafeJson(httpRequest, request.body)
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

const transportCodes: Record<string, TransportReason> = {
  ECONNREFUSED: "ConnectionRefused",
  ECONNRESET: "ConnectionReset",
  EPIPE: "ConnectionReset",
  UND_ERR_SOCKET: "ConnectionReset",
  UND_ERR_CLOSED: "ConnectionReset",
  ERR_STREAM_PREMATURE_CLOSE: "ConnectionReset",
  ENOTFOUND: "DnsLookup",
  EAI_AGAIN: "DnsLookup",
  EAI_NONAME: "DnsLookup",
  ETIMEDOUT: "ConnectTimeout",
  UND_ERR_CONNECT_TIMEOUT: "ConnectTimeout"
}

/** Walks an error's `cause` chain for the innermost code and message. */
const rootCause = (error: unknown): { code: string | undefined; detail: string } => {
  let code: string | undefined
  let detail = error instanceof Error ? error.message : String(error)
  let current: unknown = error
  for (let depth = 0; depth < 8 && current !== undefined && current !== null; depth++) {
    if (typeof current === "object") {
      const c = current as { code?: unknown; message?: unknown; cause?: unknown }
      if (typeof c.code === "string") code = c.code
      if (typeof c.message === "string" && c.message !== "") detail = c.message
      current = c.cause
    } else {
      break
    }
  }
  return { code, detail }
}

const transportError = (method: string, url: string, cause: unknown): TransportError => {
  const { code, detail } = rootCause(cause)
  let reason: TransportReason = code === undefined ? "Unknown" : transportCodes[code] ?? "Unknown"
  if (reason === "Unknown" && code !== undefined && (code.startsWith("ERR_TLS") || code.includes("CERT"))) {
    reason = "Tls"
  }
  if (reason === "Unknown" && /socket|other side closed|terminated/i.test(detail)) reason = "ConnectionReset"
  return code === undefined
    ? new TransportError({ method, url, reason, detail })
    : new TransportError({ method, url, reason, code, detail })
}

const fromClientError = (method: string, url: string, error: HttpClientError.HttpClientError): RequestError => {
  if (error._tag === "RequestError" && error.reason !== "Transport") {
    return new InvalidRequestError({ method, url, detail: rootCause(error.cause ?? error).detail })
  }
  const cause = error.cause ?? error
  // fetch rejects bad requests (a body on GET, a forbidden header) with a TypeError before connecting.
  if (error._tag === "RequestError" && cause instanceof TypeError && rootCause(cause).code === undefined) {
    return new InvalidRequestError({ method, url, detail: rootCause(cause).detail })
  }
  return transportError(method, url, cause)
}

const plainHeaders = (headers: Readonly<Record<string, string>>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const name in headers) out[name] = headers[name]!
  return out
}

const parseBody = (
  text: string,
  method: string,
  url: string,
  statusCode: number,
  headers: Record<string, string>
): Outcome => {
  if (text === "") return { statusCode, headers, body: null, error: undefined }
  try {
    return { statusCode, headers, body: JSON.parse(text), error: undefined }
  } catch (cause) {
    return {
      statusCode,
      headers,
      body: { text },
      error: new BodyDecodeError({ method, url, statusCode, detail: (cause as Error).message })
    }
  }
}

/** Reads at most `limit` bytes and abandons (aborts) the rest. */
const readLimited = (
  response: HttpClientResponse.HttpClientResponse,
  limit: number
): Effect.Effect<Uint8Array | undefined, HttpClientError.ResponseError> => {
  const declared = response.headers["content-length"]
  if (declared !== undefined) {
    const length = Number(declared)
    if (length > limit) return Effect.as(discard(response), undefined)
    // A declared length within the limit bounds the read by itself (the client enforces the
    // framing), so the whole body can be read at once: streaming it chunk by chunk costs
    // about a millisecond of CPU per request. Not when the body is encoded: fetch
    // decompresses, and the length counts the compressed bytes.
    const encoding = response.headers["content-encoding"]
    if (Number.isSafeInteger(length) && (encoding === undefined || encoding === "identity")) {
      return Effect.map(response.arrayBuffer, (buffer) => new Uint8Array(buffer))
    }
  }
  return Effect.suspend(() => {
    const chunks: Array<Uint8Array> = []
    let size = 0
    let tooLarge = false
    return response.stream.pipe(
      Stream.runForEachWhile((chunk) =>
        Effect.sync(() => {
          size += chunk.byteLength
          if (size > limit) {
            tooLarge = true
            return false
          }
          chunks.push(chunk)
          return true
        })
      ),
      Effect.map(() => {
        if (tooLarge) return undefined
        if (chunks.length === 1) return chunks[0]!
        const out = new Uint8Array(size)
        let offset = 0
        for (const chunk of chunks) {
          out.set(chunk, offset)
          offset += chunk.byteLength
        }
        return out
      })
    )
  })
}

/** Stops reading a body we do not want; closing the stream aborts the response. */
const discard = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<void> =>
  response.stream.pipe(
    Stream.runForEachWhile(() => Effect.succeed(false)),
    Effect.ignore
  )

/** Seconds or an HTTP date, as milliseconds from `now`. */
const parseRetryAfter = (value: string | undefined, now: number): number | undefined => {
  if (value === undefined) return undefined
  const trimmed = value.trim()
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000
  const at = Date.parse(trimmed)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
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
  options: Resolved
): Effect.Effect<Sender, never, HttpClient.HttpClient | Scope.Scope> =>
  Effect.flatMap(Effect.scope, (scope) => makeSenderIn(options, scope))

/**
 * `makeSender` for a caller that has no scope to give when there is no rate
 * limit (the only resource a sender holds): a call without one skips making
 * and closing a scope.
 *
 * @internal
 */
export const makeSenderIn = (
  options: Resolved,
  scope: Scope.Scope | undefined
): Effect.Effect<Sender, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    const startedAt = yield* Clock.currentTimeMillis
    const deadlineAt = options.deadlineMs === undefined ? undefined : startedAt + options.deadlineMs
    const traced = yield* isTracing
    // Only retries and per-origin limits need the origin; parsing it costs a URL per request.
    const needsOrigin = options.retry !== undefined || options.rateLimit?.perOrigin === true

    const limiterFor = yield* makeLimiter(options.rateLimit, scope)
    const pauses = new Map<string, number>()

    const waitForOrigin = (origin: string): Effect.Effect<void> =>
      Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const until = pauses.get(origin)
        if (until === undefined) return Effect.void
        if (until <= now) {
          pauses.delete(origin)
          return Effect.void
        }
        return Effect.sleep(until - now)
      })

    const exchange = (
      request: RequestMap,
      url: string
    ): Effect.Effect<Outcome, RequestError> => {
      const method = request.httpOp
      const step = (
        httpRequest: HttpClientRequest.HttpClientRequest,
        currentUrl: string,
        redirects: number,
        visited: Set<string> | undefined
      ): Effect.Effect<Outcome, RequestError> =>
        client.execute(httpRequest).pipe(
          Effect.mapError((error) => fromClientError(method, currentUrl, error)),
          Effect.flatMap((response): Effect.Effect<Outcome, RequestError> => {
            const statusCode = response.status
            if (redirectStatuses.has(statusCode) && options.maxRedirects > 0) {
              const location = response.headers["location"]
              if (location !== undefined) {
                return Effect.zipRight(
                  discard(response),
                  Effect.suspend(() =>
                    followRedirect(httpRequest, currentUrl, location, statusCode, redirects, visited)
                  )
                )
              }
            }
            const headers = plainHeaders(response.headers)
            if (method === "HEAD") {
              return Effect.as(discard(response), { statusCode, headers, body: null, error: undefined })
            }
            const read: Effect.Effect<Outcome, HttpClientError.ResponseError> = options.maxBodyBytes === undefined
              ? Effect.map(response.text, (text) => parseBody(text, method, url, statusCode, headers))
              : Effect.map(readLimited(response, options.maxBodyBytes), (bytes) =>
                bytes === undefined
                  ? {
                    statusCode,
                    headers,
                    body: null,
                    error: new BodyTooLargeError({ method, url, statusCode, maxBodyBytes: options.maxBodyBytes! })
                  }
                  : parseBody(decoder.decode(bytes), method, url, statusCode, headers))
            return Effect.mapError(read, (error) => transportError(method, currentUrl, error.cause ?? error))
          })
        )

      const followRedirect = (
        previous: HttpClientRequest.HttpClientRequest,
        currentUrl: string,
        location: string,
        statusCode: number,
        redirects: number,
        visited: Set<string> | undefined
      ): Effect.Effect<Outcome, RequestError> => {
        let next: URL
        try {
          next = new URL(location, currentUrl)
        } catch {
          return Effect.fail(new RedirectError({ method, url, reason: "InvalidLocation", redirects, location }))
        }
        if (next.protocol !== "http:" && next.protocol !== "https:") {
          return Effect.fail(new RedirectError({ method, url, reason: "InvalidLocation", redirects, location }))
        }
        if (redirects + 1 > options.maxRedirects) {
          return Effect.fail(new RedirectError({ method, url, reason: "TooMany", redirects: options.maxRedirects }))
        }
        const seen = visited ?? new Set([`${previous.method} ${currentUrl}`])
        // 303, and 301/302 after a POST, turn into a GET without a body (what browsers and fetch do).
        const toGet = statusCode === 303 || ((statusCode === 301 || statusCode === 302) && previous.method === "POST")
        const nextMethod = toGet && previous.method !== "HEAD" ? "GET" : previous.method
        const nextUrl = next.toString()
        const key = `${nextMethod} ${nextUrl}`
        if (seen.has(key)) {
          return Effect.fail(new RedirectError({ method, url, reason: "Loop", redirects: redirects + 1, location: nextUrl }))
        }
        seen.add(key)
        let nextRequest = HttpClientRequest.setUrl(previous, nextUrl)
        if (nextMethod !== previous.method) {
          nextRequest = HttpClientRequest.make(nextMethod)(nextUrl, {
            headers: withoutBodyHeaders(previous.headers)
          })
        }
        if (next.origin !== new URL(currentUrl).origin) {
          // `modify`/`setHeaders` merge into the headers there are, so they cannot drop
          // one: the credentials go by rebuilding the request without them.
          nextRequest = HttpClientRequest.setBody(
            HttpClientRequest.make(nextRequest.method)(nextUrl, {
              headers: Headers.remove(nextRequest.headers, credentialHeaders)
            }),
            nextRequest.body
          )
        }
        return step(nextRequest, nextUrl, redirects + 1, seen)
      }

      return step(toHttpRequest(request, url, options.headers), url, 0, undefined)
    }

    const attemptOnce = (request: RequestMap, url: string, origin: string): Effect.Effect<Outcome> => {
      const method = request.httpOp
      let attempt: Effect.Effect<Outcome, RequestError> = exchange(request, url)
      if (options.timeoutMs !== undefined) {
        const timeoutMs = options.timeoutMs
        attempt = Effect.timeoutFail(attempt, {
          duration: timeoutMs,
          onTimeout: () => new TimeoutError({ method, url, timeoutMs })
        })
      }
      const folded = Effect.catchAll(attempt, (error) =>
        Effect.succeed<Outcome>({ statusCode: 0, headers: emptyHeaders, body: null, error }))
      const paced = limiterFor === undefined ? folded : Effect.zipRight(limiterFor(origin), folded)
      const retry = options.retry
      if (retry === undefined) return paced
      // Every attempt that meets a 429/503 pauses the origin, whether or not it is
      // retried itself (a POST, or its last attempt): the queue behind it must wait.
      return Effect.zipRight(waitForOrigin(origin), Effect.tap(paced, (outcome) => pauseOrigin(retry, outcome, origin)))
    }

    const pauseOrigin = (retry: ResolvedRetry, outcome: Outcome, origin: string): Effect.Effect<void> => {
      if (outcome.statusCode !== 429 && outcome.statusCode !== 503) return Effect.void
      const header = outcome.headers["retry-after"]
      if (header === undefined) return Effect.void
      return Effect.map(Clock.currentTimeMillis, (now) => {
        const retryAfter = parseRetryAfter(header, now)
        if (retryAfter === undefined || retryAfter > retry.maxRetryAfterMs) return
        pauses.set(origin, Math.max(pauses.get(origin) ?? 0, now + retryAfter))
      })
    }

    const isRetryable = (retry: ResolvedRetry, outcome: Outcome): boolean => {
      const error = outcome.error
      if (error !== undefined) {
        if (error._tag === "TimeoutError") return true
        if (error._tag === "TransportError") return error.code !== "ENOTFOUND" && error.reason !== "Tls"
        if (error._tag !== "BodyDecodeError") return false
      }
      return retry.statuses.has(outcome.statusCode)
    }

    /** The wait before the next attempt, or undefined to stop retrying. */
    const nextDelay = (
      retry: ResolvedRetry,
      outcome: Outcome,
      retryIndex: number
    ): Effect.Effect<Option.Option<number>> =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        let delay: number
        const retryAfter = outcome.statusCode === 0
          ? undefined
          : parseRetryAfter(outcome.headers["retry-after"], now)
        if (retryAfter !== undefined) {
          if (retryAfter > retry.maxRetryAfterMs) return Option.none()
          delay = retryAfter
        } else {
          const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** retryIndex)
          delay = yield* Random.nextRange(0, ceiling)
        }
        // No point waiting for an attempt the deadline would cut off: keep what we have.
        if (deadlineAt !== undefined && now + delay >= deadlineAt) return Option.none()
        return Option.some(delay)
      })

    const withRetries = (
      attemptOnce: Effect.Effect<Outcome>,
      retry: ResolvedRetry
    ): Effect.Effect<Outcome> => {
      const attempt = Effect.flatMap(attemptOnce, (outcome) =>
        isRetryable(retry, outcome) ? Effect.fail(outcome) : Effect.succeed(outcome))
      const schedule = Schedule.identity<Outcome>().pipe(
        Schedule.intersect(Schedule.recurs(retry.attempts - 1)),
        Schedule.mapEffect(([outcome, retryIndex]) => nextDelay(retry, outcome, retryIndex)),
        Schedule.whileOutput(Option.isSome),
        Schedule.addDelay((delay) => Duration.millis(Option.getOrElse(delay, () => 0)))
      )
      // The last outcome is kept whether it succeeded or ran out of retries.
      return Effect.merge(Effect.retry(attempt, schedule))
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
        const outcome = retry !== undefined && mayRetry(retry, request) ? withRetries(counted, retry) : counted
        const toResponse = (o: Outcome): RequestResponse => {
          const response: {
            requestMap: RequestMap
            statusCode: number
            body: unknown
            headers: Record<string, string>
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
            now >= deadlineAt
              ? Effect.sync(expired)
              : Effect.timeoutTo(Effect.map(outcome, toResponse), {
                duration: deadlineAt - now,
                onSuccess: (response) => response,
                onTimeout: expired
              }))
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

/** Retries only requests that are safe to repeat, unless the caller says otherwise. */
const mayRetry = (retry: ResolvedRetry, request: RequestMap): boolean => {
  if (retry.nonIdempotent || idempotentMethods.has(request.httpOp)) return true
  if (request.headers === undefined) return false
  for (const name in request.headers) if (name.toLowerCase() === "idempotency-key") return true
  return false
}

const withoutBodyHeaders = (headers: Readonly<Record<string, string>>): Record<string, string> => {
  const out: Record<string, string> = {}
  for (const name in headers) {
    if (name !== "content-type" && name !== "content-length") out[name] = headers[name]!
  }
  return out
}

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

/**
 * Redirects are followed by the engine (to count them, spot loops and drop
 * credentials across origins), so a fetch-based client must not follow them
 * itself. Other clients ignore `RequestInit`. Provided once per call: a
 * context change per request is measurable.
 *
 * @internal
 */
export const manualRedirects = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.serviceOption(FetchHttpClient.RequestInit), (init) =>
    Effect.provideService(self, FetchHttpClient.RequestInit, {
      ...Option.getOrElse(init, () => ({})),
      redirect: "manual"
    }))

const makeLimiter = (
  rateLimit: ResolvedRateLimit | undefined,
  scope: Scope.Scope | undefined
): Effect.Effect<((origin: string) => Effect.Effect<void>) | undefined> => {
  if (rateLimit === undefined) return Effect.succeed(undefined)
  if (scope === undefined) return Effect.dieMessage("loamy: a rate limit needs a scope to live in")
  const make = Scope.extend(
    RateLimiter.make({ limit: rateLimit.limit, interval: rateLimit.intervalMs, algorithm: "fixed-window" }),
    scope
  )
  if (!rateLimit.perOrigin) {
    return Effect.map(make, (limiter) => () => limiter(Effect.void))
  }
  return Effect.map(
    Effect.cachedFunction((_origin: string) => make),
    (limiterOf) => (origin: string) => Effect.flatMap(limiterOf(origin), (limiter) => limiter(Effect.void))
  )
}
