/**
 * The schemas of the options' values. Each reads any input (`Unknown`) with
 * one function that says what is wrong in words that quote the input, so a
 * wrong type gets the same message as a wrong value (Schema's own messages
 * would say `Expected number`); `undefined` is accepted everywhere, as an
 * absent option.
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import type * as SchemaAST from "effect/SchemaAST"
import * as SchemaGetter from "effect/SchemaGetter"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaParser from "effect/SchemaParser"
import { type CookieJar, isCookieJar } from "./cookies.js"
import { parseDuration, parseRate } from "./durations.js"
import { parseStatuses } from "./failOn.js"
import { InvalidOptionsError } from "../LoamyError.js"
import { templateProblem } from "./download.js"
import { describe, headerNameProblem, headerValueProblem, httpUrlProblem, savePathProblem } from "./validate.js"

/** @internal */
export const invalid = (message: string): Effect.Effect<never, SchemaIssue.Issue> =>
  Effect.fail(new SchemaIssue.InvalidValue({ message }))

type Parse<T> = (input: unknown, options: SchemaAST.ParseOptions) => Effect.Effect<T, SchemaIssue.Issue>

/** A value read from anything by `parse`, into `to`'s encoded form. */
const value = <To extends Schema.Top>(to: To, parse: Parse<To["Encoded"]>) =>
  Schema.Unknown.pipe(Schema.decodeTo(to, {
    decode: SchemaGetter.transformEffect(parse),
    encode: SchemaGetter.passthrough({ strict: false })
  }))

/** `value`, with undefined kept as it is: an option given as undefined is an absent one. */
const orAbsent = <To extends Schema.Top>(to: To, parse: Parse<To["Encoded"]>) =>
  value(Schema.UndefinedOr(to), (input, options) => input === undefined ? Effect.succeed(undefined) : parse(input, options))

const wholeOf = (min: number): Parse<number> => (n) =>
  typeof n === "number" && Number.isInteger(n) && n >= min
    ? Effect.succeed(n)
    : invalid(`must be a whole number of ${min} or more, got ${describe(n)}`)

/** A whole number of `min` or more. @internal */
export const whole = (min: number) => orAbsent(Schema.Number, wholeOf(min))

const boolOf: Parse<boolean> = (b) =>
  typeof b === "boolean" ? Effect.succeed(b) : invalid(`must be true or false, got ${describe(b)}`)

/** @internal */
export const bool = orAbsent(Schema.Boolean, boolOf)

/**
 * A duration in milliseconds from a number of milliseconds, a `Duration`,
 * the duration grammar's text (`"5s"`, `"5 seconds"`, `"Infinity"`), or
 * Effect's other inputs (a bigint of nanoseconds, `[seconds, nanos]`). A
 * plain object is refused, although Effect reads `{ seconds: 5 }`: an
 * option of the wrong shape must not turn into a duration.
 *
 * @internal
 */
export const toMillis = (input: unknown): number | undefined => {
  switch (typeof input) {
    case "number":
      return Number.isNaN(input) ? undefined : input
    case "string":
      return parseDuration(input)
    case "bigint":
      return Duration.toMillis(Duration.nanos(input))
    case "object": {
      if (Duration.isDuration(input)) return Duration.toMillis(input)
      if (Array.isArray(input) && input.length === 2 && typeof input[0] === "number" && typeof input[1] === "number") {
        return Duration.toMillis(Duration.fromInputUnsafe([input[0], input[1]]))
      }
      return undefined
    }
    default:
      return undefined
  }
}

/** A duration in milliseconds (see `toMillis`): positive, or 0 or more. @internal */
export const millis = (allowZero: boolean) => orAbsent(Schema.Number, millisOf(allowZero))

const millisOf = (allowZero: boolean): Parse<number> => (input) => {
  const ms = toMillis(input)
  if (ms === undefined) return invalid(`${describe(input)} is not a duration`)
  return ms > 0 || (allowZero && ms === 0)
    ? Effect.succeed(ms)
    : invalid(`must be ${allowZero ? "0 or more" : "positive"}`)
}

const status = value(Schema.Number, (n) =>
  typeof n === "number" && Number.isInteger(n) && n >= 100 && n <= 599
    ? Effect.succeed(n)
    : invalid(`${describe(n)} is not an HTTP status`))

const decodeStatusList = SchemaParser.decodeUnknownEffect(Schema.Array(status))

const statuses = orAbsent(Schema.Array(Schema.Number), (input, options) =>
  Array.isArray(input)
    ? decodeStatusList(input, options)
    : invalid(`must be an array of HTTP statuses, got ${describe(input)}`))

