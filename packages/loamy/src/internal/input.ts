/**
 * What both plain doors check first of their `requests`: an iterable of
 * request objects (an array, a `Set`, a generator), not one request or a
 * string.
 *
 * @internal
 */
import { LoamyError } from "@loamy/core"

/** Whether `u` is an iterable object (a string is iterable, but no object). @internal */
export const isIterable = (u: unknown): u is Iterable<unknown> =>
  typeof u === "object" && u !== null && typeof (u as Iterable<unknown>)[Symbol.iterator] === "function"

/** The error for `requests` that are not iterable. @internal */
export const notIterable = (u: unknown) =>
  new LoamyError.InvalidInputError({
    index: 0,
    field: "",
    detail: `requests must be an array of request objects, got ${u === null ? "null" : typeof u}`
  })
