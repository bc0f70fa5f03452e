/**
 * The jar `cookies: true` gives a call: tough-cookie's, in memory. Imported
 * only by a call that asks for one (see `cookies.ts`), so tough-cookie and
 * its public suffix list cost nothing to the others.
 *
 * @internal
 */
import { CookieJar } from "tough-cookie"

/**
 * A new jar. `Secure` cookies are kept and sent over https only, localhost
 * included (tough-cookie's default, as browsers, treats http to loopback as
 * secure); the other rules are tough-cookie's defaults: the public suffix
 * list is enforced, malformed cookies are dropped.
 *
 * @internal
 */
export const make = (): CookieJar => new CookieJar(undefined, { allowSecureOnLocal: false })
