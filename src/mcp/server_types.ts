/**
 * What `serveMcp` returns: the running server, its counters and hot reload.
 *
 * @module
 */

import type { MetricsSnapshot } from "../log/metrics.ts";
import type { TlsMaterial } from "./server_reload.ts";

/**
 * A running MCP server.
 *
 * @example Using McpMtlsServer
 * ```ts ignore
 * console.log(server.url); // https://127.0.0.1:8443/mcp
 * await server.close();
 * ```
 */
export interface McpMtlsServer {
  /** Bound address (the real port when `port` was 0). */
  readonly address: { hostname: string; port: number };
  /** URL of the MCP endpoint. */
  readonly url: string;
  /** Open stateful sessions. */
  readonly sessionCount: number;
  /** URL of the health path when the `health` option is set (plain HTTP). */
  readonly healthUrl?: string;
  /** Stops listening, closes every session and connection. Idempotent. */
  close(): Promise<void>;
}

/**
 * A server started by `serveMcp`: an {@link McpMtlsServer} with
 * counters and hot reload of its TLS material.
 *
 * @example Counters and a certificate rotation
 * ```ts ignore
 * console.log(server.metrics().handshakes.admitted);
 * await server.reloadTls({ cert: newCert, key: newKey });
 * ```
 */
export interface ObservableMcpServer extends McpMtlsServer {
  /** Counters now: handshakes and requests by outcome and reason, connections, sessions, expiry. */
  metrics(): MetricsSnapshot;
  /**
   * Replaces the server certificate, key and/or trusted client CAs without a
   * restart. Everything is validated first (parses, key matches certificate,
   * CAs parse); on failure the error is logged and thrown
   * (`CertificateError`, `ConfigError`) and the old material keeps serving.
   * Established connections and sessions are not affected.
   */
  reloadTls(material: TlsMaterial): Promise<void>;
}
