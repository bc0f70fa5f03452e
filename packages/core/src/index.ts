/**
 * loamy's Effect core: send a clump of HTTP requests concurrently and get one
 * typed `RequestResponse` per request, in input order.
 *
 * @since 0.1.0
 */

/**
 * Make, send and stream clumps of requests.
 *
 * @since 0.1.0
 */
export * as Clump from "./Clump.js"

/**
 * The errors folded into responses, and the one bad input is refused with.
 *
 * @since 0.1.0
 */
export * as LoamyError from "./LoamyError.js"

/**
 * The options of a call, as a Schema: decoded once per call.
 *
 * @since 0.2.0
 */
export * as Options from "./Options.js"

/**
 * How far a call has got: the same figures at every door.
 *
 * @since 0.3.0
 */
export * as Progress from "./Progress.js"

/**
 * The contract between the engine and the transport under it (loamy's
 * undici client implements it): route leases, attempt deadlines, bounded
 * body reads.
 *
 * @since 1.0.0
 */
export * as Transport from "./Transport.js"

/**
 * One request: url, httpOp, body, queryParams, headers.
 *
 * @since 0.1.0
 */
export * as RequestMap from "./RequestMap.js"

/**
 * One result per request.
 *
 * @since 0.1.0
 */
export * as RequestResponse from "./RequestResponse.js"
