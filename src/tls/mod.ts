/**
 * TLS building blocks on `node:tls`: the server side and the client's
 * options, server-certificate checks and error mapping.
 *
 * @example Validate client options once
 * ```ts
 * import type { MtlsClientOptions } from "@mtls/mcp/tls";
 * const options: MtlsClientOptions = { policy: "strict", minVersion: "TLSv1.3" };
 * console.log(options.policy);
 * ```
 *
 * @module
 */
export type {
  ClientPolicy,
  MtlsClientOptions,
  PemInput,
  TlsClientVersion,
} from "./client_options.ts";
export { assertSupportedRuntime, checkDenoVersion, MINIMUM_DENO } from "./runtime_check.ts";
export { DEFAULT_CIPHERS, resolveTlsServerOptions } from "./server_options.ts";
export type {
  ClientAuthMode,
  ResolvedTlsServerOptions,
  TlsServerOptions,
} from "./server_options.ts";
export { classifyHandshakeError } from "./handshake_errors.ts";
export type { HandshakeFailure } from "./handshake_errors.ts";
export { listenMtls } from "./server.ts";
export type { ListenMtlsOptions, MtlsListener, PeerState } from "./server.ts";
export { diagnoseConnection } from "./diagnose.ts";
export type { DiagnoseOptions } from "./diagnose.ts";
export { diagnosisJson, formatDiagnosis } from "./diagnose_report.ts";
export type { Diagnosis, DiagnosisStep, StepStatus } from "./diagnose_report.ts";
