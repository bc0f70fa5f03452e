// Declarations for the undici lib/ files `undiciInternals.ts` imports (undici ships types for its public API only).
declare module "undici/lib/api/readable.js" {
  import type { Dispatcher } from "undici"
  const readable: {
    readonly Readable: new(options: {
      readonly resume: () => void
      readonly abort: (reason?: Error) => void
      readonly contentType?: string | undefined
      readonly contentLength?: number | null | undefined
    }) => Dispatcher.ResponseData["body"]
  }
  export default readable
}

declare module "undici/lib/core/util.js" {
  const util: {
    readonly parseHeaders: (
      rawHeaders: ReadonlyArray<Uint8Array | string>,
      obj?: Record<string, string | Array<string>>
    ) => Record<string, string | Array<string>>
    readonly destroy: (stream: NodeJS.ReadableStream | NodeJS.WritableStream, error?: Error | null) => void
  }
  export default util
}

declare module "undici/lib/core/errors.js" {
  const errors: {
    readonly RequestAbortedError: new(message?: string) => Error
  }
  export default errors
}
