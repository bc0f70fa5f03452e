/**
 * A clump of requests and the options to send them with: the original
 * loamy's `Clump`, as an Effect. `send` gives one `RequestResponse` per
 * request, in input order; `stream` gives them as they finish.
 *
 * ```ts
 * import { Clump } from "@loamy/core"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const clump = Clump.make([
 *   { url: "https://example.com/", httpOp: "GET" },
 *   { url: "https://example.com/items", httpOp: "POST", body: { name: "x" } }
 * ], { concurrency: 10, timeout: "5 seconds" })
 *
 * const responses = await Clump.send(clump).pipe(
 *   Effect.provide(FetchHttpClient.layer),
 *   Effect.runPromise
 * )
 * ```
 *
 * @since 0.1.0
 */
import type * as HttpClient from "@effect/platform/HttpClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import { constVoid, dual } from "effect/Function"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as engine from "./internal/engine.js"
import { describe } from "./internal/validate.js"
import { type InvalidInputError, InvalidRequestError, type RequestError } from "./LoamyError.js"
import * as RequestMap from "./RequestMap.js"
import type { RequestResponse } from "./RequestResponse.js"

/**
 * @since 0.1.0
 * @category type ids
 */
export const TypeId: unique symbol = Symbol.for("@loamy/core/Clump")

/**
 * @since 0.1.0
 * @category type ids
 */
export type TypeId = typeof TypeId

/**
 * Retrying failed attempts. A number is shorthand for `{ attempts }`.
 *
 * @since 0.1.0
 * @category models
 */
export interface RetryOptions {
  /** Attempts in all, the first included. Default 3. */
  readonly attempts?: number | undefined
  /** The first backoff ceiling; it doubles each retry (full jitter: the wait is random below it). Default 100 ms. */
  readonly baseDelay?: Duration.DurationInput | undefined
  /** The largest backoff ceiling. Default 10 seconds. */
  readonly maxDelay?: Duration.DurationInput | undefined
  /** A `Retry-After` longer than this is not waited for; the response is kept. Default 60 seconds. */
  readonly maxRetryAfter?: Duration.DurationInput | undefined
  /** Statuses worth another attempt. Default 408, 429, 500, 502, 503, 504. */
  readonly statuses?: ReadonlyArray<number> | undefined
  /**
   * Retry POST and PATCH too. By default only GET, HEAD, OPTIONS, PUT, DELETE
   * and requests with an `Idempotency-Key` header are retried.
   */
  readonly nonIdempotent?: boolean | undefined
}

/**
 * At most `limit` requests start in each `interval` window (attempts and
 * retries count).
 *
 * @since 0.1.0
 * @category models
 */
export interface RateLimitOptions {
  readonly limit: number
  readonly interval: Duration.DurationInput
  /** One window per origin instead of one for the whole call. Default false. */
  readonly perOrigin?: boolean | undefined
}

/**
 * Options, with the same names at every door (Effect, Promise, sync, CLI).
 * Durations are milliseconds or an Effect duration string ("5 seconds").
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Requests in flight at once. Default 100. */
  readonly concurrency?: number | undefined
  /**
   * `true` (default): every failure is folded into its response. `false`:
   * the first failure fails the whole call and interrupts the rest.
   */
  readonly returnExceptions?: boolean | undefined
  /** Per attempt, connect to last body byte; queueing time is not counted. Default none. */
  readonly timeout?: Duration.DurationInput | undefined
  /** For the whole call: finished responses are kept, the rest get a `DeadlineError`. Default none. */
  readonly deadline?: Duration.DurationInput | undefined
  /** Retries with exponential backoff, honouring `Retry-After`. Default none (one attempt). */
  readonly retry?: RetryOptions | number | undefined
  /** Pace the requests. Default none. */
  readonly rateLimit?: RateLimitOptions | undefined
  /** Bodies larger than this are not buffered; a `BodyTooLargeError` is folded. Default none. */
  readonly maxBodyBytes?: number | undefined
  /** Headers sent with every request; a request's own headers win. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Redirects followed per request; 0 returns the 3xx response as it is. Default 10. */
  readonly maxRedirects?: number | undefined
}

