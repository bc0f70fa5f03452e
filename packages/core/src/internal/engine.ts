/**
 * One request, start to finish: build it, pace it (rate limit, origin
 * pause), run one attempt under the timeout (redirects and body included),
 * retry, bound it all by the deadline, and fold whatever happened into a
 * `RequestResponse`. The pieces live in their own modules: `redirects`,
 * `retry`, `rateLimit`, `body`, `errors`, `route`.
 *
 * With a `Transport` the attempt is bounded by the transport (its end given
 * as `AttemptDeadline`); without one, by a timer of the engine's own.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HttpClient from "effect/http/HttpClient"
import type * as HttpClientError from "effect/http/HttpClientError"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as Tracer from "effect/Tracer"
import {
  DeadlineError,
  type RedirectError,
  RequestBodyError,
  type RequestError,
  TimeoutError
} from "../LoamyError.js"
import type * as Options from "../Options.js"
import type { RequestMap } from "../RequestMap.js"
import type { RequestResponse, ResponseHeaders, Saved } from "../RequestResponse.js"
import {
  bodyBytesNow,
  bodyOutcome,
  discard,
  headerRecord,
  mustRead,
  type Outcome,
  plainHeaders,
  readLimited
} from "./body.js"
import { Budget } from "./budget.js"
import { jarFor, withJar } from "./cookies.js"
import * as download from "./download.js"
import { AttemptDeadline, isAttemptTimeout, Transport } from "../Transport.js"
import { abortable, abortedError, RequestSignals } from "./abort.js"
import { fromClientError, transportError } from "./errors.js"
import { checkStatus } from "./failOn.js"
import { type Limits, limitsFor, retryFor } from "./perRequest.js"
import { makeLimiter } from "./rateLimit.js"
import { fullUrl, originOf, toHttpRequest } from "./outgoing.js"
import { isRedirect, redirectFollower } from "./redirects.js"
import * as requestBody from "./requestBody.js"
import { makeOriginPauses, mayRetry, withRetries } from "./retry.js"
import { withinFor } from "./timeout.js"

export { fullUrl } from "./outgoing.js"
export { asksManualRedirects, manualRedirects } from "./redirects.js"

/** Sends one validated request; never fails, the outcome is folded. `R`: what a body schema needs. @internal */
export type Sender<R = never> = (request: RequestMap, index: number) => Effect.Effect<RequestResponse, never, R>

// Without a prototype, as every response's headers (see `headerRecord`).
const emptyHeaders: ResponseHeaders = headerRecord()

/** What arrived of a response before its body: kept when the attempt's bound passes during the body. */
interface Seen {
  statusCode: number
  headers: ResponseHeaders
}

const failed = (error: RequestError): Outcome => ({ statusCode: 0, headers: emptyHeaders, body: null, error })

/**
 * The error a handler of failures may take, as `Effect.matchEffect` finds it:
 * none when the cause holds a defect, or no error (an interruption).
 */
const recoverable = <E>(cause: Cause.Cause<E>): E | undefined => {
  if (Cause.hasDies(cause)) return undefined
  const found = Cause.findError(cause)
  return found._tag === "Success" ? found.success : undefined
}

const isUnhandled = <E>(reason: Cause.Reason<E>): reason is Cause.Die | Cause.Interrupt => !Cause.isFailReason(reason)

/** What goes on past a handler of failures: the cause's defects and interruptions, as `matchEffect` passes them. */
const unhandled = <E>(cause: Cause.Cause<E>): Cause.Cause<never> => Cause.fromReasons(cause.reasons.filter(isUnhandled))

/** The outcome as the response the caller gets. */
const toResponse = (request: RequestMap, o: Outcome, started: number, attempts: number): RequestResponse => {
  const response: {
    requestMap: RequestMap
    statusCode: number
    body: unknown
    headers: ResponseHeaders
    error?: RequestError
    elapsedMs: number
    attempts: number
    saved?: Saved
  } = {
    requestMap: request,
    statusCode: o.statusCode,
    body: o.body,
    headers: o.headers,
    elapsedMs: performance.now() - started,
    attempts
  }
  if (o.error !== undefined) response.error = o.error
  if (o.saved !== undefined) response.saved = o.saved
  return response
}

