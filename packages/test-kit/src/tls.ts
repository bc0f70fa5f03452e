/**
 * TLS for tests: a certificate authority and a server certificate for 127.0.0.1 made by the test with Debian's
 * `openssl` (nothing committed to the repository), and a TLS server in a child process that offers HTTP/2 or
 * only HTTP/1.1 (`../fixtures/tls-server.mjs`).
 */
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export interface TestCa {
  /** The CA's certificate, PEM: what a client is told to trust. */
  readonly caPem: string
  readonly caPath: string
  /** The server's key and certificate (signed by the CA, for IP 127.0.0.1). */
  readonly keyPath: string
  readonly certPath: string
  readonly dir: string
}

/** Makes a CA and a server certificate for 127.0.0.1 signed by it, in a temporary directory. */
export const makeTestCa = (): TestCa => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "loamy-ca-"))
  const at = (name: string) => path.join(dir, name)
  const openssl = (args: ReadonlyArray<string>) => {
    try {
      execFileSync("openssl", args, { cwd: dir, stdio: ["ignore", "ignore", "pipe"] })
    } catch (error) {
      throw new Error(`the TLS tests make their certificates with openssl (Debian's openssl package): ${String(error)}`)
    }
  }
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
  openssl(["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=loamy test CA"])
  openssl(["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1"])
  fs.writeFileSync(at("ext.cnf"), "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
  openssl([
    "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
    "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf"
  ])
  return {
    caPem: fs.readFileSync(at("ca.pem"), "utf8"),
    caPath: at("ca.pem"),
    keyPath: at("server.key"),
    certPath: at("server.pem"),
    dir
  }
}

export interface TlsServer {
  /** `https://127.0.0.1:PORT`. */
  readonly url: string
  close(): Promise<void>
}

const fixture = fileURLToPath(new URL("../fixtures/tls-server.mjs", import.meta.url))

/** What the TLS server answers: the HTTP version it saw and which connection (session or socket) it came on. */
export interface Seen {
  readonly httpVersion: string
  readonly connection: number
}

/** Starts the TLS server in a child process: `h2` offers HTTP/2 (and HTTP/1.1), `h1` HTTP/1.1 only. */
export const startTlsServer = (ca: TestCa, mode: "h2" | "h1"): Promise<TlsServer> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture, ca.keyPath, ca.certPath, mode], { stdio: ["pipe", "pipe", "inherit"] })
    let out = ""
    child.on("error", reject)
    child.on("exit", (code) => reject(new Error(`the TLS server exited (${code}) before it listened`)))
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      out += chunk
      const line = out.indexOf("\n")
      if (line < 0) return
      const { url } = JSON.parse(out.slice(0, line)) as { url: string }
      resolve({
        url,
        close: () =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done()
            child.once("exit", () => done())
            child.stdin.end()
          })
      })
    })
  })

/** A CA made for the test and two servers with its certificate: one that offers HTTP/2, one HTTP/1.1 only. */
export interface TlsPair {
  readonly ca: TestCa
  readonly h2: TlsServer
  readonly h1: TlsServer
  /** Stops both servers and removes the CA's files. */
  close(): Promise<void>
}

/** Makes a CA and starts both servers (see `TlsPair`). */
export const startTlsPair = async (): Promise<TlsPair> => {
  const ca = makeTestCa()
  const [h2, h1] = await Promise.all([startTlsServer(ca, "h2"), startTlsServer(ca, "h1")])
  return {
    ca,
    h2,
    h1,
    close: async () => {
      await Promise.all([h2.close(), h1.close()])
      fs.rmSync(ca.dir, { recursive: true, force: true })
    }
  }
}
