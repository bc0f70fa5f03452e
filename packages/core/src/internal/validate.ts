/**
 * Input checks shared by the `RequestMap` schema and the door-side validator.
 * Written by hand rather than as a Schema decode because they run once per
 * request on every call and must name the exact field that is wrong.
 *
 * @internal
 */
import { isRawJSON, maxDepth } from "./json.js"

/** @internal */
export const httpOps = ["GET", "POST", "PUT", "PATCH", "OPTIONS", "DELETE", "HEAD"] as const

/** @internal */
export type HttpOp = typeof httpOps[number]

const httpOpSet: ReadonlySet<string> = new Set(httpOps)

/** @internal */
export const isHttpOp = (u: unknown): u is HttpOp => typeof u === "string" && httpOpSet.has(u)

/** RFC 9110 token. */
const headerNamePattern = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
/** What Node's HTTP stack accepts in a header value: no CR, LF, NUL or other controls but tab. */
const headerValuePattern = /^[\t\x20-\x7e\x80-\xff]*$/

/** Headers the HTTP client manages itself; setting them by hand breaks framing. */
const managedHeaders: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
  "expect",
  "content-length"
])

/**
 * `http://` or `https://`, then an authority without `@` (no credentials), up to the `/`, `\\`, `?` or `#` that
 * ends it for the parser. Its first character is not a slash: the parser skips slashes there (`http:///u:p@h`).
 */
