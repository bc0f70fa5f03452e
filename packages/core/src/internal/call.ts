/**
 * A call's set-up around the scheduler, shared by `Clump.send`, the streams
 * and the unchecked entry points: its route (sockets and proxy), its sender,
 * redirects handled by the engine, progress and a span when asked.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as HttpClient from "effect/http/HttpClient"
import * as Result from "effect/Result"
import type * as Schema from "effect/Schema"
import type * as Stream from "effect/Stream"
import type { InvalidInputError, InvalidOptionsError, RequestError } from "../LoamyError.js"
import * as Options from "../Options.js"
import * as Progress from "../Progress.js"
import * as RequestMap from "../RequestMap.js"
import type { RequestResponse } from "../RequestResponse.js"
import * as engine from "./engine.js"
import { withRoute } from "./route.js"
import * as scheduler from "./scheduler.js"
import * as typedBody from "./typedBody.js"

/** What a clump is once checked. @internal */
export interface Prepared<A, R> {
  readonly resolved: Options.Resolved
  readonly requests: ReadonlyArray<RequestMap.RequestMap>
  readonly decode: typedBody.Decode<A, R> | undefined
}

/** Checks a clump's options, body schema and requests, in that order. @internal */
export const prepare = <A, R>(
  options: unknown,
  body: Schema.Decoder<A, R> | undefined,
  requests: Iterable<unknown>
): Result.Result<Prepared<A, R>, InvalidOptionsError | InvalidInputError> => {
  const resolved = Options.decode(options)
  if (Result.isFailure(resolved)) return Result.fail(resolved.failure)
  const decode = typedBody.decoderFor(body)
  if (Result.isFailure(decode)) return Result.fail(decode.failure)
  const checked = RequestMap.validateAll(requests, resolved.success)
  if (Result.isFailure(checked)) return Result.fail(checked.failure)
  return Result.succeed({ resolved: resolved.success, requests: checked.success, decode: decode.success })
}

/** @internal */
export const runCall = <A, E, R>(
  resolved: Options.Resolved,
  size: number | undefined,
  body: (sender: engine.Sender, counters: scheduler.Counters | undefined) => Effect.Effect<A, E, R>
): Effect.Effect<A, E | InvalidOptionsError, R | HttpClient.HttpClient> =>
  Effect.flatMap(Effect.serviceOption(Progress.Reporter), (reporter) => {
    // Counting costs nothing measurable, but only a call that reports progress does it.
    const counters = reporter._tag === "Some" ? scheduler.makeCounters() : undefined
    const run = Effect.flatMap(engine.makeSender(resolved), (sender) => body(sender, counters))
    const redirected = engine.manualRedirects(withRoute(resolved, run))
    const sent = reporter._tag === "None" || counters === undefined
      ? redirected
      : Progress.reporting(reporter.value, counters, size, redirected)
    return Effect.flatMap(engine.isTracing, (traced) =>
      traced
        ? Effect.withSpan(sent, "loamy.send", {
          captureStackTrace: false,
          attributes: size === undefined
            ? { "loamy.concurrency": resolved.concurrency }
            : { "loamy.requests": size, "loamy.concurrency": resolved.concurrency }
        })
        : sent)
  })

/**
 * Runs checked requests on the scheduler and collects their responses in
 * input order. The error type is the caller's to say: a `RequestError` only
 * with `failFast`, which the clump's type follows (`returnExceptions`).
 *
 * @internal
 */
export const collect = <E, R>(
  requests: ReadonlyArray<RequestMap.RequestMap>,
  resolved: Options.Resolved,
  sender: engine.Sender<R>,
  counters: scheduler.Counters | undefined
): Effect.Effect<ReadonlyArray<RequestResponse>, E, R> =>
  // Each run of the effect gets its own results and source.
  Effect.suspend(() => {
    const results = new Array<RequestResponse>(requests.length)
    const run = scheduler.run<RequestMap.RequestMap, never, never, R, never>({
      concurrency: resolved.concurrency,
      perOrigin: resolved.concurrencyPerOrigin,
      counters,
      ordered: false,
      failFast: resolved.failFast,
      pull: scheduler.fromArray(requests),
      size: requests.length,
      check: undefined,
      sender,
      onResult: (response: RequestResponse, index) => {
        results[index] = response
        return undefined
      }
    })
    return Effect.as(failingAsTyped<E>()(run), results)
  })

/**
 * A call's run, its `RequestError` failure given the type its clump says:
 * `RequestError` with `returnExceptions: false`, `never` otherwise (the
 * run fails with one only under `failFast`, which is that option). The one
 * place where a value decides a type, so the one cast.
 *
 * @internal
 */
export const failingAsTyped = <E>() => <A, E2, R>(self: Effect.Effect<A, E2, R>) =>
  self as Effect.Effect<A, E | Exclude<E2, RequestError>, R>

/** `failingAsTyped` for a stream. @internal */
export const streamFailingAsTyped = <E>() => <A, E2, R>(self: Stream.Stream<A, E2, R>) =>
  self as Stream.Stream<A, E | Exclude<E2, RequestError>, R>

/** @internal */
export const sendChecked = <E, A, R>(
  requests: ReadonlyArray<RequestMap.RequestMap>,
  resolved: Options.Resolved,
  decode: typedBody.Decode<A, R> | undefined
): Effect.Effect<ReadonlyArray<RequestResponse>, E | InvalidOptionsError, R | HttpClient.HttpClient> =>
  runCall(resolved, requests.length, (sender, counters) =>
    decode === undefined
      ? collect<E, never>(requests, resolved, sender, counters)
      : collect<E, R>(requests, resolved, typedBody.decoding(sender, decode), counters))
