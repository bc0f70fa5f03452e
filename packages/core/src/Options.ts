/**
 * The options of a call, with the same names at every door (Effect, Promise,
 * sync, CLI, cluster), declared once: `OptionsSchema` holds each option's
 * schema and, next to it, what the CLI, the READMEs and the cluster need to
 * know about it (`descriptors`). `Options` is what callers write, `Resolved`
 * what the engine runs on (defaults applied, durations in milliseconds). A
 * call decodes its options once and passes the `Resolved` value on; decoding
 * a `Resolved` value again returns it as it is.
 *
 * @since 0.2.0
 */
import * as Duration from "effect/Duration"
import * as Predicate from "effect/Predicate"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaParser from "effect/SchemaParser"
import type * as cookies from "./internal/cookies.js"
import * as durations from "./internal/durations.js"
import type * as descriptor from "./internal/descriptor.js"
import { optionsError } from "./internal/optionFields.js"
import * as optionsSchema from "./internal/optionsSchema.js"
import * as resolved from "./internal/resolved.js"
import { type Resolved, ResolvedTypeId } from "./internal/resolved.js"
import { describe } from "./internal/validate.js"
import { InvalidOptionsError } from "./LoamyError.js"

/**
 * A duration as options take it: milliseconds, text in the duration grammar
 * (`"5s"`, `"250ms"`, `"1.5m"`, `"5 seconds"`, `"Infinity"`), a `Duration`,
 * a bigint of nanoseconds or `[seconds, nanos]`.
 *
 * @since 1.0.0
 * @category models
 */
export type DurationInput = Duration.Duration | number | bigint | readonly [seconds: number, nanos: number] | string

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
  readonly baseDelay?: DurationInput | undefined
  /** The largest backoff ceiling. Default 10 seconds. */
  readonly maxDelay?: DurationInput | undefined
  /** A `Retry-After` longer than this is not waited for; the response is kept. Default 60 seconds. */
  readonly maxRetryAfter?: DurationInput | undefined
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
 * window, not fixed ones: attempts and retries count). The text
 * `"N/INTERVAL"` (`"10/1s"`, `"5/s"`) says the same (see `parseRate`).
 *
 * @since 0.1.0
 * @category models
 */
export interface RateLimitOptions {
  readonly limit: number
  readonly interval: DurationInput
  /** One limit per origin instead of one for the whole call. Default false. */
  readonly perOrigin?: boolean | undefined
}

