/**
 * loamy's package version, sent in the default `User-Agent: loamy/<version>`.
 * A constant rather than a read of package.json, so that the bundled worker
 * carries it too; `test/version.test.ts` fails when it drifts from
 * package.json.
 *
 * @internal
 */
export const version = "0.0.0"
