/**
 * The operational side of a running `serveMcp` server: the certificates it
 * tracks for expiry (warned about at start and daily), hot reload of the TLS
 * material, and the optional health listener.
 *
 * @module
 */

import type { Logger } from "../log/logger.ts";
import type { ServerMetrics } from "../log/metrics.ts";
import { scheduleExpiryWarnings, trackCertificates } from "../log/tls_events.ts";
import { parseCertificates } from "../pki/parse_certificates.ts";
import { parseCaCertificates } from "../policy/policy.ts";
import type { MtlsListener } from "../tls/server/listener.ts";
import type { TlsServerOptions } from "../tls/server/options.ts";
import { type HealthServer, startHealthServer } from "./health.ts";
import type { ResolvedServeOptions } from "./server_options.ts";
import { createTlsReloader, type TlsMaterial, type TlsValidationContext } from "./server_reload.ts";

/**
 * What {@link startServerOps} gives the server.
 *
 * @example Rotating and stopping
 * ```ts ignore
 * await ops.reloadTls({ cert, key });
 * await ops.close();
 * ```
 */
export interface ServerOps {
  /** Validates and installs new TLS material (see `McpMtlsServer.reloadTls`). */
  reloadTls(material: TlsMaterial): Promise<void>;
  /** URL of the health path, when the health listener runs. */
  healthUrl?: string;
  /** The health path answers 503 from now on. */
  draining(): void;
  /** Stops the expiry timer and the health listener. */
  close(): Promise<void>;
}

/**
 * Starts expiry tracking and warnings, the reloader and the health listener.
 *
 * @example Using startServerOps
 * ```ts ignore
 * const ops = await startServerOps({ options: o, tls: options.tls, context, listener, metrics });
 * ```
 */
export async function startServerOps(a: {
  options: ResolvedServeOptions;
  tls: TlsServerOptions;
  context: TlsValidationContext;
  listener: Pick<MtlsListener, "update">;
  metrics: ServerMetrics;
  revocation: boolean;
}): Promise<ServerOps> {
  const { options: o, metrics } = a;
  const logger: Logger = o.logger;
  const served = parseCertificates(a.tls.cert, { source: "tls.cert" }).slice(0, 1);
  const cas = parseCaCertificates(
    a.tls.ca === undefined ? [] : Array.isArray(a.tls.ca) ? a.tls.ca : [a.tls.ca],
  );
  metrics.setCertificates(trackCertificates(served, cas));
  const stopWarnings = scheduleExpiryWarnings(
    () => metrics.certificates(),
    o.expiryWarningDays,
    o.now,
    logger,
  );
  const reloadTls = createTlsReloader({
    current: a.tls,
    context: a.context,
    listener: a.listener,
    metrics,
    logger,
    now: o.now,
    expiryWarningDays: o.expiryWarningDays,
    revocationIssuersFixed: a.revocation,
  });
  let health: HealthServer | undefined;
  if (o.health) {
    try {
      health = await startHealthServer(o.health, () => metrics.snapshot(), logger);
    } catch (e) {
      stopWarnings();
      throw e;
    }
  }
  return {
    reloadTls,
    healthUrl: health?.url,
    draining: () => health?.draining(),
    async close() {
      stopWarnings();
      await health?.close();
    },
  };
}
