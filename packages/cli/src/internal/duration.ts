/**
 * The duration grammar every door reads (`500`, `250ms`, `5s`, `1.5m`,
 * `5 seconds`, `Infinity`): the core's own, for flags that are not options
 * of the core (`loamy worker --lock-expiry`).
 *
 * @internal
 */
export { parseDuration } from "@loamy/core/Options"
