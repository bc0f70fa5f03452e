/**
 * What crosses the thread boundary. Requests (already checked) and responses
 * go by structured clone as they are; only errors are Schema-encoded, so they
 * come back as the same classes (`instanceof` works) without re-validating
 * every response's request. A response's `requestMap` is the request it
 * answers, which the caller still holds: it is left out of the reply and put
 * back on the calling thread.
 *
 * @internal
 */
import { LoamyError, type RequestMap, type RequestResponse } from "@loamy/core"
import * as Schema from "effect/Schema"

/** Every error a batch can end with, besides defects. */
const BatchError = Schema.Union(LoamyError.RequestError, LoamyError.InvalidInputError, LoamyError.InvalidOptionsError)

/** What a response's `error` can hold. */
const ResponseError = Schema.Union(LoamyError.RequestError, LoamyError.InvalidInputError)
const encodeRequestError = Schema.encodeSync(ResponseError)
const decodeRequestError = Schema.decodeUnknownSync(ResponseError)
const encodeBatchError = Schema.encodeUnknownSync(BatchError)
const decodeBatchError = Schema.decodeUnknownSync(BatchError)

/** @internal */
export type WireError =
  | { readonly _tag: "Encoded"; readonly error: unknown }
  | { readonly _tag: "Defect"; readonly name: string; readonly message: string; readonly stack: string | undefined }

/** @internal */
export type Reply =
  | { readonly id: number; readonly ok: true; readonly responses: Array<RequestResponse.RequestResponse> }
  | { readonly id: number; readonly ok: false; readonly error: WireError }

/**
 * Encodes the errors and drops each `requestMap` (the caller puts its own
 * back), in place: the array is the worker's own and is posted right after.
 *
 * @internal
 */
export const encodeResponses = (
  responses: ReadonlyArray<RequestResponse.RequestResponse>
): Array<RequestResponse.RequestResponse> => {
  const out = responses as Array<RequestResponse.RequestResponse>
  for (let i = 0; i < out.length; i++) {
    const response = out[i] as { requestMap: unknown; error?: unknown }
    response.requestMap = undefined
    if (response.error !== undefined) response.error = encodeRequestError(response.error as LoamyError.RequestError)
  }
  return out
}

/**
 * Decodes the errors and puts back each response's request, in place.
 *
 * @internal
 */
export const decodeResponses = (
  responses: Array<RequestResponse.RequestResponse>,
  requests: ReadonlyArray<RequestMap.RequestMap>
): Array<RequestResponse.RequestResponse> => {
  for (let i = 0; i < responses.length; i++) {
    const response = responses[i] as { requestMap: RequestMap.RequestMap; error?: unknown }
    response.requestMap = requests[i]!
    if (response.error !== undefined) response.error = decodeRequestError(response.error)
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
    return { _tag: "Encoded", error: encodeBatchError(error) }
  }
  const e = error instanceof Error ? error : new Error(String(error))
  return { _tag: "Defect", name: e.name, message: e.message, stack: e.stack }
}

/** @internal */
export const decodeError = (wire: WireError): Error => {
  if (wire._tag === "Encoded") return decodeBatchError(wire.error)
  const error = new Error(wire.message)
  error.name = wire.name
  if (wire.stack !== undefined) error.stack = wire.stack
  return error
}
