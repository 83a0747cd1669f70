/**
 * Translates what Deno's `node:tls` reports for a failed server-side
 * handshake (`tlsClientError`) into design reason codes.
 *
 * Measured on Deno 2.9.6 (rustls underneath):
 * - TLS 1.0/1.1 client: `ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE`,
 *   "peer is incompatible: SignatureAlgorithmsExtensionRequired"
 * - no shared (e.g. CBC-only) cipher: "peer is incompatible: NoCipherSuitesInCommon"
 * - idle client: "TLS handshake timeout" (from the `handshakeTimeout` option)
 * - no client certificate with `rejectUnauthorized: true`:
 *   `ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE`
 * - client gave up (e.g. rejected our certificate): `ECONNRESET` "socket hang up"
 *
 * @module
 */

import type { ReasonCode } from "../errors.ts";

/**
 * A classified handshake failure. `handshake_failed` is used when the client
 * aborted (it is not a refusal by the server).
 *
 * @example
 * ```ts
 * import type { HandshakeFailure } from "@mtls/mcp/tls";
 * const f: HandshakeFailure = { reason: "protocol_version", detail: "TLS 1.1" };
 * ```
 */
export interface HandshakeFailure {
  /** Reason code. */
  reason: ReasonCode | "handshake_failed";
  /** The runtime's own message, kept for the log. */
  detail: string;
}

/**
 * Classifies a `tlsClientError` error.
 *
 * @example
 * ```ts
 * import { classifyHandshakeError } from "@mtls/mcp/tls";
 * classifyHandshakeError(new Error("TLS handshake timeout")).reason; // "handshake_timeout"
 * ```
 */
export function classifyHandshakeError(err: unknown): HandshakeFailure {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === "string" ? e.code : "";
  const message = typeof e?.message === "string" ? e.message : String(err);
  const detail = code ? `${code}: ${message}` : message;
  const has = (s: string) => detail.toLowerCase().includes(s.toLowerCase());
  let reason: HandshakeFailure["reason"] = "handshake_failed";
  if (code === "ERR_TLS_HANDSHAKE_TIMEOUT" || has("handshake timeout")) {
    reason = "handshake_timeout";
  } else if (has("DID_NOT_RETURN_A_CERTIFICATE") || has("no certificates")) {
    reason = "no_client_cert";
  } else if (
    has("SignatureAlgorithmsExtensionRequired") || has("protocol version") ||
    has("PROTOCOL_VERSION") || has("unsupported protocol") || has("NoCipherSuitesInCommon") ||
    has("no shared cipher") || has("version too low")
  ) reason = "protocol_version";
  else if (has("UnknownIssuer") || has("unknown ca") || has("UNKNOWN_CA")) reason = "unknown_ca";
  else if (has("Expired") && !has("NotValidYet")) reason = "expired";
  else if (has("NotValidYet")) reason = "not_yet_valid";
  else if (has("InvalidPurpose") || has("UNSUPPORTED_CERTIFICATE_PURPOSE")) {
    reason = "bad_key_usage";
  }
  return { reason, detail };
}
