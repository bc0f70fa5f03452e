/**
 * Per-request options: a request's `options` field overrides the call's
 * options of the same names for that request. They are the call's options
 * themselves, picked from `OptionsSchema` (the same decoding, duration
 * grammar and messages), declared here once; a bad one is refused up front
 * naming the request's index and `options.<name>`. The engine reads them as
 * `Limits` (the attempt's bounds) and a retry policy.
 *
 * Another call option a request may override is one more name in
 * `requestOptionNames`; a field only requests have (a download's target)
 * goes into `RequestOptionsFields` beside the picked ones, with its own
 * schema: the check, the wire form and the field names in messages follow.
 *
 * @internal
 */
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaParser from "effect/SchemaParser"
import * as Struct from "effect/Struct"
import type * as Options from "../Options.js"
import { OptionsSchema } from "../Options.js"
import { optionsError, SaveTo } from "./optionFields.js"
import { boundedMs, type ResolvedRetry, resolveRetry } from "./resolved.js"

/** The call's options a request may override, by name. @internal */
export const requestOptionNames = ["timeout", "retry", "maxBodyBytes"] as const

/** @internal */
export type RequestOptionName = typeof requestOptionNames[number]

/**
 * The per-request options' schema: the call's own fields, picked, and
 * `saveTo` (a download's file), which only requests have. @internal
 */
export const RequestOptionsFields = Schema.Struct({
  ...Struct.pick(OptionsSchema.fields, requestOptionNames),
  saveTo: Schema.optionalKey(SaveTo)
})

/** Every name a request's `options` may hold. */
const fieldNames: ReadonlyArray<string> = [...requestOptionNames, "saveTo"]

/** A request's options once checked: durations in milliseconds (`Infinity`: no bound). @internal */
export type RequestOptions = typeof RequestOptionsFields.Type

/** A request's options as callers and files write them: the call's option values, and `saveTo`. @internal */
export type RequestOptionsInput = Pick<Options.Options, RequestOptionName> & {
  /** Write a 2xx response's body to this file (see `Options.saveDir`). */
  readonly saveTo?: string | undefined
}

const decodeFields = SchemaParser.decodeUnknownResult(RequestOptionsFields, {
  onExcessProperty: "error",
  errors: "first"
})
const toError = optionsError(fieldNames)

/** Checks a request's `options`; the field at fault is `options.<name>` (`options.retry.attempts`). @internal */
export const checkOptions = (value: unknown): Result.Result<RequestOptions, readonly [string, string]> => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return Result.fail(["options", `must be an object of options (${fieldNames.join(", ")})`])
  }
  const decoded = decodeFields(value)
  if (Result.isSuccess(decoded)) return Result.succeed(decoded.success)
  const error = toError(decoded.failure)
  return Result.fail([error.option === "options" ? "options" : `options.${error.option}`, error.detail])
}

/** A duration as JSON can hold it: `Infinity` as its text, which the duration grammar reads back. */
const jsonDuration = (value: unknown): unknown =>
  typeof value === "number" && !Number.isFinite(value) ? "Infinity" : value

/**
 * A request's options as JSON holds them (`Infinity` as text); the same
 * object when there is nothing to change.
 *
 * @internal
 */
export const jsonOptions = (options: RequestOptions): RequestOptions | Record<string, unknown> => {
  let out: Record<string, unknown> | undefined
  for (const name of Object.keys(options) as Array<keyof RequestOptions>) {
    const value = options[name]
    let shown: unknown = jsonDuration(value)
    if (typeof value === "object" && value !== null) {
      let retry: Record<string, unknown> | undefined
      for (const key of Object.keys(value) as Array<keyof typeof value>) {
        const field = jsonDuration(value[key])
        if (field !== value[key]) (retry ??= { ...value })[key] = field
      }
      if (retry !== undefined) shown = retry
    }
    if (shown !== value) (out ??= { ...options })[name] = shown
  }
  return out ?? options
}

/**
 * An attempt's bounds: its timeout (undefined: none), whether the transport
 * enforces it (else the engine races a timer), and the largest body read.
 *
 * @internal
 */
export interface Limits {
  readonly timeoutMs: number | undefined
  readonly boundByClient: boolean
  readonly maxBodyBytes: number
}

/** The bounds of a request with `options`: the call's, with the request's own where it has them. @internal */
export const limitsFor = (call: Limits, options: RequestOptions, hasTransport: boolean): Limits => {
  if (options.timeout === undefined && options.maxBodyBytes === undefined) return call
  const timeoutMs = options.timeout === undefined ? call.timeoutMs : boundedMs(options.timeout)
  return {
    timeoutMs,
    boundByClient: timeoutMs !== undefined && hasTransport,
    maxBodyBytes: options.maxBodyBytes ?? call.maxBodyBytes
  }
}

/** The retry policy of a request with `options`: its own `retry` (defaults applied) replaces the call's. @internal */
export const retryFor = (call: ResolvedRetry | undefined, options: RequestOptions): ResolvedRetry | undefined =>
  options.retry === undefined ? call : resolveRetry(options.retry)
