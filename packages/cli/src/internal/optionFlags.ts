/**
 * The flags of `loamy send` that set the core's options, made from the
 * core's option table (`Options.descriptors`): each option's flags with
 * their names, aliases, placeholders, help text and default come from
 * there, so an option added to the core's schema is a flag here. What a
 * flag's text means is the core's to check too: the values go into the
 * options as given (a duration or rate as text), and `Options.decode` reads
 * them when the run starts; a problem is reported with the flag's name
 * (`flagOfOption`). Only what the command line adds is read here: an
 * integer, `Name: value` headers, header names, switches, and the file a
 * `pem` flag names (`--ca FILE`), whose text is the option's value.
 *
 * @internal
 */
import * as Options from "@loamy/core/Options"
import * as fs from "node:fs"
import * as Flag from "effect/cli/Flag"
import * as Option from "effect/Option"
import * as Predicate from "effect/Predicate"
import * as Rec from "effect/Record"

/** What one flag gives: a value or none, a switch, or the entries of a repeatable flag. @internal */
export type FlagValue = Option.Option<string> | Option.Option<number> | boolean | ReadonlyArray<string>

/** The options' flags by option name, then by flag name. @internal */
export type OptionFlags = { readonly [K in Options.OptionName]: { readonly [flag: string]: Flag.Flag<FlagValue> } }

/** What the options' flags were given, by option name, then by flag name. @internal */
export type OptionFlagValues = { readonly [K in Options.OptionName]: { readonly [flag: string]: FlagValue } }

/**
 * The core's options as the command line gave them: read by
 * `Options.decode` when the run starts.
 *
 * @internal
 */
export type OptionInput = { readonly [K in Options.OptionName]?: unknown }

const names = Rec.keys(Options.descriptors)

/** The descriptors by any name, for names that come from elsewhere (an error's option path). */
const byName: Readonly<Record<string, Options.Descriptor | undefined>> = Options.descriptors

/**
 * A flag's help text: the flag's own text or the option's description,
 * whether it can be given more than once, and the option's default (not for
 * a flag that sets one field of the option or turns it off).
 *
 * @internal
 */
export const helpText = (descriptor: Options.Descriptor, flag: Options.Flag): string =>
  (flag.description ?? descriptor.description) +
  (flag.repeatable === true ? " Repeatable." : "") +
  (flag.sets === undefined ? ` Default ${descriptor.default}.` : "")

const toFlag = (descriptor: Options.Descriptor, spec: Options.Flag): Flag.Flag<FlagValue> => {
  const named = <A>(flag: Flag.Flag<A>): Flag.Flag<A> => {
    let out = Flag.withDescription(flag, helpText(descriptor, spec))
    if (spec.alias !== undefined) out = Flag.withAlias(out, spec.alias)
    if (spec.metavar !== undefined) out = Flag.withMetavar(out, spec.metavar)
    return out
  }
  switch (spec.form) {
    case "boolean":
      return Flag.withDefault(named(Flag.Boolean(spec.name)), false)
    case "count":
    case "bytes":
    case "retry":
      return Flag.optional(named(Flag.Int(spec.name)))
    default:
      return spec.repeatable === true
        ? Flag.atLeast(named(Flag.String(spec.name)), 0)
        : Flag.optional(named(Flag.String(spec.name)))
  }
}

/**
 * The options' flags, in the order of the core's schema.
 *
 * @internal
 */
export const flags: OptionFlags = Rec.map(
  Options.descriptors,
  (descriptor) => Object.fromEntries(descriptor.flags.map((flag) => [flag.name, toFlag(descriptor, flag)]))
)

/** A shell variable left as it is in a header value (`$TOKEN`, `${TOKEN}`): most likely quoted by mistake. */
const unexpandedVariable = (value: string): string | undefined =>
  /\$(?:\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)/.exec(value)?.[0]

/**
 * `Name: value` entries as headers; a message when one has no name (not
 * echoed: it may be a secret given without its name). `warn` hears of a
 * value that holds a shell variable as it is.
 */
