/**
 * Fixtures of the portable client tests (Deno, Node.js, Bun): certificates
 * from our PKI, a `node:tls` + `node:http` server on 127.0.0.1 that counts
 * what reaches it, a server that never answers, and `openssl s_server` as a
 * real peer. Only `node:` built-ins and the library.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { writeFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { join } from "node:path";
import tls from "node:tls";
import type { Logger, LogLevel } from "../../src/log/mod.ts";
import {
  type CertificateBundle,
  createRootCa,
  issueCertificate,
  type LeafOptions,
} from "../../src/pki/mod.ts";
import { computePins } from "../../src/pins/mod.ts";
import { RUNTIME } from "./_env.ts";

/** A certificate and its key, PEM. */
export interface Pair {
  cert: string;
  key: string;
}

/** Certificates of the client tests. */
export interface ClientFixtures {
  ca: string;
  /** Issues a server certificate under `ca` for localhost and 127.0.0.1. */
  issueServer(o: LeafOptions): Promise<Pair>;
  caBundle: CertificateBundle;
  otherCa: string;
  server: Pair;
  /** Another server key under the same CA. */
  otherKeyServer: Pair;
  otherCaServer: Pair;
  expiredServer: Pair;
  wrongNameServer: Pair;
  client: Pair;
  otherCaClient: Pair;
}

let cached: Promise<ClientFixtures> | undefined;

/** Made once per process (ec-p256). */
export function clientFixtures(): Promise<ClientFixtures> {
  cached ??= (async () => {
    const ca = await createRootCa({ commonName: "Portable Client CA" });
    const other = await createRootCa({ commonName: "Portable Other CA" });
    const leaf = async (issuer: CertificateBundle, role: "server" | "client", o: LeafOptions) => {
      const b = await issueCertificate(issuer, role, { exportable: true, ...o });
      return { cert: b.certificatePem, key: b.privateKeyPem! };
    };
    const local = "dns:localhost,ip:127.0.0.1";
    const day = 86_400_000;
    return {
      ca: ca.certificatePem,
      issueServer: (o) => leaf(ca, "server", { subjectAltNames: local, ...o }),
      caBundle: ca,
      otherCa: other.certificatePem,
      server: await leaf(ca, "server", { commonName: "localhost", subjectAltNames: local }),
      otherKeyServer: await leaf(ca, "server", { commonName: "other-key", subjectAltNames: local }),
      otherCaServer: await leaf(other, "server", {
        commonName: "localhost",
        subjectAltNames: local,
      }),
      expiredServer: await leaf(ca, "server", {
        commonName: "localhost",
        subjectAltNames: local,
        notBefore: new Date(Date.now() - 30 * day),
        notAfter: new Date(Date.now() - day),
      }),
      wrongNameServer: await leaf(ca, "server", {
        commonName: "example.com",
        subjectAltNames: "dns:example.com",
      }),
      client: await leaf(ca, "client", { commonName: "agent-1" }),
      otherCaClient: await leaf(other, "client", { commonName: "intruder" }),
    };
  })();
  return cached;
}

/** The `sha256/<base64>` SPKI pin of a PEM certificate. */
export function pinOf(certPem: string): string {
  return computePins(new Uint8Array(new X509Certificate(certPem).raw)).spki;
}

/** A server on 127.0.0.1 and what reached it. */
export interface TestServer {
  url: string;
  port: number;
  /** Completed TLS handshakes. */
  connections: number;
  /** Connections that have closed since. */
  closed: number;
  /** HTTP requests that reached the handler. */
  requests: number;
  close(): Promise<void>;
}

/** Options of {@link startTlsServer}: `node:tls` server options plus a handler. */
export interface TlsServerOptions extends tls.TlsOptions {
  handler?: (req: http.IncomingMessage, res: http.ServerResponse) => void;
}

/**
 * An mTLS server on 127.0.0.1 (`node:https`; on Bun `node:tls` handing its
 * sockets to `node:http`) that answers with the caller's certificate CN, the
 * method and the body it received, as JSON.
 */