/** @internal */
export const RetryFields = Schema.Struct({
  attempts: Schema.optionalKey(whole(1)),
  baseDelay: Schema.optionalKey(millis(true)),
  maxDelay: Schema.optionalKey(millis(true)),
  maxRetryAfter: Schema.optionalKey(millis(true)),
  statuses: Schema.optionalKey(statuses),
  nonIdempotent: Schema.optionalKey(bool)
})

const decodeRetryFields = SchemaParser.decodeUnknownEffect(RetryFields)

/** A number of attempts or an object of retry settings. @internal */
export const Retry = orAbsent(Schema.toType(RetryFields), (input, options) => {
  if (typeof input === "number") return decodeRetryFields({ attempts: input }, options)
  if (Predicate.isObject(input)) return decodeRetryFields(input, options)
  return invalid(`must be a number of attempts or an object, got ${describe(input)}`)
})

/** @internal */
export const RateLimitFields = Schema.Struct({
  limit: value(Schema.Number, wholeOf(1)),
  interval: value(Schema.Number, millisOf(false)),
  perOrigin: Schema.optionalKey(bool)
})

const decodeRateLimitFields = SchemaParser.decodeUnknownEffect(RateLimitFields)

/** `{ limit, interval, perOrigin? }`, or the text `N/INTERVAL` (`"10/1s"`). @internal */
export const RateLimit = orAbsent(Schema.toType(RateLimitFields), (input, options) => {
  if (typeof input === "string") {
    const rate = parseRate(input)
    return rate === undefined
      ? invalid(`${describe(input)} is not N/INTERVAL (e.g. "10/1s")`)
      : Effect.succeed({ limit: rate.limit, interval: rate.intervalMs })
  }
  if (Predicate.isObject(input)) return decodeRateLimitFields(input, options)
  return invalid(`must be an object { limit, interval } or "N/INTERVAL", got ${describe(input)}`)
})

/** A proxy value as messages may show it: nothing up to its last `@` (`user:pass@`, a password with `/` or `@` in it). */
const withoutCredentials = (value: string): string => value.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[\s\S]*@/i, "$1")

const isProxy = (value: string): boolean => {
  if (value === "env") return true
  try {
    const url = new URL(value)
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== ""
  } catch {
    return false
  }
}

/** @internal */
export const Proxy = orAbsent(Schema.String, (value) =>
  typeof value === "string" && isProxy(value)
    ? Effect.succeed(value)
    : invalid(
      `must be "env" or an http(s) URL such as http://proxy:3128, got ${
        typeof value === "string" ? describe(withoutCredentials(value)) : describe(value)
      }`
    ))

/** `true`, `false` or a cookie jar (see `cookies.ts`). @internal */
export const Cookies = orAbsent(
  Schema.Union([Schema.Boolean, Schema.declare(isCookieJar, { identifier: "CookieJar" })]),
  (input): Effect.Effect<boolean | CookieJar, SchemaIssue.Issue> =>
    typeof input === "boolean" || isCookieJar(input)
      ? Effect.succeed(input)
      : invalid(`must be true, false or a cookie jar (a tough-cookie CookieJar), got ${describe(input)}`)
)
/** Statuses that count as failures (see `failOn.ts`), as inclusive ranges. @internal */
export const FailOn = orAbsent(Schema.Array(Schema.Tuple([Schema.Number, Schema.Number])), (input) => {
  const ranges = parseStatuses(input)
  return typeof ranges === "string" ? invalid(ranges) : Effect.succeed(ranges)
})

/** An http(s) URL that relative request URLs are joined to: no credentials, query string or fragment. @internal */
export const BaseUrl = orAbsent(Schema.String, (input) => {
  const problem = httpUrlProblem(input)
  if (problem !== undefined) return invalid(problem)
  const url = new URL(input as string)
  return url.search !== "" || url.hash !== ""
    ? invalid("has a query string or fragment, which relative URLs would drop: give those in the requests")
    : Effect.succeed(url.href)
})

const savePath = (value: unknown) => {
  const problem = savePathProblem(value)
  return problem === undefined ? Effect.succeed(value as string) : invalid(problem)
}

/** A directory for downloads (`saveDir`): a non-empty path. @internal */
export const SaveDir = orAbsent(Schema.String, savePath)

/** A request's file for its body (`options.saveTo`): a non-empty path. @internal */
export const SaveTo = orAbsent(Schema.String, savePath)

