/**
 * What crosses the thread boundary. Requests (already checked) and responses
 * go by structured clone as they are; only errors are Schema-encoded, so they
 * come back as the same classes (`instanceof` works) without re-validating
 * every response's request.
 *
 * @internal
 */
import { LoamyError, type RequestResponse } from "@loamy/core"
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

/** Encodes the errors in place: the array is the worker's own and is posted right after. @internal */
export const encodeResponses = (
  responses: ReadonlyArray<RequestResponse.RequestResponse>
): Array<RequestResponse.RequestResponse> => {
  const out = responses as Array<RequestResponse.RequestResponse>
  for (let i = 0; i < out.length; i++) {
    const response = out[i]!
    if (response.error !== undefined) {
      out[i] = { ...response, error: encodeRequestError(response.error) as unknown as LoamyError.RequestError | LoamyError.InvalidInputError }
    }
  }
  return out
}

/** @internal */
export const decodeResponses = (
  responses: Array<RequestResponse.RequestResponse>
): Array<RequestResponse.RequestResponse> => {
  for (let i = 0; i < responses.length; i++) {
    const response = responses[i]!
    if (response.error !== undefined) {
      ;(response as { error?: LoamyError.RequestError | LoamyError.InvalidInputError }).error = decodeRequestError(response.error)
    }
  }
  return responses
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
