/**
 * The response of loamy's undici client: an `HttpClientResponse` over
 * undici's `ResponseData`, its body decoded by `Content-Encoding`, read once
 * (however many times it is asked for), and aborted (the request and its
 * socket) when a read is interrupted or a reader stops early. It also
 * carries `@loamy/core/Transport`'s bounded body: the body already read with
 * the headers (small ones), and the bounded read against the call's budget.
 *
 * @internal
 */
import { Transport } from "@loamy/core"
import * as Effect from "effect/Effect"
import * as Cookies from "effect/http/Cookies"
import * as Headers from "effect/http/Headers"
import * as HttpClientError from "effect/http/HttpClientError"
import type * as HttpClientRequest from "effect/http/HttpClientRequest"
import * as HttpClientResponse from "effect/http/HttpClientResponse"
import * as HttpIncomingMessage from "effect/http/HttpIncomingMessage"
import * as UrlParams from "effect/http/UrlParams"
import * as Inspectable from "effect/Inspectable"
import * as Option from "effect/Option"
import { pipeArguments } from "effect/Pipeable"
import type * as Schema from "effect/Schema"
import type * as Socket from "effect/socket/Socket"
import * as Stream from "effect/Stream"
import type { Readable } from "node:stream"
import type { Dispatcher } from "undici"
import { readBounded, waitForBudget, writeChunks } from "./boundedRead.js"
import {
  type Coding,
  codingsOf,
  collect,
  decodedReadable,
  decoderBytes,
  decodeSync,
  readableOf
} from "./decoding.js"

const utf8 = new TextDecoder()

function ignoreError(_: unknown) {}

/** The bytes as an `ArrayBuffer` of their own, without a copy when they already are one. */
const toArrayBuffer = (bytes: Uint8Array): ArrayBuffer =>
  bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer
    ? bytes.buffer
    // A copy (a Buffer's `slice` is a view on its pool, not a copy).
    : new Uint8Array(bytes).buffer

/** The headers as Effect's `Headers`: `set-cookie`'s values joined too, as Effect's own clients give them. */
const toHeaders = (headers: Record<string, string | ReadonlyArray<string>>): Headers.Headers => {
  const out: Record<string, string> = {}
  for (const name in headers) {
    const value = headers[name]!
    out[name] = typeof value === "string" ? value : value.join(", ")
  }
  return Headers.fromRecordUnsafe(out)
}

/** @internal */
export class UndiciResponse extends Inspectable.Class implements HttpClientResponse.HttpClientResponse {
  readonly [HttpIncomingMessage.TypeId]: typeof HttpIncomingMessage.TypeId = HttpIncomingMessage.TypeId
  readonly [HttpClientResponse.TypeId]: typeof HttpClientResponse.TypeId = HttpClientResponse.TypeId
  readonly status: number
  /** Effect's `Headers`, made when first asked for: the engine reads `responseHeaders`. */
  private effectHeaders: Headers.Headers | undefined = undefined
  /** The decoders the body needs; undefined for a body as sent, which is nearly every one. */
  private readonly codings: ReadonlyArray<Coding> | "too many" | undefined
  private textPromise: Promise<string> | undefined
  private bytesPromise: Promise<ArrayBuffer> | undefined
  private decodedPromise: Promise<Uint8Array> | undefined
  private decodedBuffered: Uint8Array | undefined

  constructor(
    readonly request: HttpClientRequest.HttpClientRequest,
    private readonly target: URL,
    status: number,
    /** `Transport.BoundedBody`'s: a record of the response's own, without a prototype (see `responseHeaders`). */
    readonly responseHeaders: Record<string, string | Array<string>>,
    /** The body as undici streams it; undefined when it was read with the headers (`raw`). */
    private readonly body: Dispatcher.ResponseData["body"] | undefined,
    /** The whole body, read with the headers (small bodies), as it came (encoded or not). */
    private readonly raw: Uint8Array | undefined,
    deadline: number | undefined
  ) {
    super()
    this.status = status
    const encoding = responseHeaders["content-encoding"]
    this.codings = encoding === undefined ? undefined : codingsOf(request.method, status, encoding)
    if (body !== undefined) {
      // An error on a body nobody reads must not crash the process.
      body.on("error", ignoreError)
      if (deadline !== undefined) {
        // The attempt's bound covers the body too: past it, the body is destroyed and its readers fail.
        const timer = setTimeout(() => {
          if (!body.readableEnded) body.destroy(new Transport.AttemptTimeoutError())
        }, Math.max(0, deadline - performance.now()))
        body.once("close", () => clearTimeout(timer))
      }
    }
  }

