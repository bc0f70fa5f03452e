/**
 * The handler `exchange.ts` gives undici's dispatch API for each request
 * (`Exchange`): its abort, its deadline, and its response, a small body
 * collected with the headers or undici's own body stream for any other.
 *
 * @internal
 */
import { Transport } from "@loamy/core"
import * as Effect from "effect/Effect"
import * as HttpClientError from "effect/http/HttpClientError"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import { Readable } from "node:stream"
import type { Dispatcher } from "undici"
import { Timed } from "./deadlines.js"
import { concat } from "./decoding.js"
import { ownProxyAuthorization, proxyFailure, type ProxyRoute } from "./proxies.js"
import { UndiciResponse } from "./undiciResponse.js"
import { BodyReadable, destroy, RequestAbortedError, responseHeaders } from "./undiciInternals.js"

/** A request's body as undici takes it. @internal */
export type RequestBody = Exclude<Dispatcher.DispatchOptions["body"], undefined>

function ignoreError(_: unknown) {}

/** Bodies up to this size (by `content-length`) are read with the headers. */
const eagerBodyBytes = 64 * 1024

const isSmall = (method: string, headers: Record<string, string | Array<string>>): boolean => {
  if (method === "HEAD") return false
  const length = headers["content-length"]
  return typeof length === "string" && length.length < 7 && Number(length) <= eagerBodyBytes
}

const transportError = (request: HttpClientRequest.HttpClientRequest, cause: unknown) =>
  new HttpClientError.HttpClientError({ reason: new HttpClientError.TransportError({ request, cause }) })

/** @internal */
export const encodeError = (request: HttpClientRequest.HttpClientRequest, cause: unknown) =>
  new HttpClientError.HttpClientError({ reason: new HttpClientError.EncodeError({ request, cause }) })

const isInvalidArgument = (error: Error): boolean => "code" in error && error.code === "UND_ERR_INVALID_ARG"

type Resume = (effect: Effect.Effect<UndiciResponse, HttpClientError.HttpClientError>) => void

/** The bytes of a small body in one `Uint8Array` of their own (the chunks are views on the socket's reads). */
const joined = (chunks: ReadonlyArray<Uint8Array>, length: number): Uint8Array =>
  chunks.length === 1 ? new Uint8Array(chunks[0]!) : concat(chunks, length)

/**
 * One request's handler of undici's dispatch API: what `dispatcher.request`
 * does for its callback, less what loamy does not use. A small body (by its
 * `content-length`) is collected here and handed over with the headers, with
 * no stream made for it; any other gets undici's own body stream
 * (`BodyReadable`), as `dispatcher.request` gives. No `AbortSignal` (undici
 * hands the handler its abort), no async-hooks resource, no promise; and the
 * handler carries the attempt's deadline (`Timed`): no timer per request.
 *
 * @internal
 */
export class Exchange extends Timed implements Dispatcher.DispatchHandler {
  /** The fiber has its answer (or was interrupted): nothing more is handed over. */
  settled = false
  private aborted = false
  /** undici is done with the request: its end or its error came. */
  private completed = false
  private abortRequest: ((reason?: Error) => void) | undefined = undefined
  /** A small body being collected, and its status and headers. */
  private chunks: Array<Uint8Array> | undefined = undefined
  private length = 0
  private statusCode = 0
  private headers: Record<string, string | Array<string>> | undefined = undefined
  /** A body handed over as a stream, until it ends or fails. */
  private res: Dispatcher.ResponseData["body"] | undefined = undefined

  constructor(
    private readonly resume: Resume,
    private readonly request: HttpClientRequest.HttpClientRequest,
    private readonly url: URL,
    private readonly proxy: ProxyRoute | undefined,
    private readonly deadline: number | undefined,
    /** Called once the request has its answer, failed or was interrupted (see `OriginGate.through`). */
    private readonly done: (() => void) | undefined,
    private body: RequestBody | undefined
  ) {
    super()
    if (deadline !== undefined) this.arm(deadline)
  }

