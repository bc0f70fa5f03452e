/**
 * What a run stopped short says about completing it: where its records
 * went, and the `loamy send --resume` command that sends what is missing.
 *
 * @internal
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { REDACTED } from "./output.js"

/** `n one` or `n ones`. @internal */
export const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`

/**
 * An argument as a POSIX shell reads it back: bare when it is safe, else
 * single-quoted.
 *
 * @internal
 */
export const shellQuote = (arg: string): string =>
  /^[A-Za-z0-9_\-.,/:=@%+]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`

/**
 * The command that completes a run stopped short: the same arguments, with
 * `--resume FILE` for its output file (an `-o FILE` becomes `--resume FILE`).
 * Secret header values (`-H`) are shown as `<redacted>` unless
 * `showSecrets`. Undefined when the output cannot be read back (stdout).
 *
 * @internal
 */
export const resumeCommand = (
  argv: ReadonlyArray<string>,
  outputFile: string | undefined,
  resumed: boolean,
  secretNames: ReadonlySet<string>,
  showSecrets: boolean
): string | undefined => {
  if (outputFile === undefined || outputFile === "-") return undefined
  const args: Array<string> = []
  let hidden = false
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--") {
      args.push(...argv.slice(i))
      break
    }
    // -o FILE gives way to --resume FILE.
    if (!resumed && (arg === "-o" || arg === "--output")) {
      i++
      continue
    }
    if (!resumed && arg.startsWith("--output=")) continue
    const header = arg === "-H" || arg === "--header" ? argv[i + 1] : arg.startsWith("--header=") ? arg.slice(9) : undefined
    if (header !== undefined) {
      const colon = header.indexOf(":")
      const name = colon > 0 ? header.slice(0, colon).trim() : ""
      const secret = !showSecrets && (name === "" || secretNames.has(name.toLowerCase()))
      const shown = secret ? `${name === "" ? "NAME" : name}: ${REDACTED}` : header
      hidden ||= secret
      if (arg.startsWith("--header=")) args.push(`--header=${shown}`)
      else {
        args.push(arg, shown)
        i++
      }
      continue
    }
    args.push(arg)
  }
  if (!resumed) args.splice(1, 0, "--resume", outputFile)
  const text = ["loamy", ...args.map(shellQuote)].join(" ")
  return hidden ? `${text} (put the secret header values back in place of ${REDACTED})` : text
}

/**
 * Where the records went, and the file a `--resume` can read them back from:
 * the output file, or the file stdout was redirected to (Linux); none for a
 * pipe, a terminal or a device.
 *
 * @internal
 */
export const outputFile = (given: string | undefined): { readonly name: string; readonly file: string | undefined } => {
  try {
    if (given !== undefined && given !== "-") return { name: given, file: fs.statSync(given).isFile() ? given : undefined }
    if (!fs.fstatSync(1).isFile()) return { name: "stdout", file: undefined }
    const file = fs.readlinkSync("/proc/self/fd/1")
    return { name: `stdout (${file})`, file: path.isAbsolute(file) ? file : undefined }
  } catch {
    return { name: given ?? "stdout", file: undefined }
  }
}
