/**
 * The command line as effect/cli reads it, with one difference: a flag that
 * takes a value takes the next argument even when it starts with `-`
 * (`--header "-X: y"`, `-o -out.jsonl`), as getopt does and as loamy always
 * did. effect/cli's lexer reads such an argument as flags of its own unless
 * it is written `--header=-X: y`; here it is handed on in that form. Which
 * flags take a value comes from the command tree itself (`CommandSpec`).
 *
 * @internal
 */
import type * as Command from "effect/cli/Command"
import * as CommandSpec from "effect/cli/CommandSpec"
import * as Option from "effect/Option"

/** effect/cli's lexer reads these as values, not flags. */
const negativeNumber = /^-(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/

const isFlag = (arg: string): boolean => arg.length > 1 && arg.startsWith("-") && !negativeNumber.test(arg)

/** The names (without dashes) of the flags of `spec` that take a value. */
const valueFlags = (spec: CommandSpec.Spec): ReadonlySet<string> => {
  const names = new Set<string>()
  for (const flag of spec.flags) {
    if (flag.type._tag === "Boolean" || flag.optionalValue !== undefined) continue
    names.add(flag.name)
    for (const alias of flag.aliases) names.add(alias)
  }
  return names
}

/**
 * `args` (after the program name) with every value that starts with `-`
 * joined to its flag: `--header -X` becomes `--header=-X`, `-H -X` becomes
 * `-H=-X`. Nothing else changes, and nothing after `--` (which is never a
 * value: `-o --` leaves `-o` without one).
 *
 * @internal
 */
export const attachValues = (root: Command.Command.Any, args: ReadonlyArray<string>): ReadonlyArray<string> => {
  let spec = Option.getOrUndefined(CommandSpec.resolve(root, [root.name]))
  let takesValue = spec === undefined ? new Set<string>() : valueFlags(spec)
  // Only the first value at a level can name a subcommand (as effect/cli's parser reads it).
  let awaitingSubcommand = true
  const out: Array<string> = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--") {
      out.push(...args.slice(i))
      break
    }
    if (!isFlag(arg)) {
      const sub = awaitingSubcommand ? spec?.subcommands.find((s) => s.name === arg || s.alias === arg) : undefined
      if (sub !== undefined && spec !== undefined) {
        spec = Option.getOrUndefined(CommandSpec.resolve(root, [...spec.path, sub.name]))
        takesValue = spec === undefined ? new Set<string>() : valueFlags(spec)
      } else {
        awaitingSubcommand = false
      }
      out.push(arg)
      continue
    }
    // `--name=value` and `-x=value` carry their value already; `-abc` is -a -b -c, the last one taking a value.
    const name = arg.startsWith("--") ? arg.slice(2) : arg.slice(-1)
    const next = args[i + 1]
    if (arg.includes("=") || !takesValue.has(name) || next === undefined || next === "--") {
      out.push(arg)
      continue
    }
    if (isFlag(next)) out.push(`${arg}=${next}`)
    else out.push(arg, next)
    i++
  }
  return out
}