/**
 * @since 0.1.0
 * @category models
 */
export interface Clump<E = never> extends Pipeable {
  readonly [TypeId]: { readonly _E: (_: never) => E }
  readonly requests: ReadonlyArray<RequestMap.RequestMap>
  readonly options: Options
}

/**
 * A response and the position of its request in the input.
 *
 * @since 0.1.0
 * @category models
 */
export interface Indexed {
  readonly index: number
  readonly response: RequestResponse
}

/**
 * Options that make no sense (a concurrency of 0, a negative timeout).
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidOptionsError
  extends Schema.TaggedError<InvalidOptionsError>("@loamy/InvalidOptionsError")("InvalidOptionsError", {
    option: Schema.String,
    detail: Schema.String
  })
{
  override get message(): string {
    return `Invalid option ${this.option}: ${this.detail}`
  }
}

const Proto = {
  [TypeId]: { _E: (_: never) => _ },
  pipe() {
    return pipeArguments(this, arguments)
  }
}

/**
 * Makes a clump. Nothing is checked or sent yet: `send` and `stream` check
 * every request and option first and refuse bad input before sending any.
 *
 * With `returnExceptions: false` (or a boolean not known to be `true`), the
 * error type of `send` includes `RequestError`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: {
  (
    requests: Iterable<RequestMap.RequestMap>,
    options?: Options & { readonly returnExceptions?: true | undefined }
  ): Clump<never>
  (requests: Iterable<RequestMap.RequestMap>, options: Options): Clump<RequestError>
} = (requests: Iterable<RequestMap.RequestMap>, options: Options = {}): Clump<never> => {
  const self = Object.create(Proto)
  self.requests = Array.isArray(requests) ? requests : Array.from(requests)
  self.options = options
  return self
}

/**
 * @since 0.1.0
 * @category refinements
 */
export const isClump = (u: unknown): u is Clump<unknown> => Predicate.hasProperty(u, TypeId)

/**
 * Adds options to a clump (later values win).
 *
 * @since 0.1.0
 * @category combinators
 */
export const withOptions: {
  (options: Options): <E>(self: Clump<E>) => Clump<E | RequestError>
  <E>(self: Clump<E>, options: Options): Clump<E | RequestError>
} = dual(2, <E>(self: Clump<E>, options: Options): Clump<E | RequestError> =>
  make(self.requests, { ...self.options, ...options }))

const durationMs = (option: string, input: Duration.DurationInput | undefined, allowZero = false) => {
  if (input === undefined) return Either.right(undefined)
  const decoded = Duration.decodeUnknown(input)
  if (decoded._tag === "None") {
    return Either.left(new InvalidOptionsError({ option, detail: `${describe(input)} is not a duration` }))
  }
  const ms = Duration.toMillis(decoded.value)
  if (!(ms > 0 || (allowZero && ms === 0)) || Number.isNaN(ms)) {
    return Either.left(new InvalidOptionsError({ option, detail: `must be ${allowZero ? "0 or more" : "positive"}` }))
  }
  return Either.right(ms)
}

const optionNames: ReadonlyArray<keyof Options> = [
  "concurrency",
  "returnExceptions",
  "timeout",
  "deadline",
  "retry",
  "rateLimit",
  "maxBodyBytes",
  "headers",
  "maxRedirects"
]
const retryOptionNames: ReadonlyArray<keyof RetryOptions> = [
  "attempts",
  "baseDelay",
  "maxDelay",
  "maxRetryAfter",
  "statuses",
  "nonIdempotent"
]
const rateLimitOptionNames: ReadonlyArray<keyof RateLimitOptions> = ["limit", "interval", "perOrigin"]

