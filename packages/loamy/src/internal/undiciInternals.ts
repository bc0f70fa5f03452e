/**
 * The pieces of undici's own request API that loamy's dispatch handler
 * (`exchange.ts`) reuses: the response body stream undici hands out
 * (`BodyReadable`, the `body` of `dispatcher.request`), its header parser and
 * its abort error. undici does not export them; they are its `lib/` files,
 * which is one more reason loamy pins undici exactly (see `continue.ts`).
 *
 * @internal
 */
import readable from "undici/lib/api/readable.js"
import util from "undici/lib/core/util.js"
import errors from "undici/lib/core/errors.js"

/** undici's response body: a `Readable` with `text()`, `bytes()`, ... that aborts the request when destroyed early. @internal */
export const BodyReadable = readable.Readable

/**
 * Raw header pairs as `RequestResponse` headers: a record without a
 * prototype, names lower-case (undici's own parser), `set-cookie` an array of
 * its values, any other repeated header joined with ", ".
 *
 * @internal
 */
export const responseHeaders = (raw: ReadonlyArray<Uint8Array | string>): Record<string, string | Array<string>> => {
  const headers = util.parseHeaders(raw, Object.setPrototypeOf({}, null))
  for (const name in headers) {
    const value = headers[name]!
    if (name === "set-cookie") {
      if (typeof value === "string") headers[name] = [value]
    } else if (typeof value !== "string") {
      headers[name] = value.join(", ")
    }
  }
  return headers
}

/** Destroys a stream with an error, as undici does (`util.destroy`). @internal */
export const destroy = util.destroy

/** @internal */
export const RequestAbortedError = errors.RequestAbortedError
