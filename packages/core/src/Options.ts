/**
 * The options of a call, with the same names at every door (Effect, Promise,
 * sync, CLI), written once as a Schema: `Options` is what callers write,
 * `Resolved` what the engine runs on (defaults applied, durations in
 * milliseconds). A call decodes its options once and passes the `Resolved`
 * value on; decoding a `Resolved` value again returns it as it is.
 *
 * @since 0.2.0
 */
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import { describe, headerNameProblem, headerValueProblem } from "./internal/validate.js"
import { InvalidOptionsError } from "./LoamyError.js"

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
 * At most `limit` requests start in any span of `interval` (a sliding
 * window, not fixed ones: attempts and retries count).
 *
 * @since 0.1.0
 * @category models
 */
export interface RateLimitOptions {
  readonly limit: number
  readonly interval: Duration.DurationInput
  /** One limit per origin instead of one for the whole call. Default false. */
  readonly perOrigin?: boolean | undefined
}

/**
 * Options, with the same names at every door. Durations are milliseconds or
 * any Effect duration ("5 seconds", `Duration.seconds(5)`).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Requests in flight at once. Default 100. */
  readonly concurrency?: number | undefined
  /**
   * Requests in flight at once to one origin (scheme, host and port), within
   * `concurrency`: a politeness bound for crawls over many hosts. The pool
   * keeps working on other origins while one is at its bound. Default none.
   */
  readonly concurrencyPerOrigin?: number | undefined
  /**
   * `true` (default): every failure is folded into its response. `false`:
   * the first failure fails the whole call and interrupts the rest.
   */
  readonly returnExceptions?: boolean | undefined
  /**
   * Per attempt, connect to last body byte; queueing time is not counted.
   * Default 5 minutes (aiohttp's); `Infinity` for none.
   */
  readonly timeout?: Duration.DurationInput | undefined
  /** For the whole call: finished responses are kept, the rest get a `DeadlineError`. Default none. */
  readonly deadline?: Duration.DurationInput | undefined
  /** Retries with exponential backoff, honouring `Retry-After`. Default none (one attempt). */
  readonly retry?: RetryOptions | number | undefined
  /**
   * Pace the requests: at most `limit` start in any span of `interval`
   * (sliding, so a burst at the end of one second and another at the start
   * of the next cannot add up). Default none.
   */
  readonly rateLimit?: RateLimitOptions | undefined
  /**
   * Bodies larger than this (after decompression) are not read; a
   * `BodyTooLargeError` is folded and the connection closed. Default 64 MiB.
   */
  readonly maxBodyBytes?: number | undefined
  /**
   * Bytes of response bodies held at once for the whole call while they are
   * read (after decompression). A read that would pass it waits (its
   * connection is not read meanwhile) until others finish; it never fails
   * for it. One read at a time may go past it, so the call always moves on:
   * at most `bodyBudget + maxBodyBytes` are held. Each wait is part of its
   * attempt, so the `timeout` bounds it. With loamy's undici client the
   * decoders' windows count too (brotli's is up to 16 MiB); bodies of 64 KiB
   * or less that it reads with the headers do not. Default 64 MiB.
   */
  readonly bodyBudget?: number | undefined
  /**
   * Ordered output only (`ordered: true` of `stream` and `streamFrom`, the
   * CLI's `--ordered`): finished responses held while an earlier one is
   * still on its way, so a slow origin does not stall the others. When it is
   * full, a worker waits with its response until its turn. Default 1,000.
   */
  readonly reorderBuffer?: number | undefined
  /** Headers sent with every request; a request's own headers win. */
  readonly headers?: Readonly<Record<string, string>> | undefined
  /** Redirects followed per request; 0 returns the 3xx response as it is. Default 10. */
  readonly maxRedirects?: number | undefined
  /**
   * More header names whose values are secrets, besides `defaults.sensitiveHeaders`:
   * they are not forwarded when a redirect leaves the origin, and the CLI
   * never prints their values.
   */
  readonly sensitiveHeaders?: ReadonlyArray<string> | undefined
  /**
   * Send through a proxy: an http(s) URL (`"http://user:pass@proxy:3128"`),
   * or `"env"` for the `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` variables
   * (either case). Needs a client that can route through one (loamy's
   * `UndiciHttpClient`); any other fails the call with an `InvalidOptionsError`.
   * The URL's credentials are never shown in messages. Default none.
   */
  readonly proxy?: string | undefined
  /**
   * Keep every number of a JSON response body exact: a number a JS number
   * would change (an integer past 2^53 such as `12345678901234567890`, more
   * digits than a double holds, an exponent out of range) becomes a
   * `JSON.rawJSON` value, which `JSON.stringify` writes back digit for digit.
   * Other numbers stay numbers, and a body that cannot hold such a number
   * is parsed as fast as without the option. Default false: plain JS
   * numbers, as `JSON.parse` gives them. The CLI always turns it on.
   */
  readonly exactNumbers?: boolean | undefined
}