const knownOnly = (value: object, names: ReadonlyArray<string>, prefix: string) => {
  for (const key of Object.keys(value)) {
    if (!names.includes(key)) {
      return Either.left(
        new InvalidOptionsError({ option: prefix + key, detail: `unknown option (expected one of ${names.join(", ")})` })
      )
    }
  }
  return Either.void
}

const positiveInt = (option: string, value: unknown, fallback: number, allowZero = false) => {
  if (value === undefined) return Either.right(fallback)
  if (typeof value !== "number" || !Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
    return Either.left(
      new InvalidOptionsError({
        option,
        detail: `must be a whole number of ${allowZero ? "0" : "1"} or more, got ${describe(value)}`
      })
    )
  }
  return Either.right(value)
}

/**
 * Checks the options and applies the defaults.
 *
 * @internal
 */
export const resolveOptions = (options: Options): Either.Either<engine.Resolved, InvalidOptionsError> =>
  Either.gen(function*() {
    // A misspelt option would otherwise be ignored without a word.
    yield* knownOnly(options, optionNames, "")
    if (typeof options.retry === "object" && options.retry !== null) {
      yield* knownOnly(options.retry, retryOptionNames, "retry.")
    }
    if (typeof options.rateLimit === "object" && options.rateLimit !== null) {
      yield* knownOnly(options.rateLimit, rateLimitOptionNames, "rateLimit.")
    }
    const concurrency = yield* positiveInt("concurrency", options.concurrency, 100)
    const timeoutMs = yield* durationMs("timeout", options.timeout)
    const deadlineMs = yield* durationMs("deadline", options.deadline)
    const maxRedirects = yield* positiveInt("maxRedirects", options.maxRedirects, 10, true)
    const maxBodyBytes = options.maxBodyBytes === undefined
      ? undefined
      : yield* positiveInt("maxBodyBytes", options.maxBodyBytes, 0, true)
    let retry: engine.ResolvedRetry | undefined
    if (options.retry !== undefined) {
      const r: RetryOptions = typeof options.retry === "number" ? { attempts: options.retry } : options.retry
      const attempts = yield* positiveInt("retry.attempts", r.attempts, 3)
      const statuses = r.statuses ?? [408, 429, 500, 502, 503, 504]
      for (const status of statuses) {
        if (!Number.isInteger(status) || status < 100 || status > 599) {
          return yield* Either.left(
            new InvalidOptionsError({ option: "retry.statuses", detail: `${describe(status)} is not an HTTP status` })
          )
        }
      }
      retry = {
        attempts,
        baseDelayMs: (yield* durationMs("retry.baseDelay", r.baseDelay, true)) ?? 100,
        maxDelayMs: (yield* durationMs("retry.maxDelay", r.maxDelay, true)) ?? 10_000,
        maxRetryAfterMs: (yield* durationMs("retry.maxRetryAfter", r.maxRetryAfter, true)) ?? 60_000,
        statuses: new Set(statuses),
        nonIdempotent: r.nonIdempotent === true
      }
      if (attempts === 1) retry = undefined
    }
    let rateLimit: engine.ResolvedRateLimit | undefined
    if (options.rateLimit !== undefined) {
      const limit = yield* positiveInt("rateLimit.limit", options.rateLimit.limit, 1)
      const intervalMs = yield* durationMs("rateLimit.interval", options.rateLimit.interval)
      if (intervalMs === undefined) {
        return yield* Either.left(new InvalidOptionsError({ option: "rateLimit.interval", detail: "is required" }))
      }
      rateLimit = { limit, intervalMs, perOrigin: options.rateLimit.perOrigin === true }
    }
    let headers: Record<string, string> | undefined
    if (options.headers !== undefined) {
      const checked = RequestMap.validateAt({ url: "http://localhost/", httpOp: "GET", headers: options.headers }, 0)
      if (Either.isLeft(checked)) {
        return yield* Either.left(
          new InvalidOptionsError({ option: checked.left.field, detail: checked.left.detail })
        )
      }
      headers = options.headers
    }
    return {
      concurrency,
      failFast: options.returnExceptions === false,
      timeoutMs,
      deadlineMs,
      retry,
      rateLimit,
      maxBodyBytes,
      headers,
      maxRedirects
    }
  })

