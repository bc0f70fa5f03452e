/**
 * Parsing of the duration and rate flags (`5s`, `250ms`, `10/1s`).
 *
 * @internal
 */

const units: Record<string, number> = {
  "": 1,
  ms: 1,
  millis: 1,
  millisecond: 1,
  milliseconds: 1,
  s: 1000,
  sec: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000
}

/**
 * Milliseconds from `500`, `500ms`, `5s`, `1.5m`, `2h` or `5 seconds`; a bare
 * number is milliseconds. Undefined when the text is not a duration.
 *
 * @internal
 */
export const parseDuration = (text: string): number | undefined => {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  if (match === null) return undefined
  const factor = units[match[2]!.toLowerCase()]
  if (factor === undefined) return undefined
  return Number(match[1]) * factor
}

/**
 * `N/INTERVAL` (`10/1s`, `100/500ms`, `5/s`): at most N requests start per
 * interval. Undefined when the text is not a rate.
 *
 * @internal
 */
export const parseRate = (text: string): { readonly limit: number; readonly intervalMs: number } | undefined => {
  const match = /^\s*(\d+)\s*\/\s*(.+)$/.exec(text)
  if (match === null) return undefined
  const limit = Number(match[1])
  // "5/s" reads as five per second.
  const interval = /^[a-z]+$/i.test(match[2]!.trim()) ? `1${match[2]!.trim()}` : match[2]!
  const intervalMs = parseDuration(interval)
  if (intervalMs === undefined || !(intervalMs > 0) || !(limit > 0)) return undefined
  return { limit, intervalMs }
}

/**
 * `Name: value` as given to `--header`. Undefined without a colon or a name.
 *
 * @internal
 */
export const parseHeader = (text: string): readonly [string, string] | undefined => {
  const colon = text.indexOf(":")
  if (colon <= 0) return undefined
  const name = text.slice(0, colon).trim()
  if (name === "") return undefined
  return [name, text.slice(colon + 1).trim()]
}