/**
 * @since 0.2.0
 * @category type ids
 */
export const ResolvedTypeId: unique symbol = Symbol.for("@loamy/core/Options/Resolved")

/**
 * Retry settings after defaults, in milliseconds.
 *
 * @since 0.2.0
 * @category models
 */
export interface ResolvedRetry {
  readonly attempts: number
  readonly baseDelayMs: number
  readonly maxDelayMs: number
  readonly maxRetryAfterMs: number
  readonly statuses: ReadonlyArray<number>
  readonly nonIdempotent: boolean
}

/**
 * Rate limit after checks, in milliseconds.
 *
 * @since 0.2.0
 * @category models
 */
export interface ResolvedRateLimit {
  readonly limit: number
  readonly intervalMs: number
  readonly perOrigin: boolean
}

/**
 * Options after defaults and checks: what the engine runs on. Plain data, so
 * it crosses a thread boundary by structured clone.
 *
 * @since 0.2.0
 * @category models
 */
export interface Resolved {
  readonly [ResolvedTypeId]?: true
  readonly concurrency: number
  /** Undefined: no bound per origin but `concurrency`. */
  readonly concurrencyPerOrigin: number | undefined
  readonly failFast: boolean
  /** Undefined: no bound (`Infinity`, or more than a timer can wait). */
  readonly timeoutMs: number | undefined
  readonly deadlineMs: number | undefined
  /** Undefined when there is one attempt only. */
  readonly retry: ResolvedRetry | undefined
  readonly rateLimit: ResolvedRateLimit | undefined
  readonly maxBodyBytes: number
  readonly bodyBudget: number
  /** Responses an ordered run holds besides the ones in flight. */
  readonly reorderBuffer: number
  readonly headers: Readonly<Record<string, string>> | undefined
  readonly maxRedirects: number
  /** Lower-cased: the defaults and the caller's own. */
  readonly sensitiveHeaders: ReadonlyArray<string>
  /** `"env"` or an http(s) URL (credentials included: not for display). Undefined: no proxy. */
  readonly proxy: string | undefined
  readonly exactNumbers: boolean
}

/**
 * The defaults, in one place.
 *
 * @since 0.2.0
 * @category defaults
 */
export const defaults = {
  concurrency: 100,
  maxRedirects: 10,
  timeoutMs: 300_000,
  maxBodyBytes: 64 * 1024 * 1024,
  bodyBudget: 64 * 1024 * 1024,
  reorderBuffer: 1000,
  sensitiveHeaders: [
    "authorization",
    "cookie",
    "proxy-authorization",
    "x-api-key",
    "x-auth-token"
  ] as ReadonlyArray<string>,
  retry: {
    attempts: 3,
    baseDelayMs: 100,
    maxDelayMs: 10_000,
    maxRetryAfterMs: 60_000,
    statuses: [408, 429, 500, 502, 503, 504] as ReadonlyArray<number>
  }
} as const

const withMessage = <S extends Schema.Schema.AnyNoContext>(schema: S, message: (actual: unknown) => string): S =>
  schema.annotations({ message: (issue) => ({ message: message(issue.actual), override: true }) }) as S

const whole = (min: number) =>
  withMessage(
    Schema.Number.pipe(Schema.filter((n) => Number.isInteger(n) && n >= min)),
    (actual) => `must be a whole number of ${min} or more, got ${describe(actual)}`
  )