/**
 * Options, with the same names at every door. Durations are milliseconds,
 * text in the one duration grammar (`"5s"`, `"250ms"`, `"2m"`, `"5 seconds"`,
 * see `parseDuration`) or a `Duration`. Each is declared once, in
 * `OptionsSchema`, with its `descriptors` entry.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Requests in flight at once. Default 100. */
  readonly concurrency?: number | undefined
  /** Requests in flight at once to one origin (scheme, host, port), within `concurrency`. Default none. */
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
  readonly timeout?: DurationInput | undefined
  /** For the whole call: finished responses are kept, the rest get a `DeadlineError`. Default none. */
  readonly deadline?: DurationInput | undefined
  /** Retries with exponential backoff, honouring `Retry-After`. Default none (one attempt). */
  readonly retry?: RetryOptions | number | undefined
  /** At most `limit` requests start in any span of `interval` (sliding), or `"N/INTERVAL"`. Default none. */
  readonly rateLimit?: RateLimitOptions | string | undefined
  /**
   * Bodies larger than this (after decompression) are not read; a
   * `BodyTooLargeError` is folded and the connection closed. Default 64 MiB.
   */
  readonly maxBodyBytes?: number | undefined
  /**
   * Bytes of response bodies held at once by the call's reads (decompressed):
   * a read that would pass it waits, never fails; one read at a time may go
   * past it, so at most `bodyBudget + maxBodyBytes` are held. Default 64 MiB.
   */
  readonly bodyBudget?: number | undefined
  /**
   * Ordered output only: finished responses held while an earlier one is on
   * its way, so a slow origin does not stall the others. Default 1,000.
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
   * or `"env"` for `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY`. Needs a
   * `Transport` (loamy's `UndiciHttpClient`); without one the call fails with
   * an `InvalidOptionsError`. Its credentials are never shown. Default none.
   */
  readonly proxy?: string | undefined
  /**
   * Keep every number of a JSON response body exact: one a JS number would
   * change (`12345678901234567890`) becomes a `JSON.rawJSON` value. Default
   * false. The CLI always turns it on.
   */
  readonly exactNumbers?: boolean | undefined
  /** A relative request `url` is joined to this URL's path; an absolute one is used as it is. Default none. */
  readonly baseUrl?: string | undefined
  /** Statuses that count as failures, after retries (`404`, `"500-599"`, `"5xx"`, `"429,5xx"`). Default none. */
  readonly failOn?: ReadonlyArray<number | string> | number | string | undefined
  /**
   * Offer HTTP/2 to https origins (ALPN): an origin that speaks it gets one
   * connection that carries every request of the call at once; one that
   * does not keeps HTTP/1.1. Needs a `Transport` (loamy's
   * `UndiciHttpClient`). Default false.
   */
  readonly http2?: boolean | undefined
  /**
   * The certificate authorities to trust for https, as PEM text (one or
   * more certificates): only these, in place of Node's bundled ones, as
   * curl's `--cacert`. Needs a `Transport`. Default Node's.
   */
  readonly ca?: string | undefined
  /**
   * `true`: one cookie jar for the call, shared by its requests and their
   * redirects (tough-cookie's rules: domain, path, `Secure` over https only,
   * expiry, public suffixes). A `CookieJar` (tough-cookie's): that jar, read
   * before and kept after the call. Default false: no cookie is kept.
   */
  readonly cookies?: boolean | CookieJar | undefined
  /**
   * Write every 2xx response's body to a file in this directory instead of
   * memory (named by `saveName`; a request's own `options.saveTo` wins, relative to
   * it). Streamed, resumable, with the file's SHA-256 in the response's
   * `saved`. Default none.
   *
   * @since 1.1.0
   */
  readonly saveDir?: string | undefined
  /**
   * The file name under `saveDir`: `{index}` (the request's index), `{name}`
   * (the last segment of its URL's path, or the index when that is empty)
   * and `{host}` are filled in, any character but letters, digits, `.`, `_`
   * and `-` becoming `_`. Default `"{index}"`.
   *
   * @since 1.1.0
   */
  readonly saveName?: string | undefined
}

/**
 * What `cookies` takes besides a boolean: a tough-cookie `CookieJar`
 * (`new CookieJar()` from the `tough-cookie` package), or anything with its
 * promise-returning `getCookieString(url)` and `setCookie(cookie, url, options)`.
 *
 * @since 1.1.0
 * @category models
 */
export type CookieJar = cookies.CookieJar


/**
 * How an option's value is written: `count`, `bytes`, `duration`, `boolean`,
 * `headers`, `names`, `rate`, `retry` or `url` (see its members).
 *
 * @since 1.0.0
 * @category descriptors
 */
export type ValueForm = descriptor.ValueForm

/**
 * The CLI flag of an option (`loamy send`): name, alias, how its text
 * reads, what it sets.
 *
 * @since 1.0.0
 * @category descriptors
 */
export type Flag = descriptor.Flag

/**
 * What there is to know about an option besides its schema (description,
 * default, value form, CLI flags): declared with it in `OptionsSchema`.
 *
 * @since 1.0.0
 * @category descriptors
 */
export type Descriptor = descriptor.Descriptor

/**
 * The names of the options.
 *
 * @since 1.0.0
 * @category descriptors
 */
export type OptionName = keyof typeof OptionsSchema.fields

/**
 * The options as a Schema: decodes what a caller wrote (unknown names
 * refused) into the fields the engine reads; `decode` turns that into a
 * `Resolved` value. The one place an option is declared: its schema and
 * its descriptor (see `descriptors`) side by side.
 *
 * @since 0.2.0
 * @category schemas
 */
export const OptionsSchema = optionsSchema.OptionsSchema

/**
 * Every option's descriptor, by name, in the order of `OptionsSchema`: the
 * table the CLI derives its flags from, the READMEs' option tables are
 * checked against, and the cluster's wire form follows.
 *
 * @since 1.0.0
 * @category descriptors
 */
export const descriptors: Readonly<Record<OptionName, Descriptor>> = optionsSchema.descriptors

