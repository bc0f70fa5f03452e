/**
 * One adapter per door, with one signature, so that a property written once
 * runs at every door: the Effect door (`Clump.send` on loamy's undici layer),
 * the Promise door (`sendRequests`), the synchronous door
 * (`sendRequestsSync`) and the CLI (`loamy send` on a JSONL file, and on a
 * JSON array file). Each sends the same requests with the same options and
 * gives back what came out in the same shape: one `Outcome` per response
 * (the fields the CLI writes in its records), or the refusal of the whole
 * call (bad input or options, nothing sent).
 *
 * @since 1.1.0
 */
import { Clump, LoamyError } from "@loamy/core"
import * as CoreOptions from "@loamy/core/Options"
import { Effect, Result } from "effect"
import { close, type Options, type RequestInput, type RequestResponse, sendRequests, sendRequestsSync } from "loamy"
import * as UndiciHttpClient from "loamy/UndiciHttpClient"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { jsonl, records, runLoamy } from "./cli.js"

/**
 * An error as the CLI writes it: its tag, its fields and its message.
 *
 * @since 1.1.0
 * @category models
 */
export interface ErrorFields {
  readonly _tag: string
  readonly message: string
  readonly [field: string]: unknown
}

/**
 * What one request got, at any door.
 *
 * @since 1.1.0
 * @category models
 */
export interface Outcome {
  /** Its place in the input (0-based). */
  readonly index: number
  /** The URL of its request, as the door reports it. */
  readonly url: string
  /** 0 when no response arrived. */
  readonly statusCode: number
  readonly headers: Readonly<Record<string, unknown>>
  readonly body: unknown
  readonly error: ErrorFields | undefined
  readonly attempts: number
}

/**
 * Why a door refused a whole call before sending anything: a request (its
 * index and field) or an option (its name, the top-level one: `retry` for
 * `retry.attempts`, as the CLI names it by its flag), with the same detail
 * at every door.
 *
 * @since 1.1.0
 * @category models
 */
export type Refusal =
  | { readonly _tag: "InvalidInputError"; readonly index: number; readonly field: string; readonly detail: string }
  | { readonly _tag: "InvalidOptionsError"; readonly option: string; readonly detail: string }

/**
 * What a call gave: one outcome per response, in the order the door wrote
 * them, or its refusal.
 *
 * @since 1.1.0
 * @category models
 */
export type Sent =
  | { readonly _tag: "Responses"; readonly outcomes: ReadonlyArray<Outcome> }
  | { readonly _tag: "Refused"; readonly refusal: Refusal }

/**
 * A door: sends `requests` with `options` and says what came out. Any
 * other failure of the call (a failed request with `returnExceptions:
 * false`, a CLI that did not exit as its help says) rejects.
 *
 * @since 1.1.0
 * @category models
 */
export interface Door {
  /** For test titles. */
  readonly name: string
  /**
   * What bad input refuses: the whole `call` before anything is sent, or
   * only its own `line` (JSONL is read line by line: the line gets its own
   * record with the error, not sent, and the others are sent).
   */
  readonly refuses: "call" | "line"
  readonly send: (requests: ReadonlyArray<RequestInput>, options?: Options) => Promise<Sent>
}

const errorFields = (error: { readonly _tag: string; readonly message: string }): ErrorFields => {
  const fields: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(error)) if (key !== "stack") fields[key] = value
  return { ...fields, _tag: error._tag, message: error.message }
}

const outcomes = (responses: ReadonlyArray<RequestResponse>): Sent => ({
  _tag: "Responses",
  outcomes: responses.map((response, index) => ({
    index,
    url: response.requestMap.url,
    statusCode: response.statusCode,
    headers: response.headers,
    body: response.body,
    error: response.error === undefined ? undefined : errorFields(response.error),
    attempts: response.attempts
  }))
})

/** The refusal `error` is, or `error` itself thrown again. */
const refused = (error: unknown): Sent => {
  if (LoamyError.isInvalidInputError(error)) {
    return { _tag: "Refused", refusal: { _tag: error._tag, index: error.index, field: error.field, detail: error.detail } }
  }
  if (LoamyError.isInvalidOptionsError(error)) {
    const option = error.option.split(".")[0]!
    return { _tag: "Refused", refusal: { _tag: error._tag, option, detail: error.detail } }
  }
  throw error
}