/** A duration as milliseconds: a number of ms, a `Duration`, or an Effect duration string. */
const millis = (allowZero: boolean) =>
  Schema.transformOrFail(Schema.Unknown, Schema.Number, {
    strict: true,
    decode: (input, _, ast) => {
      const decoded = Duration.decodeUnknown(input)
      if (decoded._tag === "None" || typeof input === "boolean") {
        return ParseResult.fail(new ParseResult.Type(ast, input, `${describe(input)} is not a duration`))
      }
      const ms = Duration.toMillis(decoded.value)
      return ms > 0 || (allowZero && ms === 0)
        ? ParseResult.succeed(ms)
        : ParseResult.fail(new ParseResult.Type(ast, input, `must be ${allowZero ? "0 or more" : "positive"}`))
    },
    encode: ParseResult.succeed
  })

const bool = withMessage(Schema.Boolean, (actual) => `must be true or false, got ${describe(actual)}`)

const status = withMessage(
  Schema.Number.pipe(Schema.filter((n) => Number.isInteger(n) && n >= 100 && n <= 599)),
  (actual) => `${describe(actual)} is not an HTTP status`
)

const RetryFields = Schema.Struct({
  attempts: Schema.optional(whole(1)),
  baseDelay: Schema.optional(millis(true)),
  maxDelay: Schema.optional(millis(true)),
  maxRetryAfter: Schema.optional(millis(true)),
  statuses: Schema.optional(Schema.Array(status)),
  nonIdempotent: Schema.optional(bool)
})

const Retry = Schema.transformOrFail(Schema.Unknown, Schema.typeSchema(RetryFields), {
  strict: true,
  decode: (input, options, ast) => {
    if (typeof input === "number") return ParseResult.decodeUnknown(RetryFields)({ attempts: input }, options)
    if (Predicate.isRecord(input)) return ParseResult.decodeUnknown(RetryFields)(input, options)
    return ParseResult.fail(
      new ParseResult.Type(ast, input, `must be a number of attempts or an object, got ${describe(input)}`)
    )
  },
  encode: ParseResult.succeed
})

const RateLimitFields = Schema.Struct({
  limit: whole(1),
  interval: millis(false),
  perOrigin: Schema.optional(bool)
})

const RateLimit = Schema.transformOrFail(Schema.Unknown, Schema.typeSchema(RateLimitFields), {
  strict: true,
  decode: (input, options, ast) =>
    Predicate.isRecord(input)
      ? ParseResult.decodeUnknown(RateLimitFields)(input, options)
      : ParseResult.fail(
        new ParseResult.Type(ast, input, `must be an object { limit, interval }, got ${describe(input)}`)
      ),
  encode: ParseResult.succeed
})

/** A proxy value as messages may show it: nothing up to its last `@` (`user:pass@`, a password with `/` or `@` in it). */
const withoutCredentials = (value: string): string => value.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[\s\S]*@/i, "$1")

const Proxy = withMessage(
  Schema.String.pipe(Schema.filter((value) => {
    if (value === "env") return true
    try {
      const url = new URL(value)
      return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== ""
    } catch {
      return false
    }
  })),
  (actual) =>
    `must be "env" or an http(s) URL such as http://proxy:3128, got ${
      typeof actual === "string" ? describe(withoutCredentials(actual)) : describe(actual)
    }`
)

const Headers = Schema.Record({
  key: Schema.String,
  value: Schema.String.pipe(Schema.filter((value) => headerValueProblem(value) ?? true))
}).pipe(
  Schema.filter((headers) => {
    for (const name of Object.keys(headers)) {
      const problem = headerNameProblem(name)
      if (problem !== undefined) return { path: [name], message: problem }
    }
    return true
  })
)

/**
 * The options as a Schema: decodes what a caller wrote (unknown names
 * refused) into the fields the engine reads. `decode` below turns it into a
 * `Resolved` value.
 *
 * @since 0.2.0
 * @category schemas
 */
