/**
 * What goes out for a request: its full URL (query params included), the
 * `HttpClientRequest` of an attempt (headers, body, a download's range), and
 * its origin.
 *
 * @internal
 */
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import type * as Options from "../Options.js"
import type { RequestMap } from "../RequestMap.js"
import * as download from "./download.js"
import { noRequestOptions } from "./redirects.js"
import * as requestBody from "./requestBody.js"

/** The URL the request goes to, query params included; used in errors and spans. @internal */
export const fullUrl = (request: RequestMap): string => {
  if (request.queryParams === undefined) return request.url
  const url = new URL(request.url)
  const query = request.queryParams
  // Own names only: a polluted `Object.prototype` must not add to the query.
  for (const key in query) if (Object.hasOwn(query, key)) url.searchParams.append(key, query[key]!)
  return url.toString()
}

const blank: Partial<Record<RequestMap["httpOp"], HttpClientRequest.HttpClientRequest>> = {}

/** A request of `method` and nothing else, made once: `make` builds a request per option it is given. */
const blankFor = (method: RequestMap["httpOp"]): HttpClientRequest.HttpClientRequest =>
  blank[method] ??= HttpClientRequest.make(method)("", noRequestOptions)

/** The `HttpClientRequest` of one attempt: URL, headers (the call's defaults under the request's own), body. @internal */
export const toHttpRequest = (
  request: RequestMap,
  url: string,
  defaults: Options.Resolved["headers"],
  files: ReadonlyArray<Blob | undefined> | undefined,
  part: download.Part | undefined
) => {
  let headers: Record<string, string> | undefined = request.headers as Record<string, string> | undefined
  if (defaults !== undefined) headers = mergeHeaders(defaults, request.headers)
  if (part !== undefined) headers = download.headersFor(headers, part)
  let httpRequest = HttpClientRequest.setUrl(blankFor(request.httpOp), url)
  if (headers !== undefined) httpRequest = HttpClientRequest.setHeaders(httpRequest, headers)
  if (request.body !== undefined) {
    // A user's own Content-Type (application/merge-patch+json, ...) wins over the JSON default.
    httpRequest = HttpClientRequest.bodyText(
      httpRequest,
      JSON.stringify(request.body),
      httpRequest.headers["content-type"] ?? "application/json"
    )
  } else if (requestBody.hasOtherBody(request)) {
    httpRequest = requestBody.withBody(httpRequest, request, files)
  }
  return httpRequest
}

/** Request headers win over defaults, whatever the case of their names. */
const mergeHeaders = (
  defaults: Readonly<Record<string, string>>,
  own: Readonly<Record<string, string>> | undefined
): Record<string, string> => {
  const out: Record<string, string> = {}
  // Own names only: a polluted `Object.prototype` must not add headers.
  for (const name in defaults) if (Object.hasOwn(defaults, name)) out[name.toLowerCase()] = defaults[name]!
  if (own !== undefined) for (const name in own) if (Object.hasOwn(own, name)) out[name.toLowerCase()] = own[name]!
  return out
}

/** The URL's origin, for retries' pauses and per-origin rate limits; the URL itself when it has none. @internal */
export const originOf = (url: string): string => {
  try {
    return new URL(url).origin
  } catch {
    return url
  }
}