/**
 * Makes the sender for one call. Rate limits, origin pauses and the
 * deadline clock live in the sender, shared by all its requests; it holds
 * no resource (its rate limit is a log in memory), so it needs no scope.
 * The sockets and the proxy are the call's route (see `route.ts`).
 *
 * @internal
 */
export const makeSender = (options: Options.Resolved): Effect.Effect<Sender, never, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const client = yield* HttpClient.HttpClient
    // The jar wraps the client (redirects included) only when asked for: without it, nothing changes.
    const base = options.cookies === false ? client : withJar(client, yield* jarFor(options.cookies))
    const follow = options.maxRedirects === 0
      ? undefined
      : redirectFollower(base, options.maxRedirects, options.sensitiveHeaders)
    // A transport bounds attempts itself, given each attempt's end; without one a fiber races the attempt.
    const hasTransport = Option.isSome(yield* Effect.serviceOption(Transport))
    const callLimits: Limits = {
      timeoutMs: options.timeoutMs,
      boundByClient: options.timeoutMs !== undefined && hasTransport,
      maxBodyBytes: options.maxBodyBytes
    }
    /**
     * The attempt's end, set as the attempt starts. One function per sender for the call's own timeout (a
     * request with its own makes one): `Effect.provideService` with three arguments makes a new `dual` function
     * per call, and with `Effect.suspend` around it cost about 0.6 KB per request. The end is in whole
     * milliseconds, rounded down (timers have no finer grain), so that the attempts a call's workers start
     * within one millisecond share one context: at tens of thousands of requests a second, most of them.
     */
    const withDeadline = (timeoutMs: number) => {
      let parent: Context.Context<never> | undefined
      let at = 0
      let made: Context.Context<never> | undefined
      return (context: Context.Context<never>): Context.Context<never> => {
        const end = Math.floor(performance.now() + timeoutMs)
        if (context !== parent || end !== at || made === undefined) {
          parent = context
          at = end
          made = Context.add(context, AttemptDeadline, end)
        }
        return made
      }
    }
    const withCallDeadline = callLimits.timeoutMs === undefined ? undefined : withDeadline(callLimits.timeoutMs)
    const startedAt = yield* Clock.currentTimeMillis
    const within = withinFor(yield* Clock.Clock)
    const deadlineAt = options.deadlineMs === undefined ? undefined : startedAt + options.deadlineMs
    const traced = yield* isTracing
    // Only retries and per-origin limits need the origin; parsing it costs a URL per request.
    const needsOrigin = options.retry !== undefined || options.rateLimit?.perOrigin === true
    const limiterFor = makeLimiter(options.rateLimit)
    const pauses = options.retry === undefined ? undefined : makeOriginPauses(options.retry)
    // Bytes of bodies held by this call's reads (see `budget.ts`): one object per call.
    const budget = new Budget(options.bodyBudget)
    const exactNumbers = options.exactNumbers
    const failOn = options.failOn
    // The Promise door's signals per request, by index; undefined (every other call): not a check per request.
    const signals = yield* RequestSignals
    const saveDir = options.saveDir
    // The files this call's attempts are writing: two requests of a call never write one file at once.
    const writing = new Set<string>()
    const saveName = options.saveName
    // Nothing but the exchange itself: the attempt folds straight into the response, one Effect frame.
    const direct = (callLimits.timeoutMs === undefined || callLimits.boundByClient) && limiterFor === undefined &&
      pauses === undefined && deadlineAt === undefined && !traced

    /**
     * One exchange (redirects included) and its body, folded by `k`. Never
     * fails. One `matchEffect` per step, and a body the client holds already
     * is folded without one.
     */
    const exchange = <A>(
      request: RequestMap,
      url: string,
      k: (o: Outcome) => A,
      seen: Seen | undefined,
      limits: Limits,
      httpRequest: HttpClientRequest.HttpClientRequest,
      part: download.Part | undefined
    ): Effect.Effect<A> => {
      const method = request.httpOp
      const { boundByClient, maxBodyBytes, timeoutMs } = limits
      // A cause, not an error: `Effect.matchEffect` wraps its handlers in two more objects per call.
      const clientFailed = (cause: Cause.Cause<HttpClientError.HttpClientError | RedirectError>): Effect.Effect<A> => {
        const found = recoverable(cause)
        if (found === undefined) return Effect.failCause(unhandled(cause))
        return Effect.succeed(k(failed(
          found._tag === "RedirectError"
            ? found
            : boundByClient && isAttemptTimeout(found)
            ? new TimeoutError({ method, url, timeoutMs: timeoutMs! })
            : fromClientError(method, found.request.url, found)
        )))
      }
      const read = (response: HttpClientResponse.HttpClientResponse): Effect.Effect<A> => {
        const statusCode = response.status
        const headers = plainHeaders(response)
        if (seen !== undefined) {
          seen.statusCode = statusCode
          seen.headers = headers
        }
        if (method === "HEAD") {
          return Effect.map(discard(response), () => k({ statusCode, headers, body: null, error: undefined }))
        }
        if (part !== undefined && download.isSaved(statusCode, part)) {
          return Effect.map(
            download.save(response, part, maxBodyBytes, method, url, statusCode, headers, (error) =>
              boundByClient && isAttemptTimeout(error)
                ? { statusCode, headers, body: null, error: new TimeoutError({ method, url, timeoutMs: timeoutMs! }) }
                : failed(transportError(method, response.request.url, error.cause ?? error))),
            k
          )
        }
        const now = bodyBytesNow(response, headers, maxBodyBytes)
        if (now !== mustRead) return Effect.succeed(k(bodyOutcome(now, method, url, statusCode, headers, maxBodyBytes, exactNumbers)))
        return Effect.matchEffect(readLimited(response, maxBodyBytes, budget), {
          onFailure: (error) =>
            Effect.succeed(k(
              boundByClient && isAttemptTimeout(error)
                // The status and headers did arrive: a body that stalls keeps them.
                ? { statusCode, headers, body: null, error: new TimeoutError({ method, url, timeoutMs: timeoutMs! }) }
                : failed(transportError(method, response.request.url, error.cause ?? error))
            )),
          onSuccess: (bytes) => Effect.succeed(k(bodyOutcome(bytes, method, url, statusCode, headers, maxBodyBytes, exactNumbers)))
        })
      }
      const onResponse = follow === undefined
        ? read
        : (response: HttpClientResponse.HttpClientResponse): Effect.Effect<A> =>
          isRedirect(response)
            ? Effect.matchCauseEffect(follow(response, httpRequest), { onFailure: clientFailed, onSuccess: read })
            : read(response)
      const exchanged = Effect.matchCauseEffect(base.execute(httpRequest), { onFailure: clientFailed, onSuccess: onResponse })
      // The one context change per attempt: its end, for the transport (redirects and body included).
      return boundByClient
        ? Effect.updateContext(exchanged, limits === callLimits ? withCallDeadline! : withDeadline(timeoutMs!))
        : exchanged
    }

    /** One attempt; a multipart body's files are opened for each (a retry reads them again). */
    const attempt = <A>(
      request: RequestMap,
      url: string,
      k: (o: Outcome) => A,
      seen: Seen | undefined,
      limits: Limits,
      part: download.Part | undefined
    ): Effect.Effect<A> => {
      const parts = request.multipart
      if (parts === undefined || !requestBody.hasFiles(parts)) {
        return exchange(request, url, k, seen, limits, toHttpRequest(request, url, options.headers, undefined, part), part)
      }
      return Effect.flatMap(requestBody.openFiles(parts), (files) =>
        files._tag === "Success"
          ? exchange(
            request,
            url,
            k,
            seen,
            limits,
            toHttpRequest(request, url, options.headers, files.success, part),
            part
          )
          : Effect.succeed(k(failed(
            new RequestBodyError({ method: request.httpOp, url, field: files.failure[0], detail: files.failure[1] })
          ))))
    }

    /** An attempt at a download: from where its partial file ends, found anew for each attempt. */
    const attemptTo = <A>(
      target: string,
      request: RequestMap,
      url: string,
      k: (o: Outcome) => A,
      seen: Seen | undefined,
      limits: Limits
    ): Effect.Effect<A> =>
      download.exclusive(
        writing,
        target,
        Effect.flatMap(download.prepare(target), (part) => attempt(request, url, k, seen, limits, part)),
        () => k(failed(download.busy(request.httpOp, url, target)))
      )

    const identity = (o: Outcome): Outcome => o

    const attemptOnce = (
      request: RequestMap,
      url: string,
      origin: string,
      limits: Limits,
      target: string | undefined
    ): Effect.Effect<Outcome> => {
      let folded: Effect.Effect<Outcome>
      const timeoutMs = limits.timeoutMs
      if (timeoutMs !== undefined && !limits.boundByClient) {
        // A fiber races the attempt: the status and headers that arrived before the bound passed are kept.
        const seen: Seen = { statusCode: 0, headers: emptyHeaders }
        const attempted = target === undefined
          ? attempt(request, url, identity, seen, limits, undefined)
          : attemptTo(target, request, url, identity, seen, limits)
        folded = within(attempted, timeoutMs, () => ({
          statusCode: seen.statusCode,
          headers: seen.headers,
          body: null,
          error: new TimeoutError({ method: request.httpOp, url, timeoutMs })
        }))
      } else {
        folded = target === undefined
          ? attempt(request, url, identity, undefined, limits, undefined)
          : attemptTo(target, request, url, identity, undefined, limits)
      }
      const paced = limiterFor === undefined ? folded : Effect.andThen(limiterFor(origin), folded)
      if (pauses === undefined) return paced
      return Effect.andThen(pauses.wait(origin), Effect.tap(paced, (outcome) => pauses.note(outcome, origin)))
    }

    const sender: Sender = (request, index) =>
      Effect.suspend(() => {
        const url = fullUrl(request)
        const started = performance.now()
        const signal = signals === undefined ? undefined : signals[index]
        const own = request.options
        // A field check per request: the file a body goes to, when the request or the call asks for one.
        const target = (own === undefined || own.saveTo === undefined) && saveDir === undefined
          ? undefined
          : download.targetOf(request, index, saveDir, saveName)
        if (direct && own === undefined && signal === undefined) {
          const k = (o: Outcome) =>
            toResponse(request, failOn === undefined ? o : checkStatus(failOn, o, request.httpOp, url), started, 1)
          return target === undefined
            ? attempt(request, url, k, undefined, callLimits, undefined)
            : attemptTo(target, request, url, k, undefined, callLimits)
        }
        const method = request.httpOp
        const limits = own === undefined ? callLimits : limitsFor(callLimits, own, hasTransport)
        const retry = own === undefined ? options.retry : retryFor(options.retry, own)
        const origin = needsOrigin ? originOf(url) : ""
        let attempts = 0
        const counted = Effect.suspend(() => {
          attempts++
          return attemptOnce(request, url, origin, limits, target)
        })
        const outcome = retry !== undefined && mayRetry(retry, request)
          ? withRetries(counted, retry, deadlineAt)
          : counted
        // After retries: a status retried and still back is the failure `failOn` makes of it.
        const responded = Effect.map(outcome, (o) =>
          toResponse(request, failOn === undefined ? o : checkStatus(failOn, o, method, url), started, attempts))
        let bounded: Effect.Effect<RequestResponse> = responded
        if (deadlineAt !== undefined) {
          const deadlineMs = options.deadlineMs!
          const expired = () =>
            toResponse(request, failed(new DeadlineError({ method, url, deadlineMs })), started, attempts)
          bounded = Effect.flatMap(Clock.currentTimeMillis, (now) =>
            now >= deadlineAt ? Effect.sync(expired) : within(responded, deadlineAt - now, expired))
        }
        if (signal !== undefined) {
          bounded = abortable(
            bounded,
            signal,
            () => toResponse(request, failed(abortedError(signal, method, url)), started, attempts)
          )
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

/**
 * Whether spans would reach anyone: tracing is on and a tracer other than
 * Effect's built-in one is installed (an OpenTelemetry layer, a test tracer).
 * Built-in spans go nowhere, and making one per request is measurable.
 *
 * @internal
 */
export const isTracing: Effect.Effect<boolean> = Effect.withFiber((fiber) =>
  Effect.succeed(fiber.getRef(References.TracerEnabled) && fiber.getRef(Tracer.Tracer) !== Tracer.nativeTracer)
)

