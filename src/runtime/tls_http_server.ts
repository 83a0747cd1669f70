/**
 * An HTTPS server whose TLS side we watch (client certificates, handshake
 * errors) and whose HTTP side serves requests, built the way each runtime
 * gets it right.
 *
 * - Deno and Node.js: one `https.Server`. On Deno 2.9.6 a separate
 *   `http.Server` fed TLS sockets with `emit("connection")` closes each
 *   connection after its first response (measured: `resOnFinish` ends the
 *   socket), so keep-alive would be lost.
 * - Bun: `https.createServer` hands out sockets without `getPeerCertificate`,
 *   so a `tls.Server` accepts and an `http.Server` is handed each secure
 *   socket (keep-alive works there, measured on Bun 1.4.4).
 *
 * @module
 */

import http from "node:http";
import https from "node:https";
import tls from "node:tls";
import { runtimeName } from "./detect.ts";

/**
 * The two faces of the server (the same object where the runtime allows).
 *
 * @example
 * ```ts ignore
 * const srv = createTlsHttpServer({ cert, key, requestCert: true });
 * srv.tls.on("secureConnection", (s) => srv.serveHttp(s));
 * srv.http.on("request", (req, res) => res.end("ok"));
 * ```
 */
export interface TlsHttpServer {
  /** Accepts connections: `connection`, `tlsClientError`, `secureConnection`, `listen`, `close`, `setSecureContext`. */
  readonly tls: tls.Server;
  /** Serves requests: `request`, `checkContinue`, `keepAliveTimeout`, `closeAllConnections`. */
  readonly http: http.Server;
  /** Hands a secure socket to the HTTP side (nothing to do where both sides are one server). */
  serveHttp(socket: tls.TLSSocket): void;
}

/**
 * Creates the server for the running runtime with `options` (certificate,
 * key, client CAs, `requestCert`, versions, `handshakeTimeout`).
 *
 * @example A server that answers every request
 * ```ts ignore
 * import { createTlsHttpServer } from "@mtls/mcp/runtime";
 * const srv = createTlsHttpServer({ cert, key });
 * srv.tls.on("secureConnection", (s) => srv.serveHttp(s));
 * srv.http.on("request", (_req, res) => res.end("ok"));
 * srv.tls.listen(8443, "127.0.0.1");
 * ```
 */
export function createTlsHttpServer(options: tls.TlsOptions): TlsHttpServer {
  if (runtimeName() === "bun") {
    const web = http.createServer();
    return {
      tls: tls.createServer(options),
      http: web,
      serveHttp: (socket) => void web.emit("connection", socket),
    };
  }
  const server = https.createServer(options);
  return { tls: server, http: server, serveHttp: () => {} };
}
