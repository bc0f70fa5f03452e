/**
 * The one duration grammar of every door: `500` (milliseconds), `250ms`,
 * `5s`, `1.5m`, `2h`, `1d`, and Effect's own `5 seconds`, `500 millis`;
 * `Infinity` for no bound. Rates are `N/INTERVAL` (`10/1s`, `5/s`).
 *
 * @internal
 */

const units: Readonly<Record<string, number>> = {
  "": 1,
  ns: 1e-6,
  nano: 1e-6,
  nanos: 1e-6,
  nanosecond: 1e-6,
  nanoseconds: 1e-6,
  us: 1e-3,
  micro: 1e-3,
  micros: 1e-3,
  microsecond: 1e-3,
  microseconds: 1e-3,
  ms: 1,
  milli: 1,
  millis: 1,
  millisecond: 1,
  milliseconds: 1,
  s: 1000,
  sec: 1000,
  secs: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hrs: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
  w: 604_800_000,
  week: 604_800_000,
  weeks: 604_800_000
}

// Own names only: `units` is a literal, but a polluted `Object.prototype` must not add a unit.
const factorOf = (unit: string): number | undefined => Object.hasOwn(units, unit) ? units[unit] : undefined

/** @internal */
export const parseDuration = (text: string): number | undefined => {
  const match = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$/i.exec(text)
  if (match === null) return /^\s*Infinity\s*$/.test(text) ? Infinity : undefined
  const factor = factorOf(match[2]!.toLowerCase())
  if (factor === undefined) return undefined
  return Number(match[1]) * factor
}

/** @internal */
export const parseRate = (text: string): { readonly limit: number; readonly intervalMs: number } | undefined => {
  const match = /^\s*(\d+)\s*\/\s*(.+)$/.exec(text)
  if (match === null) return undefined
  const limit = Number(match[1])
  // "5/s" reads as five per second.
  const unit = match[2]!.trim()
  const intervalMs = parseDuration(/^[a-z]+$/i.test(unit) ? `1${unit}` : unit)
  if (intervalMs === undefined || !(intervalMs > 0) || intervalMs === Infinity || !(limit > 0)) return undefined
  return { limit, intervalMs }
}