const plainHttpUrl = /^https?:\/\/[^/\\?#@]+(?:[/\\?#]|$)/i

/** @internal */
export const httpUrlProblem = (u: unknown): string | undefined => {
  if (typeof u !== "string") return `must be a string, got ${describe(u)}`
  // The URL parser strips tabs and line breaks silently: the request would go to another path.
  if (/[\x00-\x1f\x7f]/.test(u)) {
    return /[\r\n]/.test(u) ? "contains a line break (CR or LF)" : "contains a control character"
  }
  // The common case without a URL object per request (the transport parses the URL it sends anyway): an http(s)
  // scheme and an authority without `@` (no credentials) that the parser accepts. Anything else takes the full check.
  if (plainHttpUrl.test(u) && URL.canParse(u)) return undefined
  let url: URL
  try {
    url = new URL(u)
  } catch {
    return `${JSON.stringify(shownUrl(u))} is not a URL`
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `${JSON.stringify(shownUrl(u))} is not an http or https URL`
  }
  // undici drops URL credentials silently and fetch refuses them; both would
  // also print the password in every error message and span.
  if (url.username !== "" || url.password !== "") {
    return "has credentials in it (user:password@); send them in an Authorization header instead"
  }
  return undefined
}

/** Whether URL text has a scheme (`http:`, `ftp:`): then it is used as it is, not joined to a base. @internal */
export const hasScheme = (u: string): boolean => /^[a-z][a-z0-9+.-]*:/i.test(u)

/**
 * A relative URL joined to `base` (an http(s) URL's `href`) the way httpx
 * and ky's `prefixUrl` join them: the base's path is a directory (a `/` is
 * added when it has none) and `relative` is taken under it, whether it
 * starts with `/` or not (`/users/1` against `https://h/v2` is
 * `https://h/v2/users/1`). Text with control characters is left as it is,
 * for `httpUrlProblem` to refuse (the URL parser would drop them).
 *
 * @internal
 */
export const joinUrl = (base: string, relative: string): string => {
  if (/[\x00-\x1f\x7f]/.test(relative)) return relative
  try {
    return new URL(relative.replace(/^\/+/, ""), base.endsWith("/") ? base : `${base}/`).href
  } catch {
    return relative
  }
}

/**
 * A URL that was refused, as its message may show it: no query string or
 * fragment (they often hold tokens), no user information (`user:password@`,
 * found by its `@` even where the text is not a URL), at most 100 characters.
 *
 * @internal
 */
export const shownUrl = (u: string): string => {
  const shown = withoutSecrets(u)
  return shown.length > 100 ? `${shown.slice(0, 100)}...` : shown
}

/**
 * URL text without its query string, fragment and user information, even
 * where it does not parse as a URL (user information is found by its `@`).
 *
 * @internal
 */
export const withoutSecrets = (u: string): string => {
  let shown = u.replace(/[?#][\s\S]*$/, "")
  // The authority runs from after `scheme://` (or the start) to the first `/`; credentials end at its last `@`.
  const scheme = /^[a-z][a-z0-9+.-]*:(?:\/\/)?/i.exec(shown)?.[0] ?? ""
  const slash = shown.indexOf("/", scheme.length)
  const authorityEnd = slash < 0 ? shown.length : slash
  const at = shown.lastIndexOf("@", authorityEnd - 1)
  if (at >= scheme.length) shown = scheme + shown.slice(at + 1)
  return shown
}

/** @internal */
export const headerNameProblem = (name: string): string | undefined => {
  if (!headerNamePattern.test(name)) return `${JSON.stringify(name)} is not a legal header name`
  if (managedHeaders.has(name.toLowerCase())) return `${name} is managed by the HTTP client and cannot be set`
  return undefined
}

/** @internal */
export const headerValueProblem = (value: unknown): string | undefined => {
  if (typeof value !== "string") return `must be a string, got ${describe(value)}`
  if (!headerValuePattern.test(value)) {
    return /[\r\n]/.test(value)
      ? "contains a line break (CR or LF), which would split the header"
      : "contains a control or non-Latin-1 character"
  }
  return undefined
}

/** A file path for a download (`saveTo`): a non-empty string without NUL. @internal */
export const savePathProblem = (value: unknown): string | undefined => {
  if (typeof value !== "string") return `must be a file path (a string), got ${describe(value)}`
  if (value === "") return "must be a file path, got an empty string"
  if (value.includes("\0")) return "contains a NUL byte"
  return undefined
}

/**
 * Where a value stops being JSON: `[path, problem]`, or undefined when all of
 * it serialises faithfully. Path is relative (`.items[2]`).
 *
 * @internal
 */
export const jsonProblem = (value: unknown): readonly [string, string] | undefined => {
  const problem = jsonCheck(value)
  return problem === "toJSON" ? undefined : problem
}

/**
 * `jsonProblem`, or "toJSON" when the value is JSON only through a `toJSON`
 * method (a `Date`, a class instance): such a body is sent as what
 * `JSON.stringify` makes of it, the same at every door.
 *
 * @internal
 */
export const jsonCheck = (value: unknown): readonly [string, string] | "toJSON" | undefined => {
  let usesToJSON = false
  const seen = new Set<object>()
  const walk = (v: unknown, path: string, depth: number): readonly [string, string] | undefined => {
    switch (typeof v) {
      case "string":
      case "boolean":
        return undefined
      case "number":
        return Number.isFinite(v) ? undefined : [path, `${v} is not a JSON number`]
      case "object": {
        if (v === null) return undefined
        // Written by `JSON.stringify` as its text, which `JSON.rawJSON` checked: an exact number, say.
        if (isRawJSON(v)) return undefined
        // No door could carry it (see `json.ts`); named at the body itself, not a thousand levels down.
        if (depth >= maxDepth) return ["", `is nested deeper than ${maxDepth} levels`]
        if (seen.has(v)) return [path, "is a circular reference"]
        if (typeof (v as { toJSON?: unknown }).toJSON === "function") {
          usesToJSON = true
          return undefined
        }
        seen.add(v)
        try {
          if (Array.isArray(v)) {
            for (let i = 0; i < v.length; i++) {
              if (v[i] === undefined) return [`${path}[${i}]`, "is undefined, which JSON cannot hold"]
              const problem = walk(v[i], `${path}[${i}]`, depth + 1)
              if (problem) return problem
            }
            return undefined
          }
          const proto = Object.getPrototypeOf(v)
          if (proto !== Object.prototype && proto !== null) {
            return [path, `is a ${proto?.constructor?.name ?? "non-plain"} object, not a JSON object`]
          }
          for (const key of Object.keys(v)) {
            const item = (v as Record<string, unknown>)[key]
            // JSON.stringify leaves out undefined properties, as optional fields expect.
            if (item === undefined) continue
            const problem = walk(item, `${path}.${key}`, depth + 1)
            if (problem) return problem
          }
          return undefined
        } finally {
          seen.delete(v)
        }
      }
      default:
        return [path, `is ${describe(v)}, which JSON cannot hold`]
    }
  }
  const problem = walk(value, "", 0)
  return problem ?? (usesToJSON ? "toJSON" : undefined)
}

/** @internal */
export const describe = (u: unknown): string => {
  if (u === null) return "null"
  if (Array.isArray(u)) return "an array"
  switch (typeof u) {
    case "string":
      return `the string ${JSON.stringify(u.length > 60 ? `${u.slice(0, 60)}...` : u)}`
    case "number":
    case "boolean":
    case "bigint":
      return `the ${typeof u} ${String(u)}`
    case "undefined":
      return "undefined"
    case "function":
      return "a function"
    case "symbol":
      return "a symbol"
    default:
      return "an object"
  }
}
