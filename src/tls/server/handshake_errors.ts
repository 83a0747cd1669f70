/**
 * Translates what Deno's `node:tls` reports for a failed server-side
 * handshake (`tlsClientError`) into design reason codes, and tells a refusal
 * by the server's TLS stack (logged at warn) from a client that gave up
 * (info).
 *
 * Measured on Deno 2.9.6 (rustls underneath), server with `requestCert: true`
 * and `rejectUnauthorized: false`, clients `openssl s_client` 3.0 and Node 20,
 * TLS 1.2 and 1.3 alike. The error has only `message` and `code` (no
 * `library`, `reason` or `cause`) and `getPeerCertificate()` is `null` by then:
 *
 * | client | `code`: `message` |
 * | --- | --- |
 * | TLS 1.0/1.1 | `ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE`: "peer is incompatible: SignatureAlgorithmsExtensionRequired" |
 * | no shared (e.g. CBC-only) cipher | "peer is incompatible: NoCipherSuitesInCommon" |
 * | idle | "TLS handshake timeout" (from the `handshakeTimeout` option) |
 * | no client certificate | `ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE` |
 * | a certificate without its key (bad CertificateVerify), an RSA-1024 key, an unknown critical extension, two extensions with one OID | `UNABLE_TO_VERIFY_LEAF_SIGNATURE`: "unable to verify the first certificate" (all four alike) |
 * | a certificate over 64 KiB (65,446 bytes refused, 64,945 accepted), or any record announcing such a handshake message | `ERR_SSL_WRONG_VERSION_NUMBER`: "received corrupt message of type HandshakePayloadTooLarge (SSL routines:ssl3_get_record:wrong version number)" |
 * | plain HTTP or random bytes | `ERR_SSL_WRONG_VERSION_NUMBER`: "received corrupt message of type InvalidContentType (...)" |
 * | refuses our server certificate (alert) | e.g. `ERR_SSL_TLSV1_ALERT_UNKNOWN_CA`: "received fatal alert: UnknownCA" |
 * | closes or resets mid-handshake (e.g. Node rejecting our certificate) | `ECONNRESET`: "socket hang up" |
 *
 * Node.js 20 and Bun 1.4.4 (OpenSSL and BoringSSL) say `ERR_SSL_UNSUPPORTED_PROTOCOL`
 * to a TLS 1.0/1.1 client: "...:unsupported protocol:..." and
 * "error:100000f0:SSL routines:OPENSSL_internal:UNSUPPORTED_PROTOCOL".
 *
 * @module
 */

import type { ReasonCode } from "../../errors.ts";

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
  /** What happened, with the runtime's own `code: message` quoted, for the log. */
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
  const said = code ? `${code}: ${message}` : message;
  const has = (s: string) => said.toLowerCase().includes(s.toLowerCase());
  const refused = (reason: ReasonCode, why: string): HandshakeFailure => ({
    reason,
    detail: `${why} (the TLS stack says "${said}")`,
  });
  if (code === "ERR_TLS_HANDSHAKE_TIMEOUT" || has("handshake timeout")) {
    return { reason: "handshake_timeout", detail: said };
  }
  // The client sent an alert: it refused us (typically our certificate). Its alert
  // names (UnknownCA, CertificateExpired, ...) must not be read as our verdict on it.
  if (/^received fatal alert/i.test(message)) return { reason: "handshake_failed", detail: said };
  if (has("DID_NOT_RETURN_A_CERTIFICATE") || has("no certificates")) {
    return { reason: "no_client_cert", detail: said };
  }
  // One error for every client certificate rustls will not accept (table above): a
  // stolen certificate (bad CertificateVerify) cannot be told from a malformed one or
  // a key too weak to verify, so neither weak_key nor unknown_ca can be claimed.
  if (code === "UNABLE_TO_VERIFY_LEAF_SIGNATURE") {
    return refused(
      "bad_certificate",
      "Client certificate refused in the handshake: the client did not prove it holds the " +
        "certificate's key, or the certificate is malformed or has a key too weak to verify",
    );
  }
  // rustls caps a handshake message at 64 KiB. Only the Certificate message is that big
  // in practice, but the stack does not name the message: a refusal either way.
  if (has("HandshakePayloadTooLarge")) {
    return refused(
      "bad_certificate",
      "Handshake message over 64 KiB refused (in practice an oversized client certificate chain)",
    );
  }
  let reason: HandshakeFailure["reason"] = "handshake_failed";
  if (
    has("SignatureAlgorithmsExtensionRequired") || has("protocol version") ||
    has("PROTOCOL_VERSION") || has("unsupported protocol") || has("UNSUPPORTED_PROTOCOL") ||
    has("NoCipherSuitesInCommon") || has("no shared cipher") || has("version too low")
  ) reason = "protocol_version";
  else if (has("UnknownIssuer") || has("unknown ca") || has("UNKNOWN_CA")) reason = "unknown_ca";
  else if (has("Expired") && !has("NotValidYet")) reason = "expired";
  else if (has("NotValidYet")) reason = "not_yet_valid";
  else if (has("InvalidPurpose") || has("UNSUPPORTED_CERTIFICATE_PURPOSE")) {
    reason = "bad_key_usage";
  }
  return { reason, detail: said };
}
