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