  /**
   * Resumes the fiber once undici is done with this callback: resumed at
   * once, the fiber would run on (and send its next request) while undici
   * still counts this one as running, and its pool would take the connection
   * for a busy one. As undici's own handler does (a promise, a microtask).
   */
  private deliver(effect: Effect.Effect<UndiciResponse, HttpClientError.HttpClientError>): void {
    queueMicrotask(() => this.resume(effect))
  }

  private settle(): boolean {
    if (this.settled) return false
    this.settled = true
    if (this.deadline !== undefined) this.disarm()
    if (this.done !== undefined) this.done()
    return true
  }

  /** Stops the undici request (and its socket): now, or as soon as it starts. */
  private abort(): void {
    if (this.aborted || this.completed) return
    this.aborted = true
    const abortRequest = this.abortRequest
    if (abortRequest !== undefined) abortRequest(new RequestAbortedError())
  }

  protected expire(): void {
    if (!this.settle()) return
    this.abort()
    this.resume(Effect.fail(transportError(this.request, new Transport.AttemptTimeoutError())))
  }

  /** Interrupted before the response was handed over: undici aborts the request and its socket. */
  interrupt(): void {
    this.settle()
    this.abort()
  }

  onConnect(abort: (reason?: Error) => void): void {
    this.abortRequest = abort
    if (this.aborted) abort(new RequestAbortedError())
  }

  onHeaders(
    statusCode: number,
    rawHeaders: Array<Buffer> | Array<string>,
    resume: () => void
  ): boolean {
    // An interim response (1xx): the final one is still to come.
    if (statusCode < 200) return true
    if (this.settled) {
      // Timed out (or interrupted) as the headers arrived: nobody will read this body.
      this.abort()
      return false
    }
    const headers = responseHeaders(rawHeaders)
    const method = this.request.method
    if (isSmall(method, headers)) {
      // A small body is read before the response is handed over: one resumption of the fiber instead of two.
      this.statusCode = statusCode
      this.headers = headers
      this.chunks = []
      return true
    }
    const contentType = headers["content-type"]
    const contentLength = headers["content-length"]
    const res = new BodyReadable({
      resume,
      abort: this.abortRequest!,
      contentType: typeof contentType === "string" ? contentType : undefined,
      contentLength: method !== "HEAD" && typeof contentLength === "string" ? Number(contentLength) : null
    })
    this.res = res
    this.settle()
    this.resume(Effect.succeed(new UndiciResponse(this.request, this.url, statusCode, headers, res, undefined, this.deadline)))
    return true
  }

  onData(chunk: Buffer): boolean {
    const chunks = this.chunks
    if (chunks !== undefined) {
      chunks.push(chunk)
      this.length += chunk.byteLength
      return true
    }
    const res = this.res
    return res === undefined ? false : res.push(chunk)
  }

  onComplete(): void {
    this.completed = true
    this.body = undefined
    const chunks = this.chunks
    if (chunks !== undefined) {
      this.chunks = undefined
      if (!this.settle()) return
      const bytes = joined(chunks, this.length)
      this.deliver(
        Effect.succeed(new UndiciResponse(this.request, this.url, this.statusCode, this.headers!, undefined, bytes, undefined))
      )
      return
    }
    const res = this.res
    this.res = undefined
    if (res !== undefined) res.push(null)
  }

  onError(error: Error): void {
    this.completed = true
    const res = this.res
    if (res !== undefined) {
      this.res = undefined
      // As undici's own handler: the body's readers get the error once what is queued has run.
      queueMicrotask(() => destroy(res.on("error", ignoreError), error))
    } else if (this.chunks !== undefined) {
      // The headers came and the body failed.
      this.chunks = undefined
      if (this.settle()) this.deliver(Effect.fail(transportError(this.request, error)))
    } else if (this.settle()) {
      const { proxy, request } = this
      const proxyError = proxy === undefined ? undefined : proxyFailure(proxy, this.url, error)
      if (proxyError === undefined && isInvalidArgument(error)) {
        this.deliver(Effect.fail(encodeError(request, proxy === undefined ? error : ownProxyAuthorization(error))))
      } else {
        this.deliver(Effect.fail(transportError(request, proxyError ?? error)))
      }
    }
    const body = this.body
    if (body instanceof Readable) {
      this.body = undefined
      body.on("error", ignoreError)
      destroy(body, error)
    }
  }
}
