/**
 * What the terminal gets: colour or plain text, and text cut to a width.
 *
 * @internal
 */

/**
 * Whether a stream gets plain text: `NO_COLOR` set to anything but the empty
 * string (https://no-color.org) always; else unless `FORCE_COLOR` is set to
 * anything but "", "0" or "false", whenever the stream is not a terminal.
 *
 * @internal
 */
export const plain = (stream: { readonly isTTY?: boolean }): boolean => {
  const noColor = process.env["NO_COLOR"]
  if (noColor !== undefined && noColor !== "") return true
  const force = process.env["FORCE_COLOR"]
  if (force !== undefined && force !== "" && force !== "0" && force !== "false") return false
  return stream.isTTY !== true
}

/** `text` in at most `width` characters: cut, with an ellipsis, when longer. @internal */
export const fit = (text: string, width: number): string =>
  width <= 0 ? "" : text.length <= width ? text : width === 1 ? "…" : text.slice(0, width - 1) + "…"
