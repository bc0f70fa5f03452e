/** Every name a test tried to resolve that is neither loopback nor `.invalid`, in order (tests that provoke it clear it). */
export declare const forbidden: Array<string>

/** Worker threads report the names they refused on this channel. */
export declare const channelName: string

/** What the guard makes of a name: `localhost`, `loopback` (an address), `invalid` (the `.invalid` TLD) or `forbidden`. */
export declare const classify: (hostname: string) => "localhost" | "loopback" | "invalid" | "forbidden"

/** The error getaddrinfo gives for a name that does not exist (libuv's UV_EAI_NONAME). */
export declare const notFound: (hostname: string) => Error & {
  readonly errno: number
  readonly code: "ENOTFOUND"
  readonly syscall: "getaddrinfo"
  readonly hostname: string
}