export const OptionsSchema = Schema.Struct({
  concurrency: Schema.optional(whole(1)),
  concurrencyPerOrigin: Schema.optional(whole(1)),
  returnExceptions: Schema.optional(bool),
  timeout: Schema.optional(millis(false)),
  deadline: Schema.optional(millis(false)),
  retry: Schema.optional(Retry),
  rateLimit: Schema.optional(RateLimit),
  maxBodyBytes: Schema.optional(whole(0)),
  bodyBudget: Schema.optional(whole(1)),
  reorderBuffer: Schema.optional(whole(0)),
  headers: Schema.optional(Headers),
  maxRedirects: Schema.optional(whole(0)),
  sensitiveHeaders: Schema.optional(Schema.Array(
    withMessage(
      Schema.String.pipe(Schema.filter((name) => headerNameProblem(name) === undefined)),
      (actual) => `${describe(actual)} is not a header name`
    )
  )),
  proxy: Schema.optional(Proxy),
  exactNumbers: Schema.optional(bool)
}).annotations({ identifier: "Options" })

const decodeFields = ParseResult.decodeUnknownEither(OptionsSchema, { onExcessProperty: "error", errors: "first" })

const optionNames = Object.keys(OptionsSchema.fields).join(", ")
const retryNames = Object.keys(RetryFields.fields).join(", ")
const rateLimitNames = "limit, interval, perOrigin"

const toOptionsError = (issue: ParseResult.ParseIssue): InvalidOptionsError => {
  const first = ParseResult.ArrayFormatter.formatIssueSync(issue)[0]
  // An element of a list is named by the list (`retry.statuses`), the message says which.
  const path = (first?.path ?? []).filter((key) => typeof key === "string")
  const option = path.join(".")
  if (first?._tag === "Unexpected") {
    const names = path.length === 1 ? optionNames : path[0] === "retry" ? retryNames : rateLimitNames
    // The original's snake_case spelling (`return_exceptions`) is refused at every door, with the name to use.
    const camel = String(path[path.length - 1]).replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())
    const hint = camel !== path[path.length - 1] && names.split(", ").includes(camel)
      ? `; options are camelCase: did you mean ${camel}?`
      : ""
    return new InvalidOptionsError({ option, detail: `unknown option${hint} (expected one of ${names})` })
  }
  if (first?._tag === "Missing") return new InvalidOptionsError({ option, detail: "is required" })
  return new InvalidOptionsError({ option: option === "" ? "options" : option, detail: first?.message ?? "is not valid" })
}

/**
 * @since 0.2.0
 * @category refinements
 */
export const isResolved = (u: unknown): u is Resolved => Predicate.hasProperty(u, ResolvedTypeId)

/**
 * Marks plain data that was decoded on another thread (and cloned) as
 * resolved again, without checking it a second time.
 *
 * @since 0.2.0
 * @category unsafe
 */
export const unsafeMarkResolved = (resolved: Omit<Resolved, typeof ResolvedTypeId>): Resolved =>
  ({ ...resolved, [ResolvedTypeId]: true }) as Resolved

/**
 * Checks options and applies the defaults. Unknown names are refused (a
 * misspelt option would otherwise be ignored without a word); errors name
 * the option as a path (`retry.attempts`, `headers.X-Token`).
 *
 * @since 0.2.0
 * @category decoding
 */
export const decode = (input: unknown): Either.Either<Resolved, InvalidOptionsError> => {
  if (input === undefined) return Either.right(empty)
  if (isResolved(input)) return Either.right(input)
  // No options at all is the common case of small calls: skip the decoder.
  if (Predicate.isRecord(input) && isEmpty(input)) return Either.right(empty)
  if (!Predicate.isRecord(input)) {
    return Either.left(new InvalidOptionsError({ option: "options", detail: `must be an object, got ${describe(input)}` }))
  }
  const decoded = decodeFields(input)
  if (Either.isLeft(decoded)) return Either.left(toOptionsError(decoded.left))
  return Either.right(resolve(ownFields(decoded.right)))
}

/**
 * The own fields of a decoded struct, in an object without a prototype: the
 * decoder leaves an absent option out, and reading it would otherwise find
 * whatever a polluted `Object.prototype` holds under that name (`headers`).
 */
const ownFields = <A extends object>(decoded: A): A => Object.assign(Object.create(null), decoded)