export async function startTlsServer(options: TlsServerOptions): Promise<TestServer> {
  const { handler, ...tlsOptions } = options;
  const state = { connections: 0, closed: 0, requests: 0 };
  const sockets = new Set<net.Socket>();
  const onRequest: http.RequestListener = (req, res) => {
    state.requests++;
    if (handler) return handler(req, res);
    let body = "";
    req.on("data", (c) => body += c);
    req.on("end", () => {
      const peer = (req.socket as tls.TLSSocket).getPeerCertificate?.();
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ commonName: peer?.subject?.CN, method: req.method, body }));
    });
  };
  const admit = (socket: tls.TLSSocket) => {
    state.connections++;
    sockets.add(socket);
    socket.on("close", () => {
      state.closed++;
      sockets.delete(socket);
    });
  };
  const serverOptions = { requestCert: true, rejectUnauthorized: true, ...tlsOptions };
  // Deno's http.Server closes a TLS socket emitted into it after one response
  // (no keep-alive), and Bun's https.Server hands requests sockets without
  // getPeerCertificate: each runtime gets the server that keeps connections.
  let server: tls.Server;
  if (RUNTIME === "bun") {
    const web = http.createServer(onRequest);
    server = tls.createServer(serverOptions, (socket) => {
      admit(socket);
      web.emit("connection", socket);
    });
  } else {
    server = https.createServer(serverOptions, onRequest);
    server.on("secureConnection", admit);
  }
  server.on("tlsClientError", () => {});
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `https://127.0.0.1:${port}/`,
    port,
    get connections() {
      return state.connections;
    },
    get closed() {
      return state.closed;
    },
    get requests() {
      return state.requests;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * The port of a server that was listening on 127.0.0.1 and has closed: a
 * connection to it is refused (nothing else here binds ports at random).
 */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A TCP server that accepts connections and never says a word. */
export async function startSilentServer(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `https://127.0.0.1:${port}/`,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * `openssl s_server -www` on 127.0.0.1, port 0 read back from its `ACCEPT`
 * line, with `files` (written to `dir`) as its certificate, key and CA.
 */
export async function startOpenSsl(
  dir: string,
  files: { cert: string; key: string; ca: string },
  args: string[],
): Promise<{ url: string; close(): Promise<void> }> {
  const path = (name: string) => join(dir, name);
  await writeFile(path("s_server.crt"), files.cert);
  await writeFile(path("s_server.key"), files.key);
  await writeFile(path("s_server_ca.crt"), files.ca);
  const child: ChildProcess = spawn("openssl", [
    "s_server",
    "-www",
    "-accept",
    "127.0.0.1:0",
    "-cert",
    path("s_server.crt"),
    "-key",
    path("s_server.key"),
    "-CAfile",
    path("s_server_ca.crt"),
    "-verify_return_error",
    ...args,
  ], { stdio: ["ignore", "pipe", "ignore"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const port = await new Promise<number>((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("openssl s_server did not start")), 10_000);
    child.stdout!.on("data", (chunk) => {
      out += chunk;
      const m = /ACCEPT 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.once("exit", () => {
      clearTimeout(timer);
      reject(new Error(`openssl s_server exited: ${out}`));
    });
  });
  return {
    url: `https://127.0.0.1:${port}/`,
    async close() {
      child.kill("SIGTERM");
      await exited;
      child.stdout!.destroy();
    },
  };
}

/** An HTTP server on 127.0.0.1 that serves `crl` (DER, set once its URL is in a certificate) and counts the fetches. */
export async function startCrlServer(): Promise<
  { url: string; crl: Uint8Array; fetches: number; close(): Promise<void> }
> {
  const state: { fetches: number; crl: Uint8Array } = { fetches: 0, crl: new Uint8Array(0) };
  const server = http.createServer((_req, res) => {
    state.fetches++;
    res.writeHead(200, { "content-type": "application/pkix-crl" });
    res.end(state.crl);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/ca.crl`,
    set crl(der: Uint8Array) {
      state.crl = der;
    },
    get fetches() {
      return state.fetches;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A logger that keeps its records. */
export function recordingLogger(): Logger & { records: { level: LogLevel; msg: string }[] } {
  const records: { level: LogLevel; msg: string }[] = [];
  const at = (level: LogLevel) => (msg: string) => void records.push({ level, msg });
  return { records, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
