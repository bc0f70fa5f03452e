/**
 * What crosses the thread boundary. Requests (already checked) and responses
 * go by structured clone as they are; only errors are Schema-encoded, so they
 * come back as the same classes (`instanceof` works) without re-validating
 * every response's request. A response's `requestMap` is the request it
 * answers, which the caller still holds: it is left out of the reply and put
 * back on the calling thread.
 *
 * A reply is one message. When it cannot be carried (a body nested too deeply
 * to clone, on the worker's side when it is posted or on the caller's when it
 * is read, where less stack may be left), it goes again in parts: a header,
 * then each response without its body, then the body alone. A part that
 * cannot be posted or read costs that response its body only: the response
 * gets its own typed error (`BodyDecodeError` with reason `NotCarried`) and
 * the rest of the batch is unaffected. The common path never does any of this.
 *
 * @internal
 */
import { LoamyError, type RequestMap, type RequestResponse } from "@loamy/core"
import * as Schema from "effect/Schema"
import { WorkerError } from "../errors.js"

/** Every error a batch can end with, besides defects. */
const BatchError = Schema.Union([LoamyError.RequestError, LoamyError.InvalidInputError, LoamyError.InvalidOptionsError])

/** What a response's `error` can hold. */
const ResponseError = Schema.Union([LoamyError.RequestError, LoamyError.InvalidInputError])
const encodeRequestError = Schema.encodeUnknownSync(ResponseError)
const decodeRequestError = Schema.decodeUnknownSync(ResponseError)
const encodeBatchError = Schema.encodeUnknownSync(BatchError)
const decodeBatchError = Schema.decodeUnknownSync(BatchError)

/** @internal */
export type WireError =
  | { readonly _tag: "Encoded"; readonly error: unknown }
  | { readonly _tag: "Defect"; readonly name: string; readonly message: string; readonly stack: string | undefined }

/**
 * A reply: the responses, the batch's error, or the header of a reply sent in
 * parts (`2 * parts` part messages follow it at once, see `Part`).
 *
 * @internal
 */
export type Reply =
  | { readonly id: number; readonly ok: true; readonly responses: Array<RequestResponse.RequestResponse> }
  | { readonly id: number; readonly ok: false; readonly error: WireError }
  | { readonly id: number; readonly parts: number }

/**
 * One part of a reply sent in parts: for each response in order, its head
 * (the response with a `null` body), then its body; `lost` in place of
 * either when it could not be posted.
 *
 * @internal
 */
export type Part =
  | { readonly id: number; readonly head: RequestResponse.RequestResponse }
  | { readonly id: number; readonly body: unknown }
  | { readonly id: number; readonly lost: string }

/** Something the response's error can be replaced with when it is not one of loamy's (it would not encode). */
const foreignError = (response: { readonly statusCode?: unknown }, error: unknown) => ({
  _tag: "BodyDecodeError",
  method: "",
  url: "",
  statusCode: typeof response.statusCode === "number" ? response.statusCode : 0,
  detail: `its error is not one of loamy's (${nameOf(error)})`,
  reason: "NotCarried"
})

/**
 * Encodes the errors and drops each `requestMap` (the caller puts its own
 * back), in place: the array is the worker's own and is posted right after.
 * An error that is not one of loamy's cannot be encoded: it is replaced by a
 * `NotCarried` error rather than failing the whole reply.
 *
 * @internal
 */
export const encodeResponses = (
  responses: ReadonlyArray<RequestResponse.RequestResponse>
): Array<RequestResponse.RequestResponse> => {
  const out = responses as Array<RequestResponse.RequestResponse>
  for (let i = 0; i < out.length; i++) {
    const response = out[i] as { requestMap: unknown; error?: unknown; statusCode: unknown }
    response.requestMap = undefined
    if (response.error !== undefined) {
      try {
        response.error = encodeRequestError(response.error)
      } catch {
        response.error = foreignError(response, response.error)
      }
    }
  }
  return out
}