/**
 * Milliseconds from the duration grammar every door reads: `500` (a bare
 * number is milliseconds), `250ms`, `5s`, `1.5m`, `2h`, `1d`, `5 seconds`,
 * `500 millis`, `Infinity`. Undefined when the text is not a duration.
 *
 * @since 1.0.0
 * @category parsing
 */
export const parseDuration: (text: string) => number | undefined = durations.parseDuration

/**
 * `N/INTERVAL` (`10/1s`, `100/500ms`, `5/s`): at most N requests start per
 * interval. Undefined when the text is not a rate.
 *
 * @since 1.0.0
 * @category parsing
 */
export const parseRate: (text: string) => { readonly limit: number; readonly intervalMs: number } | undefined =
  durations.parseRate

const decodeFields = SchemaParser.decodeUnknownResult(OptionsSchema, { onExcessProperty: "error", errors: "first" })
const toOptionsError = optionsError(Object.keys(OptionsSchema.fields))

/**
 * @since 0.2.0
 * @category type ids
 */
export { ResolvedTypeId } from "./internal/resolved.js"

/**
 * Retry settings after defaults, in milliseconds.
 *
 * @since 0.2.0
 * @category models
 */
export type { ResolvedRetry } from "./internal/resolved.js"

/**
 * Rate limit after checks, in milliseconds.
 *
 * @since 0.2.0
 * @category models
 */
export type { ResolvedRateLimit } from "./internal/resolved.js"

/**
 * Options after defaults and checks: what the engine runs on. Plain data, so
 * it crosses a thread boundary by structured clone (see `unsafeMarkResolved`)
 * and a machine boundary by `ResolvedSchema`, but for a caller's own
 * `cookies` jar, which stays on the caller's side.
 *
 * @since 0.2.0
 * @category models
 */
export type { Resolved } from "./internal/resolved.js"

/**
 * The resolved options as a Schema, for a wire (the cluster's messages):
 * every field typed, an absent bound as `undefined`. Decoding gives a
 * `Resolved` value that is not checked again. A caller's `cookies` jar is
 * encoded as `true` (the receiver makes a jar of its own).
 *
 * @since 1.0.0
 * @category schemas
 */
export const ResolvedSchema: Schema.Codec<Resolved, typeof resolved.ResolvedSchema.Encoded> = resolved.ResolvedSchema

/**
 * The defaults, in one place.
 *
 * @since 0.2.0
 * @category defaults
 */
export const defaults = resolved.defaults

/**
 * @since 0.2.0
 * @category refinements
 */
export const isResolved: (u: unknown) => u is Resolved = resolved.isResolved

/**
 * Marks plain data that was decoded on another thread (and cloned) as
 * resolved again, without checking it a second time.
 *
 * @since 0.2.0
 * @category unsafe
 */
export const unsafeMarkResolved: (resolved: Omit<Resolved, typeof ResolvedTypeId>) => Resolved =
  resolved.unsafeMarkResolved

/**
 * Back from `Resolved` to `Options` (durations in milliseconds, no timeout
 * as `Infinity`), to add options to an already decoded set.
 *
 * @since 0.2.0
 * @category encoding
 */
export const toOptions: (resolved: Resolved) => Options = resolved.toOptions

/**
 * Checks options and applies the defaults. Unknown names are refused (a
 * misspelt option would otherwise be ignored without a word); errors name
 * the option as a path (`retry.attempts`, `headers.X-Token`).
 *
 * @since 0.2.0
 * @category decoding
 */
export const decode = (input: unknown): Result.Result<Resolved, InvalidOptionsError> => {
  if (input === undefined) return Result.succeed(resolved.empty)
  if (isResolved(input)) return Result.succeed(input)
  if (!Predicate.isObject(input)) {
    return Result.fail(new InvalidOptionsError({ option: "options", detail: `must be an object, got ${describe(input)}` }))
  }
  // No options at all is the common case of small calls: skip the decoder.
  if (isEmpty(input)) return Result.succeed(resolved.empty)
  const decoded = decodeFields(input)
  if (Result.isFailure(decoded)) return Result.fail(toOptionsError(decoded.failure))
  return Result.succeed(resolved.resolve(decoded.success))
}

const isEmpty = (record: object): boolean => {
  // Own names only: a polluted `Object.prototype` adds enumerable names that are no option.
  for (const name in record) if (Object.hasOwn(record, name)) return false
  return Object.getOwnPropertySymbols(record).length === 0
}
