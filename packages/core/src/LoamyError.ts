/**
 * The errors loamy folds into responses (one per request) and the one it
 * refuses bad input with. All are `Schema.TaggedError` classes, so they encode
 * to plain JSON (`{ "_tag": ..., ... }`) and decode back into the same classes
 * on the other side of a worker thread or a JSONL file.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { DownloadError } from "./internal/downloadErrors.js"
import {
  BodyDecodeError,
  BodyTooLargeError,
  DeadlineError,
  HttpStatusError,
  RedirectError,
  TimeoutError,
  TransportError
} from "./internal/exchangeErrors.js"
import {
  AbortedError,
  InvalidInputError,
  InvalidOptionsError,
  InvalidRequestError,
  RequestBodyError
} from "./internal/requestErrors.js"

export {
  /**
   * @since 0.2.0
   * @category formatting
   */
  displayUrl
} from "./internal/errorUrls.js"

export {
  /**
   * @since 0.1.0
   * @category errors
   */
  BodyDecodeError,
  /**
   * @since 0.3.0
   * @category models
   */
  BodyIssue,
  /**
   * @since 0.1.0
   * @category errors
   */
  BodyTooLargeError,
  /**
   * @since 0.1.0
   * @category errors
   */
  DeadlineError,
  /**
   * @since 0.3.0
   * @category formatting
   */
  formatBodyPath,
  /**
   * @since 1.1.0
   * @category errors
   */
  HttpStatusError,
  /**
   * @since 0.1.0
   * @category errors
   */
  RedirectError,
  /**
   * @since 0.1.0
   * @category errors
   */
  TimeoutError,
  /**
   * @since 0.1.0
   * @category errors
   */
  TransportError,
  /**
   * @since 0.1.0
   * @category models
   */
  TransportReason
} from "./internal/exchangeErrors.js"

export {
  /**
   * @since 1.1.0
   * @category errors
   */
  AbortedError,
  /**
   * @since 0.1.0
   * @category errors
   */
  InvalidInputError,
  /**
   * @since 0.1.0
   * @category errors
   */
  InvalidOptionsError,
  /**
   * @since 0.1.0
   * @category errors
   */
  InvalidRequestError,
  /**
   * @since 1.1.0
   * @category errors
   */
  RequestBodyError
} from "./internal/requestErrors.js"

export {
  /**
   * @since 1.1.0
   * @category errors
   */
  DownloadError,
  /**
   * @since 1.1.0
   * @category models
   */
  DownloadReason
} from "./internal/downloadErrors.js"

/**
 * Any error folded into a `RequestResponse`.
 *
 * @since 0.1.0
 * @category errors
 */
export const RequestError = Schema.Union([
  TransportError,
  InvalidRequestError,
  TimeoutError,
  DeadlineError,
  BodyDecodeError,
  BodyTooLargeError,
  RedirectError,
  HttpStatusError,
  RequestBodyError,
  AbortedError,
  DownloadError
])

/**
 * @since 0.1.0
 * @category errors
 */
export type RequestError = typeof RequestError.Type

/**
 * The tags of `RequestError`.
 *
 * @since 0.1.0
 * @category errors
 */
export type RequestErrorTag = RequestError["_tag"]

const requestErrorClasses = [
  TransportError,
  InvalidRequestError,
  TimeoutError,
  DeadlineError,
  BodyDecodeError,
  BodyTooLargeError,
  RedirectError,
  HttpStatusError,
  RequestBodyError,
  AbortedError,
  DownloadError
] as const

/**
 * @since 0.1.0
 * @category refinements
 */
export const isRequestError = (u: unknown): u is RequestError => requestErrorClasses.some((c) => u instanceof c)

/**
 * @since 0.1.0
 * @category refinements
 */
export const isInvalidInputError = (u: unknown): u is InvalidInputError => u instanceof InvalidInputError

/**
 * @since 0.2.0
 * @category refinements
 */
export const isInvalidOptionsError = (u: unknown): u is InvalidOptionsError => u instanceof InvalidOptionsError
