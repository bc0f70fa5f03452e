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

/** Raw header pairs as a record: names lower-case, a repeated header an array of its values. @internal */
export const parseHeaders = util.parseHeaders

/** Destroys a stream with an error, as undici does (`util.destroy`). @internal */
export const destroy = util.destroy

/** @internal */
export const RequestAbortedError = errors.RequestAbortedError