const prepare = <E>(self: Clump<E>) =>
  Effect.flatMap(resolveOptions(self.options), (resolved) =>
    Effect.map(RequestMap.validateAll(self.requests), (requests) => ({ resolved, requests })))

/**
 * Sends every request and returns one `RequestResponse` per request, in input
 * order. Requests and options are checked first; bad input fails with an
 * `InvalidInputError` naming the index and field, and nothing is sent.
 *
 * Needs only an `HttpClient` in the environment, so it runs on any platform
 * layer (`FetchHttpClient.layer`, `NodeHttpClient.layerUndici`, loamy's own).
 *
 * @since 0.1.0
 * @category sending
 */
export const send = <E>(
  self: Clump<E>
): Effect.Effect<
  ReadonlyArray<RequestResponse>,
  E | InvalidInputError | InvalidOptionsError,
  HttpClient.HttpClient
> =>
  Effect.flatMap(prepare(self), ({ requests, resolved }) => {
    const results = new Array<RequestResponse>(requests.length)
    const pool = (sender: engine.Sender): Effect.Effect<void, E> => {
      // A fixed pool of `concurrency` fibers pulling the next index: one fiber
      // per request (Effect.forEach) costs more than the request bookkeeping.
      let next = 0
      const worker: Effect.Effect<void, E> = Effect.whileLoop({
        while: () => next < requests.length,
        body: () => {
          const index = next++
          return Effect.flatMap(sender(requests[index]!, index), (response) => {
            results[index] = response
            return resolved.failFast && response.error !== undefined
              ? Effect.fail(response.error as E)
              : Effect.void
          })
        },
        step: constVoid
      })
      const workers = Math.min(resolved.concurrency, requests.length)
      if (workers <= 1) return worker
      return Effect.all(Array.from({ length: workers }, () => worker), { concurrency: "unbounded", discard: true })
    }
    // Only a rate limiter needs a scope; a call without one skips opening and closing it.
    const run = resolved.rateLimit === undefined
      ? Effect.flatMap(engine.makeSenderIn(resolved, undefined), pool)
      : Effect.scoped(Effect.flatMap(engine.makeSender(resolved), pool))
    const sent = Effect.as(engine.manualRedirects(run), results as ReadonlyArray<RequestResponse>)
    return Effect.flatMap(engine.isTracing, (traced) =>
      traced
        ? Effect.withSpan(sent, "loamy.send", {
          captureStackTrace: false,
          attributes: { "loamy.requests": requests.length, "loamy.concurrency": resolved.concurrency }
        })
        : sent)
  })

/**
 * Sends every request and emits each response with its index as soon as it
 * finishes (completion order). At most `concurrency` requests are held at
 * once, so memory is bounded by the concurrency.
 *
 * @since 0.1.0
 * @category sending
 */
export const stream = <E>(
  self: Clump<E>
): Stream.Stream<Indexed, E | InvalidInputError | InvalidOptionsError, HttpClient.HttpClient> =>
  Stream.unwrap(Effect.map(prepare(self), ({ requests, resolved }) =>
    sendStream(Stream.fromIterable(requests), resolved, false)))

/** The response of a streamed request that failed its check and was not sent. */
const invalidResponse = (input: unknown, error: InvalidInputError) => {
  const record = (typeof input === "object" && input !== null ? input : {}) as Record<string, unknown>
  const method = typeof record["httpOp"] === "string" ? record["httpOp"] : String(record["http_op"] ?? "?")
  const url = typeof record["url"] === "string" ? record["url"] : "?"
  return {
    requestMap: input as RequestMap.RequestMap,
    statusCode: 0,
    body: null,
    headers: {},
    error: new InvalidRequestError({ method, url, detail: error.field === "" ? error.detail : `${error.field} ${error.detail}` }),
    elapsedMs: 0,
    attempts: 0
  } satisfies RequestResponse
}