/**
 * The Effect door: `Clump.send(Clump.make(requests, options))` on loamy's
 * undici layer (`UndiciHttpClient.layer`).
 *
 * @since 1.1.0
 * @category doors
 */
export const effectDoor: Door = {
  name: "Effect",
  refuses: "call",
  send: (requests, options) =>
    Effect.runPromise(
      Clump.send(Clump.make(requests, options ?? {})).pipe(Effect.provide(UndiciHttpClient.layer), Effect.result)
    ).then((result) => Result.isSuccess(result) ? outcomes(result.success) : refused(result.failure))
}

/**
 * The Promise door: `sendRequests`.
 *
 * @since 1.1.0
 * @category doors
 */
export const promiseDoor: Door = {
  name: "Promise",
  refuses: "call",
  send: (requests, options) => sendRequests(requests, options).then(outcomes, refused)
}

/**
 * The synchronous door: `sendRequestsSync`. It blocks this thread until the
 * call is done: its servers must run in another process (`startProcess`).
 *
 * @since 1.1.0
 * @category doors
 */
export const syncDoor: Door = {
  name: "sync",
  refuses: "call",
  send: (requests, options) => {
    try {
      return Promise.resolve(outcomes(sendRequestsSync(requests, options)))
    } catch (error) {
      return new Promise((resolve) => resolve(refused(error)))
    }
  }
}

const isOptionName = (name: string): name is CoreOptions.OptionName => Object.hasOwn(CoreOptions.descriptors, name)

const isRecord = (value: unknown): value is Readonly<Record<string, unknown>> =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/** The flag of `descriptor` that sets the whole option (or the one that sets `field`). */
const flagOf = (name: string, field?: string): string => {
  const descriptor = isOptionName(name) ? CoreOptions.descriptors[name] : undefined
  const flag = descriptor?.flags.find((spec) =>
    field === undefined ? spec.sets === undefined : isRecord(spec.sets) && spec.sets["field"] === field
  )
  if (flag === undefined) throw new Error(`the CLI has no flag for ${field === undefined ? name : `${name}.${field}`}`)
  return `--${flag.name}`
}

const cannot = (name: string, value: unknown) =>
  new Error(`the CLI door cannot say ${name}: ${JSON.stringify(value)} (loamy send has no such flag)`)

/**
 * The flags of `loamy send` that say what `options` say, read off each
 * option's descriptor (the table the CLI derives its flags from).
 *
 * @since 1.1.0
 * @category doors
 */
export const cliFlags = (options: Options): Array<string> => {
  const args: Array<string> = []
  // Each value is checked for the form its descriptor says, as the CLI reads the flag's text.
  const entries: Array<[string, unknown]> = Object.entries(options)
  for (const [name, value] of entries) {
    if (value === undefined) continue
    if (!isOptionName(name)) throw cannot(name, value)
    const form = CoreOptions.descriptors[name].form
    if (form === "count" || form === "bytes" || form === "duration" || form === "url" || form === "statuses") {
      if (typeof value !== "number" && typeof value !== "string") throw cannot(name, value)
      args.push(flagOf(name), String(value))
    } else if (form === "boolean") {
      // returnExceptions: false is --fail-fast; exactNumbers is always on in the CLI.
      const off = CoreOptions.descriptors[name].flags.find((spec) => spec.sets === false)
      if (value === true && off !== undefined) continue
      if (value === true && name === "exactNumbers") continue
      if (value !== false || off === undefined) throw cannot(name, value)
      args.push(`--${off.name}`)
    } else if (form === "retry") {
      const attempts = isRecord(value) && Object.keys(value).every((key) => key === "attempts") ? value["attempts"] : value
      if (typeof attempts !== "number") throw cannot(name, value)
      args.push(flagOf(name), String(attempts))
    } else if (form === "rate") {
      if (typeof value === "string") args.push(flagOf(name), value)
      else if (isRecord(value)) {
        args.push(flagOf(name), `${value["limit"]}/${value["interval"]}`)
        if (value["perOrigin"] === true) args.push(flagOf(name, "perOrigin"))
      } else throw cannot(name, value)
    } else if (form === "headers") {
      if (!isRecord(value)) throw cannot(name, value)
      for (const [header, text] of Object.entries(value)) args.push(flagOf(name), `${header}: ${String(text)}`)
    } else {
      if (!Array.isArray(value)) throw cannot(name, value)
      for (const header of value) args.push(flagOf(name), String(header))
    }
  }
  return args
}