const headersOf = (
  flag: string,
  entries: ReadonlyArray<string>,
  warn: (message: string) => void
): Record<string, string> | string => {
  const headers: Record<string, string> = {}
  for (const [n, text] of entries.entries()) {
    const colon = text.indexOf(":")
    const name = colon <= 0 ? "" : text.slice(0, colon).trim()
    if (name === "") return `--${flag} number ${n + 1} has no "Name:" in front of its value: give it as 'Name: value'`
    const value = text.slice(colon + 1).trim()
    headers[name] = value
    const unexpanded = unexpandedVariable(value)
    if (unexpanded !== undefined) {
      warn(
        `--${flag} ${name}: its value holds ${unexpanded} as it is, not the variable's value (single quotes keep ` +
          `the shell from expanding it: use double quotes, -H "${name}: ...${unexpanded}")`
      )
    }
  }
  return headers
}

/** A `pem` flag's file, read: its text is the option's value; a message when it cannot be read. */
const fileText = (flag: string, path: string): { readonly value: string } | string => {
  try {
    return { value: fs.readFileSync(path, "utf8") }
  } catch (error) {
    const code = error instanceof Error && "code" in error ? ` (${String(error.code)})` : ""
    return `--${flag} ${path}: cannot read the file${code}`
  }
}

/** What one flag sets, from what it was given; undefined when it was not given. */
const read = (
  spec: Options.Flag,
  given: FlagValue | undefined,
  warn: (message: string) => void
): { readonly value: unknown } | string | undefined => {
  if (given === undefined || given === false) return undefined
  if (given === true) return { value: spec.sets !== false }
  if (Option.isOption(given)) {
    if (given._tag === "None") return undefined
    return spec.form === "pem" && typeof given.value === "string" ? fileText(spec.name, given.value) : { value: given.value }
  }
  if (given.length === 0) return undefined
  if (spec.form === "headers") {
    const headers = headersOf(spec.name, given, warn)
    return typeof headers === "string" ? headers : { value: headers }
  }
  return { value: spec.form === "names" ? given.map((name) => name.trim()) : given }
}

/**
 * The options the flags give, for `Options.decode`; a message (a usage
 * error) when the command line itself is wrong.
 *
 * @internal
 */
export const toOptions = (values: OptionFlagValues, warn: (message: string) => void): OptionInput | string => {
  const options: { -readonly [K in Options.OptionName]?: unknown } = {}
  for (const name of names) {
    const descriptor = Options.descriptors[name]
    let value: unknown = undefined
    const fields: Record<string, unknown> = {}
    let fieldFlag: string | undefined
    for (const spec of descriptor.flags) {
      const given = read(spec, values[name][spec.name], warn)
      if (typeof given === "string") return given
      if (given === undefined) continue
      if (Predicate.isObject(spec.sets)) {
        fields[spec.sets.field] = given.value
        fieldFlag = spec.name
      } else {
        value = given.value
      }
    }
    if (fieldFlag !== undefined) {
      const whole = descriptor.flags.find((spec) => spec.sets === undefined)
      if (value === undefined) return `--${fieldFlag} needs --${whole?.name ?? name}`
      // `N/INTERVAL` as the object the field goes in; text that is not a rate is the core's to refuse.
      const rate = descriptor.form === "rate" && typeof value === "string" ? Options.parseRate(value) : undefined
      if (rate !== undefined) value = { limit: rate.limit, interval: rate.intervalMs }
      if (Predicate.isObject(value)) value = { ...value, ...fields }
    }
    if (value !== undefined) options[name] = value
  }
  return options
}

/**
 * The flag that sets an option, for messages: `concurrency` is
 * `--concurrency`, `retry.attempts` `--retry`, `rateLimit.perOrigin`
 * `--rate-per-origin`, `headers.X-Key` `--header`. An option without a flag
 * (or a name that is not an option) is named as it is.
 *
 * @internal
 */
export const flagOfOption = (option: string): string => {
  const [head, field] = option.split(".")
  const descriptor = Object.hasOwn(byName, head!) ? byName[head!] : undefined
  if (descriptor === undefined) return option
  const flag = descriptor.flags.find((spec) => Predicate.isObject(spec.sets) && spec.sets.field === field) ??
    descriptor.flags.find((spec) => spec.sets === undefined) ?? descriptor.flags[0]
  return flag === undefined ? option : `--${flag.name}`
}