/** A file name template for downloads (`saveName`). @internal */
export const SaveName = orAbsent(Schema.String, (value) => {
  if (typeof value !== "string") return invalid(`must be a file name template (a string), got ${describe(value)}`)
  const problem = templateProblem(value)
  return problem === undefined ? Effect.succeed(value) : invalid(`${problem}, got ${describe(value)}`)
})

/** @internal */
export const Headers = orAbsent(Schema.Record(Schema.String, Schema.String), (headers) => {
  if (!Predicate.isObject(headers)) return invalid(`must be an object of header values, got ${describe(headers)}`)
  if (isHeaderRecord(headers)) return Effect.succeed(headers)
  for (const name of Object.keys(headers)) {
    const problem = headerNameProblem(name) ?? headerValueProblem(headers[name])
    if (problem !== undefined) {
      return Effect.fail(new SchemaIssue.Pointer([name], new SchemaIssue.InvalidValue({ message: problem })))
    }
  }
  return invalid("is not a record of headers")
})

const isHeaderRecord = (headers: { readonly [x: PropertyKey]: unknown }): headers is Readonly<Record<string, string>> =>
  Object.keys(headers).every((name) =>
    headerNameProblem(name) === undefined && headerValueProblem(headers[name]) === undefined
  )

/** @internal */
export const HeaderNames = orAbsent(Schema.Array(Schema.String), (names) => {
  if (!Array.isArray(names)) return invalid(`must be an array of header names, got ${describe(names)}`)
  for (let i = 0; i < names.length; i++) {
    const name: unknown = names[i]
    if (typeof name !== "string" || headerNameProblem(name) !== undefined) {
      return Effect.fail(
        new SchemaIssue.Pointer([i], new SchemaIssue.InvalidValue({ message: `${describe(name)} is not a header name` }))
      )
    }
  }
  return names.every((name): name is string => typeof name === "string")
    ? Effect.succeed(names)
    : invalid("is not an array of header names")
})

const retryNames = Object.keys(RetryFields.fields).join(", ")
const rateLimitNames = Object.keys(RateLimitFields.fields).join(", ")
const formatter = SchemaIssue.makeFormatterStandardSchemaV1()


/** The first leaf issue's kind and path. */
const firstIssue = (
  issue: SchemaIssue.Issue,
  path: ReadonlyArray<PropertyKey> = []
): { readonly kind: SchemaIssue.Issue["_tag"]; readonly path: ReadonlyArray<PropertyKey> } => {
  switch (issue._tag) {
    case "Pointer":
      return firstIssue(issue.issue, [...path, ...issue.path])
    case "Encoding":
      return firstIssue(issue.issue, path)
    case "Composite":
    case "AnyOf":
      return issue.issues.length > 0 ? firstIssue(issue.issues[0]!, path) : { kind: issue._tag, path }
    default:
      return { kind: issue._tag, path }
  }
}

/**
 * The first issue of a failed decode of the options as an
 * `InvalidOptionsError` naming the option as a path.
 *
 * @internal
 */
export const optionsError = (names: ReadonlyArray<string>) => (issue: SchemaIssue.Issue): InvalidOptionsError => {
  const { kind, path: issuePath } = firstIssue(issue)
  // An element of a list is named by the list (`retry.statuses`), the message says which.
  const path = issuePath.filter((key): key is string => typeof key === "string")
  const option = path.join(".")
  if (kind === "UnexpectedKey") {
    const known = path.length === 1 ? names.join(", ") : path[0] === "retry" ? retryNames : rateLimitNames
    // The original's snake_case spelling (`return_exceptions`) is refused at every door, with the name to use.
    const last = path[path.length - 1] ?? ""
    const camel = last.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())
    const hint = camel !== last && known.split(", ").includes(camel)
      ? `; options are camelCase: did you mean ${camel}?`
      : ""
    return new InvalidOptionsError({ option, detail: `unknown option${hint} (expected one of ${known})` })
  }
  if (kind === "MissingKey") return new InvalidOptionsError({ option, detail: "is required" })
  const message = formatter(issue).issues[0]?.message
  return new InvalidOptionsError({ option: option === "" ? "options" : option, detail: message ?? "is not valid" })
}


/** PEM text holding at least one certificate: the `ca` option. */
const isPem = (value: string): boolean => /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(value)

/** @internal */
export const Pem = orAbsent(Schema.String, (value) =>
  typeof value === "string" && isPem(value)
    ? Effect.succeed(value)
    : invalid(
      `must be PEM text holding one or more certificates (-----BEGIN CERTIFICATE-----...), got ${
        typeof value === "string" ? `text of ${value.length} characters without one` : describe(value)
      }`
    ))
