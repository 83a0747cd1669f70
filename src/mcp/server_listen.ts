/**
 * The TLS side of `serveMcp`: the admission steps after the chain policy
 * (pins, revocation) and the mTLS listener with the server's limits and
 * timeouts. If listening fails, what was started for it is stopped.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import type { ServerMetrics } from "../log/metrics.ts";
import type { CompiledPolicy } from "../policy/policy.ts";
import { createServerAdmission, type ServerAdmission } from "../tls/server/admission.ts";
import { listenMtls, type MtlsListener, type PeerState } from "../tls/server/listener.ts";
import type { ResolvedTlsServerOptions } from "../tls/server/options.ts";
import { type SharedConnectionGates, withSharedGates } from "../tls/server/shared_gates.ts";
import type { ResolvedServeOptions, ServeMcpOptions } from "./server_options.ts";

/**
 * What {@link listenForMcp} starts.
 *
 * @example
 * ```ts ignore
 * const { listener, admission } = await listenForMcp({ ... });
 * await listener.close();
 * admission?.close();
 * ```
 */
export interface McpListening {
  /** The listener, bound. */
  listener: MtlsListener;
  /** The admission steps, when pins or revocation are configured. */
  admission: ServerAdmission | undefined;
}

/**
 * Builds the admission steps and starts the listener.
 *
 * @example
 * ```ts ignore
 * const { listener, admission } = await listenForMcp({
 *   o, tls, policy, pins: options.pins, revocation: options.revocation, metrics,
 *   onRequest: router.onRequest,
 * });
 * ```
 */
export async function listenForMcp(a: {
  o: ResolvedServeOptions;
  tls: ResolvedTlsServerOptions;
  policy: CompiledPolicy;
  pins: ServeMcpOptions["pins"];
  revocation: ServeMcpOptions["revocation"];
  metrics: ServerMetrics;
  reusePort?: boolean;
  /** Connection limits counted with other workers. @default {none: counted here} */
  gates?: SharedConnectionGates;
  onRequest(req: IncomingMessage, res: ServerResponse, state: PeerState): void;
}): Promise<McpListening> {
  const { o, tls } = a;
  const admission = await createServerAdmission({
    pins: a.pins,
    revocation: a.revocation,
    ca: tls.ca,
    logger: o.logger,
  });
  try {
    const listener = await listenMtls(withSharedGates({
      hostname: o.hostname,
      port: o.port,
      tls,
      policy: a.policy,
      handshakeTimeoutMs: o.handshakeTimeoutMs,
      maxConnections: o.maxConnections,
      maxConnectionsPerAddress: o.maxConnectionsPerAddress,
      connectionsPerAddress: o.connectionsPerAddress,
      connectionsPerIdentity: o.connectionsPerIdentity,
      headersTimeoutMs: o.headersTimeoutMs,
      requestTimeoutMs: o.requestTimeoutMs,
      admission,
      idleTimeoutMs: o.idleTimeoutMs,
      logger: o.logger,
      metrics: a.metrics,
      detailedTls: o.detailedTls,
      maxBodyBytes: o.maxBodyBytes,
      proxyProtocol: o.proxyProtocol,
      reusePort: a.reusePort,
      onRequest: a.onRequest,
    }, a.gates));
    return { listener, admission };
  } catch (e) {
    admission?.close();
    throw e;
  }
}