const sendStream = <E, R>(
  requests: Stream.Stream<RequestMap.RequestMap, E, R>,
  resolved: engine.Resolved,
  check: boolean
): Stream.Stream<Indexed, any, R | HttpClient.HttpClient> =>
  Stream.unwrapScoped(Effect.map(engine.makeSender(resolved), (sender) => {
    let next = 0
    return Stream.mapEffect(
      requests,
      (input) => {
        const index = next++
        let request = input
        if (check) {
          const checked = RequestMap.validateAt(input, index)
          if (Either.isLeft(checked)) {
            const response = invalidResponse(input, checked.left)
            return resolved.failFast ? Effect.fail(response.error) : Effect.succeed<Indexed>({ index, response })
          }
          request = checked.right
        }
        return Effect.flatMap(engine.manualRedirects(sender(request, index)), (response) =>
          resolved.failFast && response.error !== undefined
            ? Effect.fail(response.error)
            : Effect.succeed<Indexed>({ index, response }))
      },
      { concurrency: resolved.concurrency, unordered: true }
    )
  }))

/**
 * Sends the requests of any stream (a file read line by line, a queue), any
 * number of them, with memory bounded by the concurrency. Each request is
 * checked as it arrives; one that is not valid is not sent and gets a
 * response with an `InvalidRequestError` naming the field, so every input
 * still has exactly one response.
 *
 * @since 0.1.0
 * @category sending
 */
export const streamFrom: {
  (options?: Options & { readonly returnExceptions?: true | undefined }): <E, R>(
    requests: Stream.Stream<RequestMap.RequestMap, E, R>
  ) => Stream.Stream<Indexed, E | InvalidOptionsError, R | HttpClient.HttpClient>
  (options: Options): <E, R>(
    requests: Stream.Stream<RequestMap.RequestMap, E, R>
  ) => Stream.Stream<Indexed, E | InvalidOptionsError | RequestError, R | HttpClient.HttpClient>
  <E, R>(
    requests: Stream.Stream<RequestMap.RequestMap, E, R>,
    options?: Options & { readonly returnExceptions?: true | undefined }
  ): Stream.Stream<Indexed, E | InvalidOptionsError, R | HttpClient.HttpClient>
  <E, R>(
    requests: Stream.Stream<RequestMap.RequestMap, E, R>,
    options: Options
  ): Stream.Stream<Indexed, E | InvalidOptionsError | RequestError, R | HttpClient.HttpClient>
} = dual(
  (args) => Predicate.hasProperty(args[0], Stream.StreamTypeId),
  <E, R>(requests: Stream.Stream<RequestMap.RequestMap, E, R>, options: Options = {}) =>
    Either.match(resolveOptions(options), {
      onLeft: (error) => Stream.fail(error),
      onRight: (resolved) => sendStream(requests, resolved, true)
    })
)

/**
 * The engine under `send` and `stream`, for callers that schedule requests
 * themselves (the CLI does): a function that sends one request that has
 * already been checked (see `RequestMap.validateAt`) and never fails. Rate
 * limits, origin pauses and the deadline are shared by every request sent
 * through one sender, for the life of the scope.
 *
 * @since 0.1.0
 * @category sending
 */
export const sender = (
  options: Options = {}
): Effect.Effect<
  (request: RequestMap.RequestMap, index: number) => Effect.Effect<RequestResponse>,
  InvalidOptionsError,
  HttpClient.HttpClient | Scope.Scope
> =>
  Effect.flatMap(
    resolveOptions(options),
    (resolved) =>
      Effect.map(engine.makeSender(resolved), (send) => (request, index) => engine.manualRedirects(send(request, index)))
  )
