/**
 * The descriptor of an option: what the CLI, the READMEs and the cluster
 * need to know about it besides its schema. Exported by `Options`.
 *
 * (Not `@internal`: `Options` re-exports what it declares.)
 */

/**
 * How an option's value is written, for the CLI (how to read a flag's
 * text) and the documentation: `count` a whole number, `bytes` a whole
 * number of bytes, `duration` the duration grammar (`parseDuration`),
 * `boolean` a switch, `headers` `Name: value` entries, `names` header names,
 * `rate` `N/INTERVAL` (`parseRate`), `retry` a number of attempts (or
 * retry settings), `url` a URL or a keyword (`env`), `pem` PEM text (on the
 * command line, the path of a file that holds it), `statuses` HTTP
 * statuses, ranges and classes (`404`, `500-599`, `5xx`, comma-separated),
 * `path` a file system path, `template` a file name with `{field}`s.
 *
 */
export type ValueForm =
  | "count"
  | "bytes"
  | "duration"
  | "boolean"
  | "headers"
  | "names"
  | "rate"
  | "retry"
  | "url"
  | "pem"
  | "statuses"
  | "path"
  | "template"

/**
 * The CLI flag of an option (`loamy send`).
 *
 */
export interface Flag {
  /** Without dashes: `concurrency` is `--concurrency`. */
  readonly name: string
  /** One letter, without the dash: `c` is `-c`. */
  readonly alias?: string | undefined
  /** How the flag's text reads; `boolean` is a switch that takes no value. */
  readonly form: ValueForm
  /** The value's placeholder in help (`N`, `DURATION`); undefined for a switch. */
  readonly metavar?: string | undefined
  /** Given once per entry (`-H a -H b`). */
  readonly repeatable?: boolean | undefined
  /**
   * What the flag sets when it is not the whole option: `false` for a switch
   * that turns the option off (`--fail-fast` is `returnExceptions: false`),
   * or one field of the option's object (`--rate-per-origin` is
   * `rateLimit.perOrigin`).
   */
  readonly sets?: false | { readonly field: string } | undefined
  /** The flag's own help text, when the option's description does not fit the CLI. */
  readonly description?: string | undefined
}

/**
 * What there is to know about an option besides its schema: declared with
 * it in `OptionsSchema`.
 *
 */
export interface Descriptor {
  /** One or two sentences for help texts and the README's table. */
  readonly description: string
  /** The default as people read it (`100`, `5 minutes`, `none`): the README's table shows exactly this. */
  readonly default: string
  readonly form: ValueForm
  /** Its CLI flags: none (`exactNumbers`, always on in the CLI), one, or more (`rateLimit`). */
  readonly flags: ReadonlyArray<Flag>
}
