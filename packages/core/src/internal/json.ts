/**
 * JSON as loamy reads it: a bound on nesting (a value nested thousands of
 * levels deep parses, but no door can carry it: structured clone and
 * `JSON.stringify` overflow the stack at 3,500 to 5,000 levels), and numbers
 * kept digit for digit when asked (`JSON.rawJSON` for a number a JS number
 * would change).
 *
 * @internal
 */

/**
 * The deepest nesting of arrays and objects loamy accepts in a body, request
 * or response: 1,000 levels (Python's `json` stops near the same depth).
 *
 * @internal
 */
export const maxDepth = 1000

/** Node 22's `JSON.rawJSON`, `JSON.isRawJSON` and reviver source text, which TypeScript's ES2022 lib does not declare. */
const JSON_ = JSON as JSON & {
  rawJSON(text: string): object
  isRawJSON(u: unknown): boolean
  parse(text: string, reviver: (key: string, value: unknown, context: { readonly source?: string }) => unknown): unknown
}

/**
 * Whether `u` is a `JSON.rawJSON` value: JSON text that `JSON.stringify`
 * writes as it is.
 *
 * @internal
 */
export const isRawJSON: (u: unknown) => boolean = JSON_.isRawJSON

/**
 * Where `text` nests arrays and objects deeper than `limit`: `undefined`
 * when it does not (or cannot: depth d takes at least 2d characters, so a
 * short text is not scanned at all). Otherwise the key of the top-level
 * object member the deep value is in (`"body"`), or `""` when it is not in
 * one. Strings are skipped whole, so brackets inside them do not count. Text
 * that is not JSON may be answered either way: the parser says what is wrong
 * with it.
 *
 * @internal
 */
export const deepIn = (text: string, limit: number = maxDepth): string | undefined => {
  const length = text.length
  if (length <= 2 * limit + 1) return undefined
  let depth = 0
  // The last string read at depth 1: the key of the member being read, if the text is an object.
  let keyStart = -1
  let keyEnd = -1
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22 /* " */) {
      const start = i
      i = stringEnd(text, i)
      if (i < 0) return undefined
      if (depth === 1) {
        keyStart = start
        keyEnd = i
      }
    } else if (c === 0x5b /* [ */ || c === 0x7b /* { */) {
      if (++depth > limit) return keyOf(text, keyStart, keyEnd)
    } else if (c === 0x5d /* ] */ || c === 0x7d /* } */) {
      depth--
    }
  }
  return undefined
}

/** The index of the quote that ends the string starting at `start`, or -1. */
const stringEnd = (text: string, start: number): number => {
  let end = start
  for (;;) {
    end = text.indexOf("\"", end + 1)
    if (end < 0) return -1
    // Escaped when an odd number of backslashes comes before it.
    let backslashes = 0
    while (text.charCodeAt(end - 1 - backslashes) === 0x5c) backslashes++
    if ((backslashes & 1) === 0) return end
  }
}

const keyOf = (text: string, start: number, end: number): string => {
  if (start < 0) return ""
  try {
    const key = JSON.parse(text.slice(start, end + 1))
    return typeof key === "string" ? key : ""
  } catch {
    return ""
  }
}

/**
 * Text that may hold a number a JS number would change: a run of 16 or more
 * digits (a decimal point may be among them), or an exponent of three
 * digits or more. Anything else parses exactly with plain `JSON.parse`.
 */
const mayBeInexact = /\d[\d.]{15}|[eE][+-]?\d{3}/

/**
 * Keeps a number whose text a JS number would change as `JSON.rawJSON(text)`.
 * Its text is the JSON source of a number, so `rawJSON` accepts it.
 */
const exactReviver = (_key: string, value: unknown, context: { readonly source?: string }): unknown =>
  typeof value === "number" && context.source !== undefined && !survives(context.source, value)
    ? JSON_.rawJSON(context.source)
    : value

/**
 * Parses JSON text. With `exact`, a number whose value a JS number cannot
 * hold (an integer past 2^53, more significant digits than a double keeps,
 * an exponent out of range) becomes `JSON.rawJSON(text)`, which
 * `JSON.stringify` writes back digit for digit; others stay numbers. Text
 * that cannot hold such a number is parsed without the (slower) reviver.
 * Throws `SyntaxError` for text that is not JSON.
 *
 * @internal
 */
export const parse = (text: string, exact: boolean): unknown =>
  exact && mayBeInexact.test(text) ? JSON_.parse(text, exactReviver) : JSON.parse(text)

/**
 * Whether `value` is exactly the number `source` spells: the same decimal
 * digits and exponent once both are normalised. A short plain decimal (15
 * significant digits at most, no exponent) always is.
 *
 * @internal
 */
export const survives = (source: string, value: number): boolean => {
  if (!Number.isFinite(value)) return false
  if (source.length <= 15 && !hasExponent(source)) return true
  const a = decimal(source)
  const b = decimal(String(value))
  if (a.digits === "" || b.digits === "") return a.digits === b.digits
  return a.negative === b.negative && a.digits === b.digits && a.exponent === b.exponent
}

const hasExponent = (text: string): boolean => {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x65 || c === 0x45) return true
  }
  return false
}

/** A number's text as `0.digits × 10^exponent`, digits without leading or trailing zeros ("" for zero). */
const decimal = (text: string): { negative: boolean; digits: string; exponent: number } => {
  let rest = text
  const negative = rest.charCodeAt(0) === 0x2d
  if (negative || rest.charCodeAt(0) === 0x2b) rest = rest.slice(1)
  let exponent = 0
  const e = rest.search(/[eE]/)
  if (e >= 0) {
    exponent = Number(rest.slice(e + 1))
    rest = rest.slice(0, e)
  }
  const point = rest.indexOf(".")
  const whole = point < 0 ? rest : rest.slice(0, point)
  const fraction = point < 0 ? "" : rest.slice(point + 1)
  let digits = whole + fraction
  exponent += whole.length
  let lead = 0
  while (lead < digits.length && digits.charCodeAt(lead) === 0x30) lead++
  let trail = digits.length
  while (trail > lead && digits.charCodeAt(trail - 1) === 0x30) trail--
  digits = digits.slice(lead, trail)
  exponent -= lead
  return { negative, digits, exponent }
}

/**
 * `value` with every `JSON.rawJSON` value in it replaced by the JS number
 * its text spells (the nearest one): plain data that any transport carries
 * (structured clone and msgpack refuse or mangle `rawJSON` values). `value`
 * itself when it holds none.
 *
 * @internal
 */
export const plainNumbers = (value: unknown): unknown => {
  if (typeof value !== "object" || value === null) return value
  if (isRawJSON(value)) return Number((value as { readonly rawJSON: string }).rawJSON)
  if (ArrayBuffer.isView(value)) return value
  if (Array.isArray(value)) {
    let out: Array<unknown> | undefined
    for (let i = 0; i < value.length; i++) {
      const item = value[i]
      const plain = plainNumbers(item)
      if (plain !== item) (out ??= value.slice())[i] = plain
    }
    return out ?? value
  }
  let out: Record<string, unknown> | undefined
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key]
    const plain = plainNumbers(item)
    if (plain !== item) {
      out ??= { ...value }
      // A key named `__proto__` stays a key.
      Object.defineProperty(out, key, { value: plain, enumerable: true, writable: true, configurable: true })
    }
  }
  return out ?? value
}
