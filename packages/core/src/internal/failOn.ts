/**
 * What counts as a failure: the `failOn` option's statuses, read from
 * numbers and text (`404`, `"5xx"`, `"500-599"`, `"429,5xx"`) into ranges,
 * and the check that folds an `HttpStatusError` into an outcome whose
 * status is one of them. Applied once per request, after retries, so a
 * status that is retried and still comes back becomes the error.
 *
 * @internal
 */
import { HttpStatusError } from "../LoamyError.js"
import type { Outcome } from "./body.js"
import { describe } from "./validate.js"

/** Inclusive ranges of statuses, `[from, to]`. @internal */
export type StatusRanges = ReadonlyArray<readonly [number, number]>

const isStatus = (n: number) => Number.isInteger(n) && n >= 100 && n <= 599

/** One item: a status, `Nxx` or `FROM-TO`; a message when it is none of those. */
const rangeOf = (item: unknown): readonly [number, number] | string => {
  if (typeof item === "number") return isStatus(item) ? [item, item] : `${describe(item)} is not an HTTP status`
  if (typeof item !== "string") return `${describe(item)} is not a status, a range (500-599) or a class (5xx)`
  const text = item.trim()
  const single = /^\d{3}$/.exec(text)
  if (single !== null && isStatus(Number(text))) return [Number(text), Number(text)]
  const klass = /^([1-5])xx$/i.exec(text)
  if (klass !== null) return [Number(klass[1]) * 100, Number(klass[1]) * 100 + 99]
  const range = /^(\d{3})\s*-\s*(\d{3})$/.exec(text)
  if (range !== null) {
    const from = Number(range[1])
    const to = Number(range[2])
    if (isStatus(from) && isStatus(to) && from <= to) return [from, to]
  }
  return `${describe(item)} is not a status, a range (500-599) or a class (5xx)`
}

/**
 * Reads `failOn`: a status, a string of comma-separated items, or an array
 * of them. A message naming the item at fault when one is not a status.
 *
 * @internal
 */
export const parseStatuses = (input: unknown): StatusRanges | string => {
  const items: Array<unknown> = []
  const add = (value: unknown) => {
    if (typeof value === "string") for (const part of value.split(",")) items.push(part)
    else items.push(value)
  }
  if (Array.isArray(input)) for (const value of input) add(value)
  else if (typeof input === "number" || typeof input === "string") add(input)
  else return `must be statuses such as [404, "5xx", "500-599"] or "429,5xx", got ${describe(input)}`
  const out: Array<readonly [number, number]> = []
  for (const item of items) {
    const range = rangeOf(item)
    if (typeof range === "string") return range
    out.push(range)
  }
  if (out.length === 0) return "must name at least one status"
  return out
}

/** The ranges as `failOn` takes them back: `404`, `500-599`. @internal */
export const formatStatuses = (ranges: StatusRanges): ReadonlyArray<number | string> =>
  ranges.map(([from, to]) => (from === to ? from : `${from}-${to}`))

/** Whether `status` is in one of `ranges`. @internal */
export const fails = (ranges: StatusRanges, status: number): boolean => {
  for (let i = 0; i < ranges.length; i++) {
    const range = ranges[i]!
    if (status >= range[0] && status <= range[1]) return true
  }
  return false
}

/**
 * The outcome with an `HttpStatusError` when its status is one `ranges`
 * counts as a failure and it has no error of its own; its status, headers
 * and body are kept.
 *
 * @internal
 */
export const checkStatus = (ranges: StatusRanges, outcome: Outcome, method: string, url: string): Outcome =>
  outcome.error !== undefined || outcome.statusCode === 0 || !fails(ranges, outcome.statusCode)
    ? outcome
    : {
      statusCode: outcome.statusCode,
      headers: outcome.headers,
      body: outcome.body,
      error: new HttpStatusError({ method, url, statusCode: outcome.statusCode })
    }
