/**
 * A started `serveMcp` server as its caller holds it: its URL (announced in
 * the log), counters, TLS reload (which also recompiles the accepted hosts)
 * and an orderly close.
 *
 * @module
 */

import type { ServerMetrics } from "../log/metrics.ts";
import type { CompiledPolicy } from "../policy/policy.ts";
import type { ServerAdmission } from "../tls/server/admission.ts";
import type { MtlsListener } from "../tls/server/listener.ts";
import type { ResolvedTlsServerOptions } from "../tls/server/options.ts";
import type { HostGuard } from "./server_hosts.ts";
import type { ServerOps } from "./server_ops.ts";
import type { ResolvedServeOptions } from "./server_options.ts";
import type { RequestRouter } from "./server_route.ts";
import type { SessionStore } from "./server_sessions.ts";
import type { ObservableMcpServer } from "./server_types.ts";

/**
 * The parts of a started server.
 *
 * @example
 * ```ts ignore
 * return runningServer({ o, tls, policy, hosts, listener, admission, sessions, router, metrics, ops });
 * ```
 */
export interface RunningParts {
  /** Resolved options (address, path, logger). */
  o: ResolvedServeOptions;
  /** TLS settings (client auth mode, for the start line). */
  tls: ResolvedTlsServerOptions;
  /** The chain policy (its name, for the start line). */
  policy: CompiledPolicy;
  /** Accepted hosts, recompiled when the certificate changes. */
  hosts: HostGuard;
  /** The bound listener. */
  listener: MtlsListener;
  /** Pins and revocation steps, if any. */
  admission: ServerAdmission | undefined;
  /** The stateful sessions. */
  sessions: Pick<SessionStore, "size" | "close">;
  /** The requests in progress. */
  router: Pick<RequestRouter, "settled">;
  /** Counters. */
  metrics: ServerMetrics;
  /** Expiry warnings, TLS reload, health listener. */
  ops: ServerOps;
}

/**
 * Logs that the server is listening and returns its handle. `close()` drains
 * in order: the health path answers 503, sessions close, the listener closes
 * every connection, the admission steps stop, requests still in progress
 * finish, then the health listener and expiry timer stop. It is idempotent.
 *
 * @example
 * ```ts ignore
 * const server = runningServer(parts);
 * console.log(server.url);
 * ```
 */
export function runningServer(parts: RunningParts): ObservableMcpServer {
  const { o, tls, policy, hosts, listener, admission, sessions, router, metrics, ops } = parts;
  const { logger } = o;
  const { port } = listener.address;
  const host = o.hostname.includes(":") ? `[${o.hostname}]` : o.hostname;
  const url = `https://${host}:${port}${o.path}`;
  if (o.jsonResponse) {
    // Not a weakening, so info: but operators should know notifications during a call are dropped.
    logger.info(
      "JSON responses: each POSTed request is answered with one application/json body; notifications and requests sent during a call are dropped",
      { jsonResponse: true },
    );
  }
  logger.info("listening", {
    url,
    policy: policy.name,
    clientAuth: tls.clientAuth,
    sessions: o.sessions,
    allowedHosts: hosts.hosts,
  });

  let closing: Promise<void> | undefined;
  return {
    address: listener.address,
    url,
    get sessionCount() {
      return sessions.size;
    },
    healthUrl: ops.healthUrl,
    metrics: () => metrics.snapshot(),
    async reloadTls(material) {
      await ops.reloadTls(material);
      // A new certificate may name new hosts (or drop some).
      if (material.cert !== undefined) hosts.reload(material.cert);
    },
    close() {
      closing ??= (async () => {
        ops.draining();
        await sessions.close();
        await listener.close();
        admission?.close();
        await router.settled();
        await ops.close();
      })();
      return closing;
    },
  };
}
