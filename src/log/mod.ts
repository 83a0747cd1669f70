/**
 * Structured logging: the {@link Logger} interface every module accepts and
 * {@link createLogger}, which writes pretty lines or JSON lines.
 *
 * @example
 * ```ts
 * import { createLogger } from "@mtls/mcp/log";
 * const log = createLogger({ level: "debug", format: "json" });
 * log.debug("handshake", { protocol: "TLSv1.3" });
 * ```
 *
 * @module
 */
export { createLogger, silentLogger } from "./logger.ts";
export type { CreateLoggerOptions, LogFields, Logger, LogLevel } from "./logger.ts";
export { createMetrics, prometheusText } from "./metrics.ts";
export type {
  CertificateExpiry,
  MetricsSnapshot,
  ServerMetrics,
  TrackedCertificate,
} from "./metrics.ts";
