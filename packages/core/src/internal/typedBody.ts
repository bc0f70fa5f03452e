/**
 * Typed bodies: a clump's body schema decodes the JSON body of each response
 * it applies to (see `RequestResponse.isDecoded`), after the engine is done
 * with it (retries included), so a mismatch is folded like any other
 * failure: a `BodyDecodeError` carrying Schema's issues, with the status,
 * headers and the JSON as it arrived kept in the response.
 *
 * @internal
 */
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Predicate from "effect/Predicate"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as SchemaParser from "effect/SchemaParser"
import { BodyDecodeError, type BodyIssue, formatBodyPath, InvalidOptionsError, type RequestError } from "../LoamyError.js"
import { isDecoded, type RequestResponse } from "../RequestResponse.js"
import { fullUrl, type Sender } from "./engine.js"
import { describe } from "./validate.js"

/** Decodes one body; the effect's requirements are the schema's, met by the fiber that runs the call. @internal */
export type Decode<A, R> = (body: unknown) => Effect.Effect<A, SchemaIssue.Issue, R>

const none: Result.Result<undefined, never> = Result.succeed(undefined)

/**
 * The decoder of a clump's `body` option: undefined for none, an
 * `InvalidOptionsError` for something that is not a Schema (a caller
 * without types).
 *
 * @internal
 */
export const decoderFor = <A, R>(
  body: Schema.Decoder<A, R> | undefined
): Result.Result<Decode<A, R> | undefined, InvalidOptionsError> => {
  if (body === undefined) return none
  // A caller without types may give anything.
  if (!Schema.isSchema(body)) {
    return Result.fail(
      new InvalidOptionsError({ option: "body", detail: `must be an Effect Schema, got ${describe(body)}` })
    )
  }
  // Every mismatch, not only the first: a body that drifted from its schema usually drifted in several places.
  return Result.succeed(SchemaParser.decodeUnknownEffect(body, { errors: "all" }))
}

/**
 * Splits the `body` option (a Schema: not plain data, so it never goes
 * through `Options.decode` or to a worker thread) from the other options.
 *
 * @internal
 */
export const splitBody = <O>(options: O): { readonly body: unknown; readonly rest: O } => {
  // Its own `body` only: an inherited one (a polluted `Object.prototype`) is no option.
  if (!Predicate.isObject(options) || !Object.hasOwn(options, "body")) return { body: undefined, rest: options }
  const { body, ...rest } = options
  return { body, rest: rest as O }
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** Schema's issues as plain data: property keys that are symbols become their description. */
const toBodyIssues = (issue: SchemaIssue.Issue): ReadonlyArray<BodyIssue> =>
  formatter(issue).issues.map(({ message, path }) => ({
    path: (path ?? []).map((segment) => {
      const key = typeof segment === "object" ? segment.key : segment
      return typeof key === "symbol" ? String(key) : key
    }),
    message
  }))

/** @internal */
export const mismatch = (response: RequestResponse, issue: SchemaIssue.Issue): BodyDecodeError => {
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
const fold = <A>(response: RequestResponse, exit: Exit.Exit<A, SchemaIssue.Issue>): Effect.Effect<RequestResponse> => {
  const open = response as { body: unknown; error?: RequestError }
  if (Exit.isSuccess(exit)) {
    open.body = exit.value
    return Effect.succeed(response)
  }
  const issue = Cause.findError(exit.cause)
  // Not an issue (a defect of an asynchronous transformation, an interruption): it goes on as it is.
  if (Result.isFailure(issue)) return Effect.failCause(issue.failure)
  open.error = mismatch(response, issue.success)
  return Effect.succeed(response)
}

/** A decode that is done already (a schema without asynchronous transformations gives its `Exit` at once). */
const isDone = <A, E, R>(effect: Effect.Effect<A, E, R>): effect is Exit.Exit<A, E> => Exit.isExit(effect)

/**
 * A sender whose responses have their bodies decoded (when the schema
 * applies). Only a call with a body schema pays for it.
 *
 * @internal
 */
export const decoding = <A, R>(sender: Sender, decode: Decode<A, R>): Sender<R> => (request, index) =>
  Effect.flatMap(sender(request, index), (response) => {
    if (!isDecoded(response)) return Effect.succeed(response)
    const result = decode(response.body)
    if (isDone(result)) return fold(response, result)
    return Effect.flatMap(Effect.exit(result), (exit) => fold(response, exit))
  })