/**
 * Posts a reply. When the whole cannot be posted (a value that cannot be
 * cloned), the responses go in parts instead (see `postParts`); a batch
 * error that cannot be posted goes as a defect naming it. Throws only when
 * nothing at all can be posted on `port`.
 *
 * @internal
 */
export const postReply = (port: { postMessage(message: unknown): void }, reply: Reply): void => {
  try {
    port.postMessage(reply)
  } catch (cause) {
    if ("responses" in reply) return postParts(port, reply.id, reply.responses)
    port.postMessage(
      {
        id: reply.id,
        ok: false,
        error: { _tag: "Defect", name: "Error", message: `its error could not be posted (${describeFailure(cause)})`, stack: undefined }
      } satisfies Reply
    )
  }
}

/**
 * Posts encoded responses in parts: the header, then each response's head
 * and body as messages of their own, synchronously (nothing else reaches
 * the port in between). A part that cannot be posted is posted as `lost`,
 * with the reason.
 *
 * @internal
 */
export const postParts = (
  port: { postMessage(message: unknown): void },
  id: number,
  responses: ReadonlyArray<RequestResponse.RequestResponse>
): void => {
  port.postMessage({ id, parts: responses.length } satisfies Reply)
  for (let i = 0; i < responses.length; i++) {
    const response = responses[i]!
    postPart(port, { id, head: { ...response, body: null } })
    postPart(port, { id, body: response.body })
  }
}

const postPart = (port: { postMessage(message: unknown): void }, part: Part) => {
  try {
    port.postMessage(part)
  } catch (cause) {
    port.postMessage({ id: part.id, lost: `cloning it in the worker thread failed: ${describeFailure(cause)}` } satisfies Part)
  }
}

/**
 * A reply read in parts on the calling thread: `take` each part read in
 * order, `lose` each one that could not be read, until `done`.
 *
 * @internal
 */
export class Parts {
  private readonly responses: Array<RequestResponse.RequestResponse>
  private readonly lost = new Map<number, string>()
  private next = 0
  constructor(readonly id: number, private readonly requests: ReadonlyArray<RequestMap.RequestMap>, count: number) {
    this.responses = new Array(count)
  }
  get done(): boolean {
    return this.next >= 2 * this.responses.length
  }
  take(part: Part): void {
    if ("lost" in part) return this.lose(part.lost)
    const index = this.next++ >> 1
    if ("head" in part) this.responses[index] = part.head
    else if (!this.lost.has(index)) (this.responses[index] as { body: unknown }).body = part.body
  }
  lose(reason: string): void {
    const index = this.next++ >> 1
    this.lost.set(index, reason)
    // A head that was lost: nothing of the response is known but that it was not carried.
    this.responses[index] ??= { statusCode: 0, headers: {}, body: null, elapsedMs: 0, attempts: 0 } as never
  }
  /**
   * The responses, decoded (see `decodeResponses`); a response whose head or
   * body was lost has a `null` body and its `NotCarried` error. The first of
   * those errors, when there is one and `failFast` is set.
   */
  finish(failFast: boolean): Array<RequestResponse.RequestResponse> {
    const responses = decodeResponses(this.responses, this.requests)
    let first: LoamyError.BodyDecodeError | undefined
    for (const [index, reason] of this.lost) {
      const response = responses[index] as { body: unknown; error?: unknown; statusCode: number }
      const request = this.requests[index]!
      const error = notCarried(request, response.statusCode, reason)
      response.body = null
      response.error = error
      first ??= error
    }
    if (failFast && first !== undefined) throw first
    return responses
  }
}

/** The error a response gets when its body could not cross to the calling thread. @internal */
export const notCarried = (request: RequestMap.RequestMap, statusCode: number, detail: string): LoamyError.BodyDecodeError =>
  new LoamyError.BodyDecodeError({ method: request.httpOp, url: request.url, statusCode, detail, reason: "NotCarried" })

/**
 * Decodes the errors and puts back each response's request, in place. An
 * error that does not decode (it cannot happen with loamy's own) becomes the
 * response's `NotCarried` error.
 *
 * @internal
 */
