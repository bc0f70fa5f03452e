/**
 * How errors hold URLs: without query string, fragment or credentials,
 * whoever makes the error (see `displayUrl`).
 *
 * @internal
 */
import * as Schema from "effect/Schema"
import * as SchemaTransformation from "effect/SchemaTransformation"
import { withoutSecrets } from "./validate.js"

/**
 * A URL as errors hold and show it: origin and path, never the query string
 * (it often holds tokens), the fragment or credentials. Every error's `url`
 * (and a `RedirectError`'s `location`) is made this way when the error is
 * made, or decoded, so neither `JSON.stringify(error)`, a log line nor a CLI
 * record can show them. The full URL stays in the response's `requestMap`.
 *
 * @since 0.2.0
 * @category formatting
 */
export const displayUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    return parsed.origin === "null" ? `${parsed.protocol}${parsed.pathname}` : parsed.origin + parsed.pathname
  } catch {
    return withoutSecrets(url)
  }
}

/**
 * A URL field of an error: decoding (the wire, a file, an old record)
 * redacts it as the constructor does (see `redactingUrls`).
 */
export const Url = Schema.String.pipe(
  Schema.decodeTo(Schema.String, SchemaTransformation.transform({ decode: displayUrl, encode: (url) => url }))
)

/**
 * How errors redact their URLs: the error classes extend their schema class
 * through this, and their `url` and `location` fields are `Url`s, so
 * whoever makes one (the engine, a user, a decoder reading the wire or a
 * file) gets them without query string or credentials.
 */
export const redactingUrls = <C extends new(...args: Array<any>) => any>(Base: C): C =>
  class extends Base {
    constructor(...args: Array<any>) {
      const props = args[0] as { url?: unknown; location?: unknown } | undefined
      if (props !== undefined && props !== null) {
        const redacted: Record<string, unknown> = { ...props }
        if (typeof props.url === "string") redacted["url"] = displayUrl(props.url)
        if (typeof props.location === "string") redacted["location"] = displayUrl(props.location)
        args[0] = redacted
      }
      super(...args)
    }
  }
