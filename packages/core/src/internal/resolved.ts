/**
 * Options after decoding: the `Resolved` value the engine runs on, the
 * defaults, the way back to `Options`, and the Schema of the resolved
 * value for the wire (the cluster). Exported by the `Options` module.
 *
 * (Not `@internal`: `Options` re-exports what it declares.)
 */
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import * as SchemaTransformation from "effect/SchemaTransformation"
import type { Options, OptionsSchema } from "../Options.js"
import type { CookieJar } from "./cookies.js"
import { formatStatuses, type StatusRanges } from "./failOn.js"

export const ResolvedTypeId: unique symbol = Symbol.for("@loamy/core/Options/Resolved")

export interface ResolvedRetry {
  readonly attempts: number
  readonly baseDelayMs: number
  readonly maxDelayMs: number
  readonly maxRetryAfterMs: number
  readonly statuses: ReadonlyArray<number>
  readonly nonIdempotent: boolean
}

export interface ResolvedRateLimit {
  readonly limit: number
  readonly intervalMs: number
  readonly perOrigin: boolean
}

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
  /** Normalized (`URL.href`); relative request URLs were joined to it when they were checked. */
  readonly baseUrl: string | undefined
  /** Statuses that count as failures, as inclusive ranges. Undefined: none. */
  readonly failOn: StatusRanges | undefined
  /** Offer HTTP/2 (see `Options.http2`). */
  readonly http2: boolean
  /** PEM text of the only certificate authorities to trust; undefined: Node's. */
  readonly ca: string | undefined
  /** `false`: no jar; `true`: a jar of the call's own, made when it starts; or the caller's jar (not plain data). */
  readonly cookies: boolean | CookieJar
  /** Where bodies go as files (`saveDir`); undefined: in memory, unless a request has `options.saveTo`. */
  readonly saveDir: string | undefined
  /** The file name template under `saveDir`. */
  readonly saveName: string
}

export const defaults = {
  concurrency: 100,
  maxRedirects: 10,
  timeoutMs: 300_000,
  maxBodyBytes: 64 * 1024 * 1024,
  bodyBudget: 64 * 1024 * 1024,
  reorderBuffer: 1000,
  saveName: "{index}",
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

export const isResolved = (u: unknown): u is Resolved => Predicate.hasProperty(u, ResolvedTypeId)

export const unsafeMarkResolved = (resolved: Omit<Resolved, typeof ResolvedTypeId>): Resolved =>
  ({ ...resolved, [ResolvedTypeId]: true })

/**
 * The own fields of a decoded struct, in an object without a prototype: the
 * decoder leaves an absent option out, and reading it would otherwise find
 * whatever a polluted `Object.prototype` holds under that name (`headers`).
 */
const ownFields = <A extends object>(decoded: A): A => Object.assign(Object.create(null), decoded)

/** The longest a timer waits; a longer bound (`Infinity` included) is no bound. */
const maxTimerMs = 2 ** 31 - 1

const bounded = (ms: number | undefined) => (ms === undefined || ms > maxTimerMs ? undefined : ms)

/** Decoded retry settings with the defaults applied; undefined for one attempt. Per call and per request. */
export const resolveRetry = (decoded: NonNullable<typeof OptionsSchema.Type["retry"]>): ResolvedRetry | undefined => {
  const r = ownFields(decoded)
  const attempts = r.attempts ?? defaults.retry.attempts
  return attempts === 1 ? undefined : {
    attempts,
    baseDelayMs: r.baseDelay ?? defaults.retry.baseDelayMs,
    maxDelayMs: r.maxDelay ?? defaults.retry.maxDelayMs,
    maxRetryAfterMs: r.maxRetryAfter ?? defaults.retry.maxRetryAfterMs,
    statuses: r.statuses ?? defaults.retry.statuses,
    nonIdempotent: r.nonIdempotent === true
  }
}

/** A timeout as the engine reads it: undefined for none (`Infinity`, or more than a timer can wait). */
export const boundedMs = (ms: number | undefined): number | undefined => bounded(ms)

/** Decoded options with the defaults applied. */
export const resolve = (decoded: typeof OptionsSchema.Type): Resolved => {
  const o = ownFields(decoded)
  const retry = o.retry === undefined ? undefined : resolveRetry(o.retry)
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
    exactNumbers: o.exactNumbers === true,
    baseUrl: o.baseUrl,
    failOn: o.failOn,
    http2: o.http2 === true,
    ca: o.ca,
    cookies: o.cookies ?? false,
    saveDir: o.saveDir,
    saveName: o.saveName ?? defaults.saveName
  }
}

