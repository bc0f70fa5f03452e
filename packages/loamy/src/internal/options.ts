/**
 * The options of the plain-function doors: the core's options with
 * durations in milliseconds, checked for their types at the door so a wrong
 * type fails before anything is sent (or posted to the worker).
 *
 * @internal
 */
import { Clump } from "@loamy/core"
import * as Either from "effect/Either"

/** @internal */
export interface RetryOptions {
  readonly attempts?: number | undefined
  readonly baseDelay?: number | undefined
  readonly maxDelay?: number | undefined
  readonly maxRetryAfter?: number | undefined
  readonly statuses?: ReadonlyArray<number> | undefined
  readonly nonIdempotent?: boolean | undefined
}

/** @internal */
export interface RateLimitOptions {
  readonly limit: number
  readonly interval: number
  readonly perOrigin?: boolean | undefined
}

/** @internal */
export interface Options {
  readonly concurrency?: number | undefined
  readonly returnExceptions?: boolean | undefined
  readonly timeout?: number | undefined
  readonly deadline?: number | undefined
  readonly retry?: number | RetryOptions | undefined
  readonly rateLimit?: RateLimitOptions | undefined
  readonly maxBodyBytes?: number | undefined
  readonly headers?: Readonly<Record<string, string>> | undefined
  readonly maxRedirects?: number | undefined
}

const fail = (option: string, detail: string) => Either.left(new Clump.InvalidOptionsError({ option, detail }))

const describe = (u: unknown): string => {
  if (u === null) return "null"
  if (Array.isArray(u)) return "an array"
  if (typeof u === "string") return JSON.stringify(u)
  return typeof u === "object" ? "an object" : `${typeof u} ${String(u)}`
}

type Kind = "number" | "boolean" | "record" | "retry" | "rateLimit" | "statuses" | "signal"

const topLevel: Record<string, Kind> = {
  concurrency: "number",
  returnExceptions: "boolean",
  timeout: "number",
  deadline: "number",
  retry: "retry",
  rateLimit: "rateLimit",
  maxBodyBytes: "number",
  headers: "record",
  maxRedirects: "number"
}

const retryFields: Record<string, Kind> = {
  attempts: "number",
  baseDelay: "number",
  maxDelay: "number",
  maxRetryAfter: "number",
  statuses: "statuses",
  nonIdempotent: "boolean"
}

const rateLimitFields: Record<string, Kind> = { limit: "number", interval: "number", perOrigin: "boolean" }

const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const checkFields = (
  value: Record<string, unknown>,
  fields: Record<string, Kind>,
  prefix: string
): Either.Either<void, Clump.InvalidOptionsError> => {
  for (const key of Object.keys(value)) {
    const kind = fields[key]
    // Unknown names are the core's to refuse (resolveOptions), for every door alike.
    if (kind === undefined) continue
    const name = prefix + key
    const item = value[key]
    if (item === undefined) continue
    const checked = checkKind(kind, item, name)
    if (Either.isLeft(checked)) return checked
  }
  return Either.void
}

const checkKind = (kind: Kind, item: unknown, name: string): Either.Either<void, Clump.InvalidOptionsError> => {
  switch (kind) {
    case "number":
      return typeof item === "number" && !Number.isNaN(item)
        ? Either.void
        : fail(name, `must be a number${name === "timeout" || name === "deadline" || name.startsWith("retry.") || name === "rateLimit.interval" ? " of milliseconds" : ""}, got ${describe(item)}`)
    case "boolean":
      return typeof item === "boolean" ? Either.void : fail(name, `must be true or false, got ${describe(item)}`)
    case "record":
      return isPlainObject(item) ? Either.void : fail(name, `must be an object of strings, got ${describe(item)}`)
    case "statuses":
      return Array.isArray(item) ? Either.void : fail(name, `must be an array of status codes, got ${describe(item)}`)
    case "signal":
      return item instanceof AbortSignal ? Either.void : fail(name, `must be an AbortSignal, got ${describe(item)}`)
    case "retry":
      if (typeof item === "number") return checkKind("number", item, name)
      return isPlainObject(item)
        ? checkFields(item, retryFields, "retry.")
        : fail(name, `must be a number of attempts or an object, got ${describe(item)}`)
    case "rateLimit":
      if (!isPlainObject(item)) return fail(name, `must be an object { limit, interval }, got ${describe(item)}`)
      if (item["limit"] === undefined) return fail("rateLimit.limit", "is required")
      if (item["interval"] === undefined) return fail("rateLimit.interval", "is required")
      return checkFields(item, rateLimitFields, "rateLimit.")
  }
}

/**
 * Checks the options' types (durations are milliseconds at these doors),
 * then the core's rules (names, ranges, headers), and returns them as core
 * options, the door's own (`signal`) left out.
 *
 * @internal
 */
export const check = (
  options: unknown,
  extra: Record<string, Kind> = {}
): Either.Either<Clump.Options, Clump.InvalidOptionsError> => {
  if (options === undefined) return Either.right({})
  if (!isPlainObject(options)) return fail("options", `must be an object, got ${describe(options)}`)
  const checked = checkFields(options, { ...topLevel, ...extra }, "")
  if (Either.isLeft(checked)) return Either.left(checked.left)
  const core: Record<string, unknown> = {}
  for (const key of Object.keys(options)) if (!(key in extra)) core[key] = options[key]
  const resolved = Clump.resolveOptions(core)
  if (Either.isLeft(resolved)) return Either.left(resolved.left)
  return Either.right(core as Clump.Options)
}

/** @internal */
export const promiseExtra: Record<string, Kind> = { signal: "signal" }
