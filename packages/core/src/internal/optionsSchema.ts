/**
 * The options' declarations: each option's schema and, beside it, its
 * descriptor (what the CLI, the READMEs and the cluster know about it).
 * `Options` exports both, documented there.
 *
 * @internal
 */
import * as Record from "effect/Record"
import * as Schema from "effect/Schema"
import type { Descriptor } from "./descriptor.js"
import {
  BaseUrl,
  bool,
  Cookies,
  FailOn,
  HeaderNames,
  Headers,
  millis,
  Pem,
  Proxy,
  RateLimit,
  Retry,
  SaveDir,
  SaveName,
  whole
} from "./optionFields.js"

const described = new Map<Schema.Top, Descriptor>()

/** One option: its schema (absent or undefined: the default) and its descriptor, declared together. */
const option = <S extends Schema.Top>(schema: S, descriptor: Descriptor) => {
  const field = Schema.optionalKey(schema).annotate({ description: descriptor.description })
  described.set(field, descriptor)
  return field
}

/** The options as a Schema (see `Options.OptionsSchema`). @internal */
export const OptionsSchema = Schema.Struct({
  concurrency: option(whole(1), {
    description: "Requests in flight at once.",
    default: "100",
    form: "count",
    flags: [{ name: "concurrency", alias: "c", form: "count", metavar: "N" }]
  }),
  concurrencyPerOrigin: option(whole(1), {
    description: "Requests in flight at once to one origin (scheme, host, port), within concurrency: politeness " +
      "for crawls over many hosts. A busy origin holds only its own requests; the rest go on.",
    default: "none",
    form: "count",
    flags: [{ name: "concurrency-per-origin", form: "count", metavar: "N" }]
  }),
  returnExceptions: option(bool, {
    description: "true: every failure is folded into its response. false: the first failure fails the whole call " +
      "and interrupts the rest.",
    default: "true",
    form: "boolean",
    flags: [{
      name: "fail-fast",
      form: "boolean",
      sets: false,
      description: "Stop at the first failed request (in-flight ones are abandoned) and exit 1."
    }]
  }),
  timeout: option(millis(false), {
    description: "Per attempt, connect to last body byte; time queued for a slot or a rate limit is not counted. " +
      "Infinity for none.",
    default: "5 minutes",
    form: "duration",
    flags: [{ name: "timeout", form: "duration", metavar: "DURATION" }]
  }),
  deadline: option(millis(false), {
    description: "For the whole call: finished responses are kept, the rest get a DeadlineError.",
    default: "none",
    form: "duration",
    flags: [{ name: "deadline", form: "duration", metavar: "DURATION" }]
  }),
  retry: option(Retry, {
    description: "Attempts in all, the first included: exponential backoff with full jitter, Retry-After " +
      "honoured, idempotent methods only unless told otherwise.",
    default: "none",
    form: "retry",
    flags: [{ name: "retry", form: "count", metavar: "N" }]
  }),
  rateLimit: option(RateLimit, {
    description: "At most limit requests start in any span of interval (sliding; attempts and retries count): " +
      "{ limit, interval, perOrigin? } or N/INTERVAL such as 10/1s.",
    default: "none",
    form: "rate",
    flags: [
      { name: "rate", form: "rate", metavar: "N/INTERVAL" },
      {
        name: "rate-per-origin",
        form: "boolean",
        sets: { field: "perOrigin" },
        description: "Apply --rate to each origin separately instead of to the whole run."
      }
    ]
  }),
  maxBodyBytes: option(whole(0), {
    description: "A larger body (counted after decompression) is not read; the response gets a " +
      "BodyTooLargeError and the connection is closed.",
    default: "64 MiB",
    form: "bytes",
    flags: [{ name: "max-body-bytes", form: "bytes", metavar: "BYTES" }]
  }),
  bodyBudget: option(whole(1), {
    description: "Bytes of response bodies held at once by the whole call's reads. A read that would pass it " +
      "waits, not reading its connection, until others finish; one read at a time may go past it.",
    default: "64 MiB",
    form: "bytes",
    flags: [{ name: "body-budget", form: "bytes", metavar: "BYTES" }]
  }),
  reorderBuffer: option(whole(0), {
    description: "Ordered output only: finished responses held while an earlier one is on its way, so the " +
      "workers go on; when it is full, sending waits for the output.",
    default: "1000",
    form: "count",
    flags: [{ name: "reorder-buffer", form: "count", metavar: "N" }]
  }),
  headers: option(Headers, {
    description: "Headers sent with every request; a request's own headers win.",
    default: "none",
    form: "headers",
    flags: [{ name: "header", alias: "H", form: "headers", metavar: "'NAME: VALUE'", repeatable: true }]
  }),
  maxRedirects: option(whole(0), {
    description: "Redirects followed per request; 0 returns the 3xx response as it is.",
    default: "10",
    form: "count",
    flags: [{ name: "max-redirects", form: "count", metavar: "N" }]
  }),
  sensitiveHeaders: option(HeaderNames, {
    description: "More header names whose values are secrets, besides authorization, cookie, " +
      "proxy-authorization, x-api-key and x-auth-token: not forwarded when a redirect leaves the origin, " +
      "never shown by the CLI.",
    default: "none",
    form: "names",
    flags: [{ name: "redact", form: "names", metavar: "NAME", repeatable: true }]
  }),
  proxy: option(Proxy, {
    description: "Send through a proxy: an http(s) URL (http://user:pass@proxy:3128) or env for HTTPS_PROXY, " +
      "HTTP_PROXY and NO_PROXY. Its credentials are never shown.",
    default: "none",
    form: "url",
    flags: [{ name: "proxy", form: "url", metavar: "URL|env" }]
  }),
  exactNumbers: option(bool, {
    description: "Keep every number of a JSON response body exact: one a JS number would change becomes a " +
      "JSON.rawJSON value. The CLI always turns it on.",
    default: "false",
    form: "boolean",
    flags: []
  }),
  baseUrl: option(BaseUrl, {
    description: "A relative request url (/users/1, users/1) is joined to this http(s) URL's path; an absolute " +
      "one is used as it is.",
    default: "none",
    form: "url",
    flags: [{ name: "base-url", form: "url", metavar: "URL" }]
  }),
  failOn: option(FailOn, {
    description: "Statuses that count as failures (after retries): the response gets an HttpStatusError, its " +
      "status, headers and body kept. Statuses, ranges and classes: 404, 500-599, 5xx, comma-separated.",
    default: "none",
    form: "statuses",
    flags: [{ name: "fail-on", form: "statuses", metavar: "STATUSES" }]
  }),
  http2: option(bool, {
    description: "Offer HTTP/2 to https origins: one that speaks it gets one connection carrying every request " +
      "at once; one that does not keeps HTTP/1.1.",
    default: "false",
    form: "boolean",
    flags: [{ name: "http2", form: "boolean" }]
  }),
  ca: option(Pem, {
    description: "The certificate authorities to trust for https (PEM): only these, in place of Node's bundled " +
      "ones. The CLI reads them from a file.",
    default: "Node's",
    form: "pem",
    flags: [{ name: "ca", form: "pem", metavar: "FILE" }]
  }),
  cookies: option(Cookies, {
    description: "One cookie jar for the call (the CLI: the run), shared by its requests and their redirects: " +
      "RFC 6265's rules (tough-cookie): a cookie goes back only to its host and path, a Secure one over https only, " +
      "an expired one not at all. A request's own Cookie header comes first.",
    default: "false",
    form: "boolean",
    flags: [{ name: "cookies", form: "boolean" }]
  }),
  saveDir: option(SaveDir, {
    description: "Write every 2xx response's body to a file in this directory instead of memory (named by " +
      "saveName; a request's own options.saveTo wins): streamed, written under NAME.loamy-part and renamed when whole, " +
      "resumed with a Range request by a later run; the response's saved has the path, bytes and SHA-256.",
    default: "none",
    form: "path",
    flags: [{ name: "save-dir", form: "path", metavar: "DIR" }]
  }),
  saveName: option(SaveName, {
    description: "The file name under saveDir: {index} (the request's index), {name} (the last segment of its " +
      "URL's path) and {host} are filled in, other characters than letters, digits, . _ - becoming _.",
    default: "{index}",
    form: "template",
    flags: [{ name: "save-name", form: "template", metavar: "TEMPLATE" }]
  })
}).annotate({ identifier: "Options" })

/** Every option's descriptor, by name (see `Options.descriptors`). @internal */
export const descriptors: Readonly<Record<keyof typeof OptionsSchema.fields, Descriptor>> = Record.map(
  OptionsSchema.fields,
  (field) => {
    const descriptor = described.get(field)
    if (descriptor === undefined) throw new Error("an option without a descriptor")
    return descriptor
  }
)