export const empty: Resolved = resolve({})

export const toOptions = (resolved: Resolved): Options => {
  const out: { -readonly [K in keyof Options]: Options[K] } = {
    concurrency: resolved.concurrency,
    returnExceptions: !resolved.failFast,
    maxRedirects: resolved.maxRedirects
  }
  if (resolved.concurrencyPerOrigin !== undefined) out.concurrencyPerOrigin = resolved.concurrencyPerOrigin
  out.timeout = resolved.timeoutMs ?? Infinity
  if (resolved.deadlineMs !== undefined) out.deadline = resolved.deadlineMs
  out.maxBodyBytes = resolved.maxBodyBytes
  out.bodyBudget = resolved.bodyBudget
  out.reorderBuffer = resolved.reorderBuffer
  out.sensitiveHeaders = resolved.sensitiveHeaders
  if (resolved.headers !== undefined) out.headers = resolved.headers
  if (resolved.proxy !== undefined) out.proxy = resolved.proxy
  if (resolved.exactNumbers) out.exactNumbers = true
  if (resolved.baseUrl !== undefined) out.baseUrl = resolved.baseUrl
  if (resolved.failOn !== undefined) out.failOn = formatStatuses(resolved.failOn)
  if (resolved.http2) out.http2 = true
  if (resolved.ca !== undefined) out.ca = resolved.ca
  if (resolved.cookies !== false) out.cookies = resolved.cookies
  if (resolved.saveDir !== undefined) out.saveDir = resolved.saveDir
  if (resolved.saveName !== defaults.saveName) out.saveName = resolved.saveName
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

const ResolvedFields = Schema.Struct({
  concurrency: Schema.Number,
  concurrencyPerOrigin: Schema.UndefinedOr(Schema.Number),
  failFast: Schema.Boolean,
  timeoutMs: Schema.UndefinedOr(Schema.Number),
  deadlineMs: Schema.UndefinedOr(Schema.Number),
  retry: Schema.UndefinedOr(Schema.Struct({
    attempts: Schema.Number,
    baseDelayMs: Schema.Number,
    maxDelayMs: Schema.Number,
    maxRetryAfterMs: Schema.Number,
    statuses: Schema.Array(Schema.Number),
    nonIdempotent: Schema.Boolean
  })),
  rateLimit: Schema.UndefinedOr(Schema.Struct({
    limit: Schema.Number,
    intervalMs: Schema.Number,
    perOrigin: Schema.Boolean
  })),
  maxBodyBytes: Schema.Number,
  bodyBudget: Schema.Number,
  reorderBuffer: Schema.Number,
  headers: Schema.UndefinedOr(Schema.Record(Schema.String, Schema.String)),
  maxRedirects: Schema.Number,
  sensitiveHeaders: Schema.Array(Schema.String),
  proxy: Schema.UndefinedOr(Schema.String),
  exactNumbers: Schema.Boolean,
  baseUrl: Schema.UndefinedOr(Schema.String),
  failOn: Schema.UndefinedOr(Schema.Array(Schema.Tuple([Schema.Number, Schema.Number]))),
  http2: Schema.Boolean,
  ca: Schema.UndefinedOr(Schema.String),
  cookies: Schema.Boolean,
  saveDir: Schema.UndefinedOr(Schema.String),
  saveName: Schema.String
})

export const ResolvedSchema: Schema.Codec<Resolved, typeof ResolvedFields.Encoded> = ResolvedFields.pipe(
  Schema.decodeTo(
    Schema.declare(isResolved, { identifier: "Resolved" }),
    SchemaTransformation.transform({
      decode: (fields) => unsafeMarkResolved(fields),
      // A caller's jar lives on the caller's side: it crosses as `true`, a jar of the receiver's own.
      encode: (resolved) => ({ ...resolved, cookies: resolved.cookies !== false })
    })
  )
).annotate({ identifier: "ResolvedOptions" })