const resolve = (o: typeof OptionsSchema.Type): Resolved => {
  let retry: ResolvedRetry | undefined
  if (o.retry !== undefined) {
    const r = ownFields(o.retry)
    const attempts = r.attempts ?? defaults.retry.attempts
    retry = attempts === 1 ? undefined : {
      attempts,
      baseDelayMs: r.baseDelay ?? defaults.retry.baseDelayMs,
      maxDelayMs: r.maxDelay ?? defaults.retry.maxDelayMs,
      maxRetryAfterMs: r.maxRetryAfter ?? defaults.retry.maxRetryAfterMs,
      statuses: r.statuses ?? defaults.retry.statuses,
      nonIdempotent: r.nonIdempotent === true
    }
  }
  const concurrency = o.concurrency ?? defaults.concurrency
  return {
    [ResolvedTypeId]: true,
    concurrency,
    // A bound at or above the concurrency bounds nothing: the run takes the path without per-origin bookkeeping.
    concurrencyPerOrigin: o.concurrencyPerOrigin !== undefined && o.concurrencyPerOrigin < concurrency
      ? o.concurrencyPerOrigin
      : undefined,
    failFast: o.returnExceptions === false,
    timeoutMs: bounded(o.timeout ?? defaults.timeoutMs),
    deadlineMs: bounded(o.deadline),
    retry,
    rateLimit: o.rateLimit === undefined
      ? undefined
      : {
        limit: o.rateLimit.limit,
        intervalMs: o.rateLimit.interval,
        perOrigin: Object.hasOwn(o.rateLimit, "perOrigin") && o.rateLimit.perOrigin === true
      },
    maxBodyBytes: o.maxBodyBytes ?? defaults.maxBodyBytes,
    bodyBudget: o.bodyBudget ?? defaults.bodyBudget,
    reorderBuffer: o.reorderBuffer ?? defaults.reorderBuffer,
    headers: o.headers,
    maxRedirects: o.maxRedirects ?? defaults.maxRedirects,
    sensitiveHeaders: o.sensitiveHeaders === undefined
      ? defaults.sensitiveHeaders
      : [...new Set([...defaults.sensitiveHeaders, ...o.sensitiveHeaders.map((name) => name.toLowerCase())])],
    proxy: o.proxy,
    exactNumbers: o.exactNumbers === true
  }
}

/** The longest a timer waits; a longer bound (`Infinity` included) is no bound. */
const maxTimerMs = 2 ** 31 - 1

const bounded = (ms: number | undefined) => (ms === undefined || ms > maxTimerMs ? undefined : ms)

const empty: Resolved = resolve({})

const isEmpty = (record: Record<string, unknown>): boolean => {
  // Own names only: a polluted `Object.prototype` adds enumerable names that are no option.
  for (const name in record) if (Object.hasOwn(record, name)) return false
  return Object.getOwnPropertySymbols(record).length === 0
}

/**
 * Back from `Resolved` to `Options` (durations in milliseconds), to add
 * options to an already decoded set.
 *
 * @since 0.2.0
 * @category encoding
 */
export const toOptions = (resolved: Resolved): Options => {
  const out: { -readonly [K in keyof Options]: Options[K] } = {
    concurrency: resolved.concurrency,
    returnExceptions: !resolved.failFast,
    ...(resolved.concurrencyPerOrigin === undefined ? {} : { concurrencyPerOrigin: resolved.concurrencyPerOrigin }),
    maxRedirects: resolved.maxRedirects
  }
  out.timeout = resolved.timeoutMs ?? Infinity
  if (resolved.deadlineMs !== undefined) out.deadline = resolved.deadlineMs
  out.maxBodyBytes = resolved.maxBodyBytes
  out.bodyBudget = resolved.bodyBudget
  out.reorderBuffer = resolved.reorderBuffer
  out.sensitiveHeaders = resolved.sensitiveHeaders
  if (resolved.headers !== undefined) out.headers = resolved.headers
  if (resolved.proxy !== undefined) out.proxy = resolved.proxy
  if (resolved.exactNumbers) out.exactNumbers = true
  if (resolved.rateLimit !== undefined) {
    const { intervalMs, limit, perOrigin } = resolved.rateLimit
    out.rateLimit = { limit, interval: intervalMs, perOrigin }
  }
  if (resolved.retry !== undefined) {
    const r = resolved.retry
    out.retry = {
      attempts: r.attempts,
      baseDelay: r.baseDelayMs,
      maxDelay: r.maxDelayMs,
      maxRetryAfter: r.maxRetryAfterMs,
      statuses: r.statuses,
      nonIdempotent: r.nonIdempotent
    }
  }
  return out
}