/** The option a flag (`--retry`) sets: its top-level name. */
const optionOfFlag = (flag: string): string => {
  for (const name of Object.keys(CoreOptions.descriptors)) {
    if (isOptionName(name) && CoreOptions.descriptors[name].flags.some((spec) => `--${spec.name}` === flag)) return name
  }
  return flag
}

/** The refusal `loamy send` printed when it exited 2 (nothing sent). */
const cliRefusal = (stderr: string): Sent => {
  const input = /^loamy: request at index (\d+) is invalid(?:, field ([^:]+))?: (.*)$/m.exec(stderr)
  if (input !== null) {
    return {
      _tag: "Refused",
      refusal: { _tag: "InvalidInputError", index: Number(input[1]), field: input[2] ?? "", detail: input[3]! }
    }
  }
  const option = /^loamy: invalid option (--[\w-]+): (.*)$/m.exec(stderr)
  if (option !== null) {
    return { _tag: "Refused", refusal: { _tag: "InvalidOptionsError", option: optionOfFlag(option[1]!), detail: option[2]! } }
  }
  throw new Error(`loamy send exited 2, saying:\n${stderr}`)
}

/** One record of `loamy send` as an `Outcome`; fails on a line that is not one. */
const cliOutcome = (record: Readonly<Record<string, unknown>>): Outcome => {
  const { attempts, body, error, headers, index, requestMap, statusCode } = record
  if (
    typeof index !== "number" || typeof statusCode !== "number" || typeof attempts !== "number" ||
    !isRecord(requestMap) || typeof requestMap["url"] !== "string" || !isRecord(headers) ||
    !(error === undefined || (isRecord(error) && typeof error["_tag"] === "string" && typeof error["message"] === "string"))
  ) throw new Error(`not a record of loamy send: ${JSON.stringify(record)}`)
  return {
    index,
    url: requestMap["url"],
    statusCode,
    headers,
    body,
    error: error === undefined ? undefined : { ...error, _tag: String(error["_tag"]), message: String(error["message"]) },
    attempts
  }
}

/**
 * The CLI: `loamy send --ordered -q FILE`, with `cliFlags(options)`, run as
 * a process on a file of the requests, JSONL or a JSON array. A JSON array is
 * checked whole before anything is sent; JSONL line by line.
 *
 * @since 1.1.0
 * @category doors
 */
export const cliDoor = (format: "jsonl" | "array"): Door => ({
  name: format === "jsonl" ? "CLI (JSONL file)" : "CLI (JSON array file)",
  refuses: format === "jsonl" ? "line" : "call",
  send: async (requests, options = {}) => {
    const flags = cliFlags(options)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "loamy-door-"))
    try {
      const file = path.join(dir, format === "jsonl" ? "requests.jsonl" : "requests.json")
      fs.writeFileSync(file, format === "jsonl" ? jsonl(requests) : JSON.stringify(requests))
      const ran = await runLoamy(["send", "--ordered", "-q", ...flags, file])
      if (ran.code === 2) return cliRefusal(ran.stderr)
      if (ran.code !== 0 && ran.code !== 1) throw new Error(`loamy send exited ${ran.code}, saying:\n${ran.stderr}`)
      return { _tag: "Responses", outcomes: records(ran.stdout).map(cliOutcome) }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
})

/**
 * Every door, in the order above.
 *
 * @since 1.1.0
 * @category doors
 */
export const doors: ReadonlyArray<Door> = [effectDoor, promiseDoor, syncDoor, cliDoor("jsonl"), cliDoor("array")]

/**
 * Closes what the doors keep between calls (the Promise door's runtime,
 * the synchronous door's worker): for a file's `afterAll`.
 *
 * @since 1.1.0
 * @category doors
 */
export const closeDoors = (): Promise<void> => close()
