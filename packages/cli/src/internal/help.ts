/**
 * What `loamy` prints besides records: help, its version and usage errors,
 * all of it effect/cli's own, rendered by its default formatter. loamy
 * changes three things, through effect/cli's `CliOutput.Formatter` and
 * `CliOutput.Presenter`:
 *
 * - colour follows loamy's rule (`terminal.plain`: `NO_COLOR`,
 *   `FORCE_COLOR`, a terminal or not), and a description of several
 *   paragraphs keeps its indentation;
 * - `--version` prints the bare version, as scripts read it;
 * - a usage error is one line per problem on stderr, in loamy's words (an
 *   unknown option, a value that is not an integer, a mistyped command with
 *   the nearest known one, from effect/cli's own suggestions), and a pointer
 *   to `--help`: stdout stays empty, so an output redirected to a file never
 *   gets a help text.
 *
 * @internal
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import type * as CliError from "effect/cli/CliError"
import * as CliOutput from "effect/cli/CliOutput"
import type * as Command from "effect/cli/Command"
import * as CommandSpec from "effect/cli/CommandSpec"
import type * as HelpDoc from "effect/cli/HelpDoc"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { plain } from "./terminal.js"

/**
 * effect/cli's formatter with loamy's colour rule, paragraphs indented and
 * the bare version.
 *
 * @internal
 */
export const formatter = (): CliOutput.Formatter => {
  const base = CliOutput.defaultFormatter({ colors: !plain(process.stdout), globalFlags: "summary" })
  return {
    ...base,
    formatHelpDoc: (doc) => base.formatHelpDoc(indented(doc)),
    formatVersion: (_name, version) => version
  }
}

/** effect/cli indents a description's first line only: every paragraph gets the same two spaces. */
const indented = (doc: HelpDoc.HelpDoc): HelpDoc.HelpDoc =>
  doc.description.includes("\n") ? { ...doc, description: doc.description.replaceAll(/\n(?=.)/g, "\n  ") } : doc

/**
 * Where effect/cli's output goes: help asked for and the version on stdout;
 * a usage error on stderr, in loamy's words (see `usageError`); help shown
 * because a command needs a subcommand (the run then fails) on stderr too.
 *
 * @internal
 */
export const presenter = (root: Command.Command.Any): CliOutput.Presenter => ({
  present: (event) =>
    Effect.flatMap(CliOutput.Formatter, (format) => {
      switch (event._tag) {
        case "Help":
          return event.reason === "Requested"
            ? Console.log(format.formatHelpDoc(event.helpDoc))
            : Console.error(format.formatHelpDoc(event.helpDoc))
        case "Version":
          return Console.log(format.formatVersion(event.name, event.version))
        case "InvalidInvocation":
          return Console.error(usageError(root, event.commandPath, event.errors))
      }
    })
})

/**
 * The layer of `formatter` and `presenter`.
 *
 * @internal
 */
export const layer = (root: Command.Command.Any): Layer.Layer<never> =>
  Layer.merge(CliOutput.layer(formatter()), CliOutput.layerPresenter(presenter(root)))

const didYouMean = (suggestions: ReadonlyArray<string>): string =>
  suggestions.length === 0 ? "" : `; did you mean ${suggestions.join(" or ")}?`

/**
 * A usage error as loamy says it: `loamy send: unknown option "--retyr";
 * did you mean --retry?`, `loamy send --concurrency: "abc" is not an
 * integer`, `loamy: unknown command "sned"; did you mean send?`, one line
 * per problem, then where to read more. Flag types come from the command's
 * own spec (`CommandSpec`).
 *
 * @internal
 */
export const usageError = (
  root: Command.Command.Any,
  commandPath: ReadonlyArray<string>,
  errors: ReadonlyArray<CliError.NonShowHelpErrors>
): string => {
  const command = commandPath.join(" ")
  const spec = Option.getOrUndefined(CommandSpec.resolve(root, commandPath))
  let hint = `Run "${command} --help" for the flags.`
  const lines = errors.map((error): string => {
    switch (error._tag) {
      case "UnrecognizedOption": {
        // A mistyped short flag is one letter away from every other one: no suggestion for those.
        const long = error.option.startsWith("--")
        return `${command}: unknown option ${JSON.stringify(error.option)}${long ? didYouMean(error.suggestions) : ""}`
      }
      case "UnknownSubcommand": {
        const parent = error.parent === undefined ? command : error.parent.join(" ")
        hint = `Run "${parent} --help" for the commands.`
        return `${parent}: unknown command ${JSON.stringify(error.subcommand)}${didYouMean(error.suggestions)}`
      }
      case "InvalidValue": {
        if (error.kind === "argument") return `${command}: ${error.message}`
        if (error.value === "") return `${command} --${error.option} needs a value`
        const type = spec?.flags.find((flag) => flag.name === error.option)?.type
        const expected = type?._tag === "Int"
          ? "is not an integer"
          : type?._tag === "Choice"
          ? `is not one of ${type.values.join(", ")}`
          : `is not valid: ${error.expected}`
        return `${command} --${error.option}: ${JSON.stringify(error.value)} ${expected}`
      }
      case "MissingOption":
        return `${command} needs --${error.option}`
      case "MissingArgument":
        return `${command} needs ${error.argument}`
      case "UnexpectedArgument":
        // Not quoted: most likely a flag's value with a space, cut in two by the shell (a header's secret).
        return `${command}: ${error.arguments.length} more ${
          error.arguments.length === 1 ? "argument" : "arguments"
        } than it takes (quote a value that holds spaces)`
      default:
        return `${command}: ${error.message}`
    }
  })
  return [...lines, hint].join("\n")
}