export const decodeResponses = (
  responses: Array<RequestResponse.RequestResponse>,
  requests: ReadonlyArray<RequestMap.RequestMap>
): Array<RequestResponse.RequestResponse> => {
  for (let i = 0; i < responses.length; i++) {
    const response = responses[i] as {
      requestMap: RequestMap.RequestMap
      error?: unknown
      statusCode: number
      headers: object
    }
    const request = requests[i]!
    response.requestMap = request
    // A clone has Object's prototype again; header records have none, so any name (constructor) reads as sent.
    Object.setPrototypeOf(response.headers, null)
    if (response.error !== undefined) {
      try {
        response.error = decodeRequestError(response.error)
        const error = response.error as { _tag: string; reason?: unknown; url: string; detail: string }
        // Made by the worker for an error it could not encode: it did not know the request.
        if (error._tag === "BodyDecodeError" && error.reason === "NotCarried" && error.url === "") {
          response.error = notCarried(request, response.statusCode, error.detail)
        }
      } catch (cause) {
        response.error = notCarried(request, response.statusCode, `its error could not be decoded (${describeFailure(cause)})`)
      }
    }
  }
  return responses
}

/**
 * The options values one side has sent (or been sent), by key, so that a
 * job carries its options only the first time. Both threads keep one and
 * update it with the same sequence of keys, so they forget in step: at most
 * `max` keys, all forgotten at once when a new one would pass the bound.
 *
 * @internal
 */
export class KeyMemory<A> {
  private readonly entries = new Map<string, A>()
  constructor(private readonly max = 64) {}
  get(key: string): A | undefined {
    return this.entries.get(key)
  }
  has(key: string): boolean {
    return this.entries.has(key)
  }
  add(key: string, value: A): void {
    if (!this.entries.has(key) && this.entries.size >= this.max) this.entries.clear()
    this.entries.set(key, value)
  }
}

/** @internal */
export const encodeError = (error: unknown): WireError => {
  if (LoamyError.isRequestError(error) || error instanceof LoamyError.InvalidInputError || error instanceof LoamyError.InvalidOptionsError) {
    try {
      return { _tag: "Encoded", error: encodeBatchError(error) }
    } catch {
      // Not encodable after all: reported as the defect it then is.
    }
  }
  try {
    const e = error instanceof Error ? error : new Error(String(error))
    return { _tag: "Defect", name: String(e.name), message: String(e.message), stack: typeof e.stack === "string" ? e.stack : undefined }
  } catch {
    return { _tag: "Defect", name: "Error", message: "an error that could not be described", stack: undefined }
  }
}

/**
 * The batch's error on the calling thread: one of loamy's errors as the
 * same class, anything else (a defect, or something that does not decode)
 * as a `WorkerError` that says what it was, with it as the `cause`.
 *
 * @internal
 */
export const decodeError = (wire: WireError): Error => {
  if (wire._tag === "Encoded") {
    try {
      return decodeBatchError(wire.error)
    } catch (cause) {
      return new WorkerError(`failed the call with an error it could not pass back (${describeFailure(cause)})`, { cause })
    }
  }
  const error = new Error(wire.message)
  error.name = wire.name
  if (wire.stack !== undefined) error.stack = wire.stack
  return new WorkerError(`failed the call with an unexpected ${wire.name}: ${wire.message}`, { cause: error })
}

const nameOf = (u: unknown): string => {
  try {
    return u instanceof Error ? u.name : u === null ? "null" : typeof u
  } catch {
    return "unknown"
  }
}

/**
 * Why a value could not be cloned, without the value: a `DataCloneError`'s
 * message can quote it (a function's source), V8's `RangeError`s do not.
 *
 * @internal
 */
export const describeFailure = (cause: unknown): string => {
  const name = nameOf(cause)
  if (cause instanceof RangeError) {
    return cause.message.includes("call stack")
      ? `${name}: ${cause.message} (nested too deeply)`
      : `${name}: ${cause.message}`
  }
  return name === "DataCloneError" ? `${name}: it holds a value that cannot be cloned` : name
}
