/**
 * `/parse` and `/digest`: a request body as real parsers read it (the web
 * `Request.formData()` for multipart, `URLSearchParams` for forms), for the
 * tests of request bodies that are not JSON; and a body's size and SHA-256,
 * hashed as it streams in.
 *
 * @internal
 */
import { createHash } from "node:crypto"
import type * as http from "node:http"
import { json } from "./bodies.js"

const readBytes = async (req: http.IncomingMessage): Promise<Buffer> => {
  const chunks: Array<Buffer> = []
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk)
  return Buffer.concat(chunks)
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex")

/** A request body as real parsers read it (see `/parse`). */
const parseBody = async (req: http.IncomingMessage): Promise<Record<string, unknown>> => {
  const contentType = req.headers["content-type"] ?? ""
  const body = await readBytes(req)
  const out: Record<string, unknown> = {
    method: req.method,
    contentType: contentType === "" ? null : contentType,
    contentLength: req.headers["content-length"] ?? null,
    bytes: body.length,
    sha256: sha256(body)
  }
  const type = contentType.toLowerCase()
  if (type.startsWith("multipart/form-data")) {
    const form = await new Request("http://127.0.0.1/parse", {
      method: "POST",
      headers: { "content-type": contentType },
      body: Uint8Array.from(body)
    }).formData()
    const entries: Array<readonly [string, FormDataEntryValue]> = []
    form.forEach((value, name) => entries.push([name, value]))
    const parts: Array<Record<string, unknown>> = []
    for (const [name, value] of entries) {
      if (typeof value === "string") parts.push({ name, value })
      else {
        const bytes = new Uint8Array(await value.arrayBuffer())
        parts.push({ name, filename: value.name, type: value.type, size: value.size, sha256: sha256(bytes) })
      }
    }
    out["parts"] = parts
  } else if (type.startsWith("application/x-www-form-urlencoded")) {
    out["form"] = [...new URLSearchParams(body.toString("utf8"))]
  } else if (type.startsWith("text/")) {
    out["text"] = body.toString("utf8")
  } else {
    out["base64"] = body.toString("base64")
  }
  return out
}

/** `/parse`: the body as real parsers read it. @internal */
export const parse = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> =>
  json(res, 200, await parseBody(req))

/** `/digest`: the body's size, SHA-256 and type, hashed as it streams in (never held). @internal */
export const digest = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
  const hash = createHash("sha256")
  let bytes = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    bytes += chunk.length
    hash.update(chunk)
  }
  return json(res, 200, { bytes, sha256: hash.digest("hex"), contentType: req.headers["content-type"] ?? null })
}