  /** `Transport.BoundedResponse`: the response is its own bounded body (`bufferedBody`, `readUpTo`). */
  get [Transport.BoundedResponseTypeId](): Transport.BoundedBody {
    return this
  }

  /** The URL the request went to, without its fragment. */
  get url(): string {
    const href = this.target.href
    const hash = href.indexOf("#")
    return hash < 0 ? href : href.slice(0, hash)
  }

  get remoteAddress(): Option.Option<string> {
    return Option.none()
  }

  get headers(): Headers.Headers {
    return this.effectHeaders ??= toHeaders(this.responseHeaders)
  }

  get cookies(): Cookies.Cookies {
    const header = this.responseHeaders["set-cookie"]
    return header === undefined ? Cookies.empty : Cookies.fromSetCookie(header)
  }

  /** The whole body, read with the headers, when it is not encoded (`Transport.BoundedBody`). */
  get bufferedBody(): Uint8Array | undefined {
    return this.codings === undefined ? this.raw : undefined
  }

  private decodeError(cause: unknown): HttpClientError.HttpClientError {
    return new HttpClientError.HttpClientError({
      reason: new HttpClientError.DecodeError({ request: this.request, response: this, cause })
    })
  }

  /** A read of the body; interrupted, it destroys the body (aborting the request and its socket). */
  private read<A>(promise: () => Promise<A>): Effect.Effect<A, HttpClientError.HttpClientError> {
    return Effect.callback<A, HttpClientError.HttpClientError>((resume) => {
      promise().then(
        (value) => resume(Effect.succeed(value)),
        (cause) => resume(Effect.fail(this.decodeError(cause)))
      )
      return Effect.sync(() => this.abandon())
    })
  }

  /** Drops the body: destroying a body that has not ended aborts the undici request and its socket. */
  abandon(): void {
    const body = this.body
    if (body !== undefined && !body.readableEnded) body.destroy()
  }

  private tooManyCodings(): HttpClientError.HttpClientError {
    return this.decodeError(new Error("too many content-encodings"))
  }

  /** The whole decoded body of an encoded response. */
  private decoded(codings: ReadonlyArray<Coding>): Effect.Effect<Uint8Array, HttpClientError.HttpClientError> {
    const raw = this.raw
    if (raw === undefined) return this.read(() => this.decodedPromise ??= collect(this.decodedReadable(codings)))
    if (this.decodedBuffered !== undefined) return Effect.succeed(this.decodedBuffered)
    try {
      return Effect.succeed(this.decodedBuffered = decodeSync(raw, codings))
    } catch (cause) {
      return Effect.fail(this.decodeError(cause))
    }
  }

  /** The body through its decoders (see `decodedReadable`). */
  private decodedReadable(codings: ReadonlyArray<Coding>): Readable {
    return decodedReadable(this.raw === undefined ? this.body! : readableOf(this.raw), codings)
  }

  /**
   * At most `limit` decoded bytes, undefined when the body is larger,
   * counted in `budget` (`Transport.BoundedBody`).
   */
  readUpTo(
    limit: number,
    budget: Transport.BodyBudget
  ): Effect.Effect<Uint8Array | undefined, HttpClientError.HttpClientError> {
    const codings = this.codings
    if (codings === "too many") return Effect.fail(this.tooManyCodings())
    const onError = (cause: unknown) => this.decodeError(cause)
    if (codings === undefined) {
      const raw = this.raw
      if (raw !== undefined) return Effect.succeed(raw.byteLength > limit ? undefined : raw)
      const body = this.body!
      return Effect.suspend(() => readBounded(body, body, limit, budget, budget.open(), 0, false, onError))
    }
    // An encoded body goes through its decoders even when buffered: a small bomb must not be inflated whole.
    // A decoder's window is held as long as the read (brotli's is up to 16 MiB, set by the stream's first byte,
    // and a hundred inflating bombs hold hundreds of MB in theirs alone). It is taken before the decoders are
    // made: a read that must wait for it has allocated nothing.
    return Effect.suspend(() => {
      const ticket = budget.open()
      const first = this.raw === undefined ? undefined : this.raw[0]
      const window = decoderBytes(codings, first)
      // Streamed brotli: the window counted is the common one until the body's first byte tells the real one.
      const brotliFirst = first === undefined && codings[0] === "br"
      const read = () => {
        const source = this.decodedReadable(codings)
        return readBounded(source, this.body ?? source, limit, budget, ticket, window, brotliFirst, onError)
      }
      if (budget.take(ticket, window)) return read()
      return Effect.flatMap(
        waitForBudget(budget, ticket, () => {
          budget.release(ticket, window)
          this.abandon()
        }),
        read
      )
    })
  }

