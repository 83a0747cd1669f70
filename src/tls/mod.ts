/**
 * TLS building blocks on `node:tls`: the server side (`server/`) and the
 * client's options, server-certificate checks and error mapping (`client/`).
 * The doctor, which uses both and the MCP client, is `@mtls/mcp/doctor`.
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
} from "./client/options.ts";
export { assertSupportedRuntime, checkDenoVersion, MINIMUM_DENO } from "./runtime_check.ts";
export { DEFAULT_CIPHERS, resolveTlsServerOptions } from "./server/options.ts";
export type {
  ClientAuthMode,
  ResolvedTlsServerOptions,
  TlsServerOptions,
} from "./server/options.ts";
export { classifyHandshakeError } from "./server/handshake_errors.ts";
export type { HandshakeFailure } from "./server/handshake_errors.ts";
export { listenMtls } from "./server/listener.ts";
export type { ListenMtlsOptions, MtlsListener, PeerState } from "./server/listener.ts";
export type { ProxyProtocolOptions } from "./server/proxy_accept.ts";
