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
 *   so a `tls.Server` does the TLS and an `http.Server` is handed each secure
 *   socket (keep-alive works there, measured on Bun 1.4.4). A `net.Server`
 *   accepts and hands each TCP socket to the `tls.Server`: a `tls.Server`
 *   listening itself gives its "connection" listeners the TLS socket, whose
 *   `bytesRead` counts decrypted bytes only, so a failed handshake could not
 *   be told from a bare connect (the accept gate needs that); handed a TCP
 *   socket, Bun also sets the TLS socket's `_parent` to it, as Deno and
 *   Node.js do.
 *
 * @module
 */

import http from "node:http";
import https from "node:https";
import net from "node:net";
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
  /** Listens: `listen`, `address`, `close`, `error`. */
  readonly listener: net.Server;
  /** Does the TLS: `connection` (the TCP socket), `tlsClientError`, `secureConnection`, `setSecureContext`. */
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
 * srv.listener.listen(8443, "127.0.0.1");
 * ```
 */
export function createTlsHttpServer(options: tls.TlsOptions): TlsHttpServer {
  if (runtimeName() === "bun") {
    const web = http.createServer();
    const secure = tls.createServer(options);
    return {
      listener: net.createServer((socket) => void secure.emit("connection", socket)),
      tls: secure,
      http: web,
      serveHttp: (socket) => void web.emit("connection", socket),
    };
  }
  const server = https.createServer(options);
  return { listener: server, tls: server, http: server, serveHttp: () => {} };
}