  /** The body (decoded) chunk by chunk to `write`, one chunk in flight (`Transport.BoundedBody`). */
  writeTo(write: (chunk: Uint8Array) => Promise<boolean>): Effect.Effect<void, HttpClientError.HttpClientError> {
    const codings = this.codings
    if (codings === "too many") return Effect.fail(this.tooManyCodings())
    const onError = (cause: unknown) => this.decodeError(cause)
    return Effect.suspend(() =>
      writeChunks(
        codings !== undefined ? this.decodedReadable(codings) : this.raw === undefined ? this.body! : readableOf(this.raw),
        write,
        onError
      )
    )
  }

  get text(): Effect.Effect<string, HttpClientError.HttpClientError> {
    const codings = this.codings
    if (codings === "too many") return Effect.fail(this.tooManyCodings())
    if (codings !== undefined) return Effect.map(this.decoded(codings), (bytes) => utf8.decode(bytes))
    if (this.raw !== undefined) return Effect.succeed(utf8.decode(this.raw))
    return this.read(() => this.textPromise ??= this.body!.text())
  }

  get arrayBuffer(): Effect.Effect<ArrayBuffer, HttpClientError.HttpClientError> {
    const codings = this.codings
    if (codings === "too many") return Effect.fail(this.tooManyCodings())
    if (codings !== undefined) return Effect.map(this.decoded(codings), toArrayBuffer)
    // undici's `bytes()` gives a body of one chunk (nearly every small one) an ArrayBuffer of its own.
    if (this.raw !== undefined) return Effect.succeed(toArrayBuffer(this.raw))
    return this.read(() => this.bytesPromise ??= this.body!.arrayBuffer())
  }

  get json(): Effect.Effect<Schema.Json, HttpClientError.HttpClientError> {
    return Effect.flatMap(this.text, (text) => {
      try {
        const parsed: Schema.Json = text === "" ? null : JSON.parse(text)
        return Effect.succeed(parsed)
      } catch (cause) {
        return Effect.fail(this.decodeError(cause))
      }
    })
  }

  get urlParamsBody(): Effect.Effect<UrlParams.UrlParams, HttpClientError.HttpClientError> {
    return Effect.map(this.text, (text) => UrlParams.fromInput(new URLSearchParams(text)))
  }

  get formData(): Effect.Effect<FormData, HttpClientError.HttpClientError> {
    return Effect.flatMap(this.arrayBuffer, (bytes) =>
      Effect.tryPromise({
        try: () => new Response(bytes, { headers: this.headers }).formData(),
        catch: (cause) => this.decodeError(cause)
      }))
  }

  get stream(): Stream.Stream<Uint8Array, HttpClientError.HttpClientError> {
    const codings = this.codings
    const onError = (cause: unknown) => this.decodeError(cause)
    if (codings !== undefined) {
      if (codings === "too many") return Stream.fail(this.tooManyCodings())
      // Streamed through the decoders even when buffered: a reader that stops early stops the inflating.
      return Stream.suspend(() => Stream.fromAsyncIterable(this.decodedReadable(codings), onError))
    }
    const raw = this.raw
    if (raw !== undefined) return raw.byteLength === 0 ? Stream.empty : Stream.succeed(raw)
    // Ending the stream early calls the iterator's `return`, which destroys the body and aborts the request.
    return Stream.fromAsyncIterable(this.body!, onError)
  }

  /** loamy's client does not hand over connections: there is no upgrade to take. */
  get upgrade(): Effect.Effect<Socket.Socket, HttpClientError.HttpClientError> {
    return Effect.fail(
      new HttpClientError.HttpClientError({
        reason: new HttpClientError.StatusCodeError({
          request: this.request,
          response: this,
          description: "loamy's undici client cannot hand over the connection of an HTTP upgrade"
        })
      })
    )
  }

  toJSON(): unknown {
    return HttpIncomingMessage.inspect(this, {
      _id: "HttpClientResponse",
      request: this.request.toJSON(),
      status: this.status
    })
  }

  pipe() {
    return pipeArguments(this, arguments)
  }
}
