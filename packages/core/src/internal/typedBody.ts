/**
 * Typed bodies: a clump's body schema decodes the JSON body of each response
 * it applies to (see `RequestResponse.isDecoded`), after the engine is done
 * with it (retries included), so a mismatch is folded like any other
 * failure: a `BodyDecodeError` carrying Schema's issues, with the status,
 * headers and the JSON as it arrived kept in the response.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Predicate from "effect/Predicate"
import * as Schema from "effect/Schema"
import { BodyDecodeError, type BodyIssue, formatBodyPath, InvalidOptionsError, type RequestError } from "../LoamyError.js"
import { isDecoded, type RequestResponse } from "../RequestResponse.js"
import { fullUrl, type Sender } from "./engine.js"
import { describe } from "./validate.js"

/** Decodes one body; the effect's requirements are the schema's, met by the fiber that runs the call. @internal */
export type Decode = (body: unknown) => Effect.Effect<unknown, ParseResult.ParseIssue, any>

const none: Either.Either<undefined> = Either.right(undefined)

/**
 * The decoder of a clump's `body` option: undefined for none, an
 * `InvalidOptionsError` for something that is not a Schema (a caller
 * without types).
 *
 * @internal
 */
export const decoderFor = (body: unknown): Either.Either<Decode | undefined, InvalidOptionsError> => {
  if (body === undefined) return none
  if (!Schema.isSchema(body)) {
    return Either.left(
      new InvalidOptionsError({ option: "body", detail: `must be an Effect Schema, got ${describe(body)}` })
    )
  }
  // Every mismatch, not only the first: a body that drifted from its schema usually drifted in several places.
  return Either.right(ParseResult.decodeUnknown(body as Schema.Schema<unknown, unknown, unknown>, { errors: "all" }))
}

/**
 * Splits the `body` option (a Schema: not plain data, so it never goes
 * through `Options.decode` or to a worker thread) from the other options.
 *
 * @internal
 */
export const splitBody = <O>(options: O): { readonly body: unknown; readonly rest: O } => {
  // Its own `body` only: an inherited one (a polluted `Object.prototype`) is no option.
  if (!Predicate.isRecord(options) || !Object.hasOwn(options, "body")) return { body: undefined, rest: options }
  const { body, ...rest } = options
  return { body, rest: rest as O }
}

/** Schema's issues as plain data: property keys that are symbols become their description. */
const toBodyIssues = (issue: ParseResult.ParseIssue): ReadonlyArray<BodyIssue> =>
  ParseResult.ArrayFormatter.formatIssueSync(issue).map(({ message, path }) => ({
    path: path.map((key) => typeof key === "symbol" ? String(key) : key),
    message
  }))

/** @internal */
export const mismatch = (response: RequestResponse, issue: ParseResult.ParseIssue): BodyDecodeError => {
  const issues = toBodyIssues(issue)
  const first = issues[0]
  const detail = first === undefined
    ? "the body does not match the schema"
    : first.path.length === 0
    ? first.message
    : `${formatBodyPath(first.path)}: ${first.message}`
  return new BodyDecodeError({
    method: response.requestMap.httpOp,
    url: fullUrl(response.requestMap),
    statusCode: response.statusCode,
    detail,
    issues
  })
}

/**
 * Puts the outcome of decoding into the response. The sender builds a new
 * response object for every request, so it is completed in place rather
 * than copied.
 */
const fold = (response: RequestResponse, result: Either.Either<unknown, ParseResult.ParseIssue>): RequestResponse => {
  const open = response as { body: unknown; error?: RequestError }
  if (Either.isRight(result)) open.body = result.right
  else open.error = mismatch(response, result.left)
  return response
}

/**
 * A sender whose responses have their bodies decoded (when the schema
 * applies). Only a call with a body schema pays for it.
 *
 * @internal
 */
export const decoding = (sender: Sender, decode: Decode): Sender => (request, index) =>
  Effect.flatMap(sender(request, index), (response) => {
    if (!isDecoded(response)) return Effect.succeed(response)
    const result = decode(response.body)
    // A schema without asynchronous transformations decodes to an Either at once.
    if (Either.isEither(result)) {
      return Effect.succeed(fold(response, result as Either.Either<unknown, ParseResult.ParseIssue>))
    }
    return Effect.map(Effect.either(result), (outcome) => fold(response, outcome)) as Effect.Effect<RequestResponse>
  })
