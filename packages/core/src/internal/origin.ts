/**
 * The origin of a checked request's URL, for per-origin bounds: one URL
 * parse per distinct scheme and authority, not one per request.
 *
 * @internal
 */

const cache = new Map<string, string>()
const maxCached = 10_000

/**
 * `scheme://host:port` as `URL#origin` gives it (lower-case host, default
 * port dropped), for a URL already checked to be http or https.
 *
 * @internal
 */
export const originKey = (url: string): string => {
  // The key is the text up to the end of the authority; only a URL that spells `http://` or `https://` has one
  // that fixes the origin (the parser also reads `http:/host` and `http:///host`).
  const start = url.startsWith("http://") ? 7 : url.startsWith("https://") ? 8 : -1
  let end = start
  if (start > 0) {
    while (end < url.length) {
      const c = url.charCodeAt(end)
      // "/", "?", "#", "\\": the special schemes' authority ends at any of them.
      if (c === 47 || c === 63 || c === 35 || c === 92) break
      end++
    }
  }
  if (end <= start) return originOf(url)
  const key = url.slice(0, end)
  let origin = cache.get(key)
  if (origin === undefined) {
    origin = originOf(url)
    if (cache.size >= maxCached) cache.clear()
    cache.set(key, origin)
  }
  return origin
}

const originOf = (url: string): string => {
  try {
    return new URL(url).origin
  } catch {
    return url
  }
}
