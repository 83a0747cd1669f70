/**
 * Translates what the TLS stack raises on the client (Node-style error codes
 * from Deno's `node:tls`, alerts received from the server) into
 * {@link PeerRejectedError} reason codes or {@link MtlsError}s.
 *
 * Shapes seen on Deno 2.9.6 (`node:tls`, rustls underneath), on the socket's
 * `error` event; undici wraps them as `TypeError("fetch failed", { cause })`:
 *
 * | situation | `code` (message) |
 * | --- | --- |
 * | server from an unknown CA | `UNABLE_TO_GET_ISSUER_CERT_LOCALLY` |
 * | self-signed server | `DEPTH_ZERO_SELF_SIGNED_CERT` |
 * | expired, not yet valid, or no serverAuth EKU | `UNABLE_TO_VERIFY_LEAF_SIGNATURE` (one code for all three: we diagnose) |
 * | server key RSA under 2048 bits | `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, and even an unverified handshake fails (rustls has no RSA under 2048): `unknown_ca` |
 * | host name mismatch | `ERR_TLS_CERT_ALTNAME_INVALID` |
 * | server TLS 1.3 only, we offer at most 1.2 | `ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION` |
 * | server TLS 1.1 at most | `ECONNRESET` ("Client network socket disconnected before secure TLS connection was established") |
 * | TLS 1.3, no client certificate | `ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED`, after `secureConnect` |
 * | TLS 1.2, no client certificate | `ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE` ("received fatal alert: CertificateRequired") |
 * | our certificate from another CA, Deno `node:https` server | no alert: the server closes (TLS 1.3: after `secureConnect`; 1.2: `ECONNRESET` as above) |
 * | alert bad_certificate / certificate_unknown / decrypt_error | `ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE` / `ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN` / `ERR_SSL_SSLV3_ALERT_DECRYPT_ERROR` ("received fatal alert: DecryptError"; Node 20 says `ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR`) |
 * | our certificate has an unknown critical extension, a duplicated extension or is over 64 KiB (65,649 bytes refused, 64,945 sent) | `ERR_SSL_UNSUPPORTED_PROTOCOL` ("unsupported protocol"), raised after TCP connect but before a TLS byte is sent, as for a key that does not match or a TLS version rustls lacks |
 *
 * Which alert a server sends for a client certificate it refuses (measured,
 * TLS 1.2, certificates from a trusted CA): a Deno (rustls) server sends
 * certificate_unknown for an unknown critical extension or a duplicated
 * extension, and decrypt_error for a signature it cannot verify (wrong key,
 * RSA-1024); `openssl s_server` sends certificate_unknown, unknown_ca,
 * bad_certificate and decrypt_error for those four, in that order. So
 * certificate_unknown, bad_certificate and decrypt_error mean
 * `bad_certificate`, not `unknown_ca`.
 *
 * @module
 */
import { CertificateError, MtlsError, PeerRejectedError, type ReasonCode } from "../../errors.ts";

/** Alerts the server sends when it refuses us, by the code Deno gives them. */
const ALERTS: Record<string, { reason: ReasonCode; alert: string }> = {
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: {
    reason: "no_client_cert",
    alert: "certificate_required",
  },
  // Bun's node:tls (BoringSSL) names the same alert without the 13.
  ERR_SSL_TLSV1_ALERT_CERTIFICATE_REQUIRED: {
    reason: "no_client_cert",
    alert: "certificate_required",
  },
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: { reason: "unknown_ca", alert: "unknown_ca" },
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: { reason: "bad_certificate", alert: "bad_certificate" },
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_UNKNOWN: {
    reason: "bad_certificate",
    alert: "certificate_unknown",
  },
  // The server could not verify our CertificateVerify (Deno's and Node's names).
  ERR_SSL_SSLV3_ALERT_DECRYPT_ERROR: { reason: "bad_certificate", alert: "decrypt_error" },
  ERR_SSL_TLSV1_ALERT_DECRYPT_ERROR: { reason: "bad_certificate", alert: "decrypt_error" },
  ERR_SSL_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE: {
    reason: "bad_key_usage",
    alert: "unsupported_certificate",
  },
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: { reason: "expired", alert: "certificate_expired" },
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED: { reason: "revoked", alert: "certificate_revoked" },
  ERR_SSL_TLSV1_ALERT_ACCESS_DENIED: { reason: "identity_denied", alert: "access_denied" },
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: { reason: "protocol_version", alert: "protocol_version" },
};

/** Codes of our own verification of the server certificate. */
const VERIFY: Record<string, ReasonCode> = {
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "unknown_ca",
  UNABLE_TO_GET_ISSUER_CERT: "unknown_ca",
  SELF_SIGNED_CERT_IN_CHAIN: "unknown_ca",
  DEPTH_ZERO_SELF_SIGNED_CERT: "unknown_ca",
  CERT_UNTRUSTED: "unknown_ca",
  CERT_SIGNATURE_FAILURE: "unknown_ca",
  CERT_REJECTED: "unknown_ca",
  CERT_HAS_EXPIRED: "expired",
  CERT_NOT_YET_VALID: "not_yet_valid",
  INVALID_PURPOSE: "bad_key_usage",
  CA_MD_TOO_WEAK: "weak_signature",
  EE_KEY_TOO_SMALL: "weak_key",
  CA_KEY_TOO_SMALL: "weak_key",
  PATH_LENGTH_EXCEEDED: "unknown_ca",
  INVALID_CA: "unknown_ca",
  UNHANDLED_CRITICAL_EXTENSION: "unknown_ca",
  ERR_TLS_CERT_ALTNAME_INVALID: "hostname_mismatch",
  ERR_SSL_UNSUPPORTED_PROTOCOL: "protocol_version",
  ERR_SSL_WRONG_VERSION_NUMBER: "protocol_version",
  ERR_SSL_NO_PROTOCOLS_AVAILABLE: "protocol_version",
  ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION: "protocol_version",
};

/**
 * The stacks' verdicts on the server chain that our own chain rules
 * (`client_verify.ts`) explain, with the same code and message on every
 * runtime: diagnosed from the certificates first, mapped by {@link VERIFY}
 * when the diagnosis finds nothing. Deno has one code for several of them.
 */
const DIAGNOSED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "INVALID_PURPOSE",
  "CA_MD_TOO_WEAK",
  "EE_KEY_TOO_SMALL",
  "CA_KEY_TOO_SMALL",
  "PATH_LENGTH_EXCEEDED",
  "INVALID_CA",
  "UNHANDLED_CRITICAL_EXTENSION",
  // Node.js names a few OpenSSL verdicts so, among them a SHA-1 signature in the chain.
  "UNSPECIFIED",
]);

const CONNECT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "UND_ERR_CONNECT_TIMEOUT",
]);

/** What a handshake error means, before any probing. */
export type HandshakeVerdict =
  | { kind: "error"; error: MtlsError }
  /** The stack refused the server certificate without saying why (Deno's catch-all). */
  | { kind: "diagnose_leaf"; code: string }
  /** The server hung up during the handshake: version mismatch or our certificate refused. */
  | { kind: "diagnose_reset"; code: string };

/** Context for messages and inferences. */
export interface ErrorContext {
  /** `host:port` of the server. */
  peer: string;
  /** Whether we present a client certificate. */
  hasCert: boolean;
  /** Our TLS version range, for messages. */
  versions: string;
}

/** The `code` of an error, if any. */
export function codeOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Maps an alert received from the server (during or right after the handshake). */
export function alertError(err: unknown, ctx: ErrorContext): PeerRejectedError | undefined {
  const code = codeOf(err) ?? "";
  const message = String((err as Error)?.message ?? "");
  let entry = ALERTS[code];
  if (!entry && /CertificateRequired/.test(message)) {
    entry = { reason: "no_client_cert", alert: "certificate_required" };
  }
  if (!entry && code === "ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE" && !ctx.hasCert) {
    entry = { reason: "no_client_cert", alert: "handshake_failure" };
  }
  // Without a certificate we made no signature: decrypt_error is about something else.
  if (!entry || (entry.alert === "decrypt_error" && !ctx.hasCert)) return undefined;
  if (entry.reason === "protocol_version") {
    return new PeerRejectedError(
      "protocol_version",
      `Server "${ctx.peer}" supports no TLS version in ${ctx.versions} (alert "${entry.alert}")`,
      { peer: ctx.peer, cause: err },
    );
  }
  const what = entry.reason === "no_client_cert"
    ? "requires a client certificate and we presented none"
    : entry.alert === "decrypt_error"
    ? "refused our client certificate: it could not verify our signature with its key"
    : "refused our client certificate";
  return new PeerRejectedError(
    entry.reason,
    `Server "${ctx.peer}" ${what} (alert "${entry.alert}")`,
    { peer: ctx.peer, cause: err },
  );
}

/** Maps an error raised while connecting and handshaking. */
export function handshakeVerdict(err: unknown, ctx: ErrorContext): HandshakeVerdict {
  if (err instanceof MtlsError) return { kind: "error", error: err };
  const code = codeOf(err) ?? "";
  const alert = alertError(err, ctx);
  if (alert) return { kind: "error", error: alert };
  if (DIAGNOSED.has(code)) return { kind: "diagnose_leaf", code };
  // Thrown before any byte is sent; our versions are validated to 1.2/1.3 and the
  // key to match, so with a certificate it is the certificate rustls will not use.
  if (code === "ERR_SSL_UNSUPPORTED_PROTOCOL" && ctx.hasCert) {
    const said = `${code}: ${(err as Error)?.message}`;
    const message = "Our client certificate cannot be used: the TLS stack refused it before " +
      `sending anything to "${ctx.peer}" ("${said}"); it refuses a certificate with an unknown ` +
      "critical extension or a duplicated extension, and one over 64 KiB";
    return {
      kind: "error",
      error: new CertificateError("invalid_certificate", message, { cause: err }),
    };
  }
  const reason = VERIFY[code];
  if (reason) return { kind: "error", error: verifyError(reason, code, err, ctx) };
  if (code === "ECONNRESET" || code === "EPIPE") return { kind: "diagnose_reset", code };
  if (CONNECT_CODES.has(code)) {
    return {
      kind: "error",
      error: new MtlsError(
        "connection_failed",
        `Cannot connect to "${ctx.peer}": ${(err as Error).message}`,
        { cause: err },
      ),
    };
  }
  return {
    kind: "error",
    error: new MtlsError(
      "handshake_failed",
      `TLS handshake with "${ctx.peer}" failed: ${(err as Error)?.message ?? String(err)}`,
      { cause: err },
    ),
  };
}

/**
 * The refusal a stack's verification code maps to (see {@link VERIFY}), for a
 * diagnosis that found nothing of its own; `undefined` for other codes.
 */
export function stackVerdict(err: unknown, ctx: ErrorContext): PeerRejectedError | undefined {
  const code = codeOf(err) ?? "";
  const reason = VERIFY[code];
  return reason ? verifyError(reason, code, err, ctx) : undefined;
}

function verifyError(
  reason: ReasonCode,
  code: string,
  err: unknown,
  ctx: ErrorContext,
): PeerRejectedError {
  const detail = (err as Error)?.message ?? code;
  const text: Partial<Record<ReasonCode, string>> = {
    unknown_ca:
      `Server "${ctx.peer}" certificate does not chain to a trusted CA (${code}: ${detail})`,
    expired: `Server "${ctx.peer}" certificate has expired (${code})`,
    not_yet_valid: `Server "${ctx.peer}" certificate is not valid yet (${code})`,
    bad_key_usage: `Server "${ctx.peer}" certificate is not for server authentication (${code})`,
    weak_key: `Server "${ctx.peer}" certificate chain has a key too small (${code})`,
    weak_signature: `Server "${ctx.peer}" certificate chain has a signature too weak (${code})`,
    hostname_mismatch: `Server "${ctx.peer}" certificate does not match the host name: ${detail}`,
    protocol_version: `Server "${ctx.peer}" supports no TLS version in ${ctx.versions} (${code})`,
  };
  return new PeerRejectedError(reason, text[reason] ?? `${detail} (${code})`, {
    peer: ctx.peer,
    cause: err,
  });
}

/**
 * The server closed a fresh connection right after the handshake without an
 * alert or an answer. With TLS 1.3 the client finishes its side before the
 * server judges the client certificate, so this is how a refusal of our
 * certificate looks when the server sends no alert (Deno's `node:https` does not).
 */
export function silentRefusal(
  ctx: ErrorContext,
  own: { validFrom?: Date; validTo?: Date },
  cause: unknown,
  now: Date = new Date(),
): PeerRejectedError {
  if (!ctx.hasCert) {
    return new PeerRejectedError(
      "no_client_cert",
      `Server "${ctx.peer}" closed the connection: it requires a client certificate and we presented none`,
      { peer: ctx.peer, cause },
    );
  }
  if (own.validTo && now > own.validTo) {
    return new PeerRejectedError(
      "expired",
      `Server "${ctx.peer}" closed the connection: our client certificate expired on ${own.validTo.toISOString()}`,
      { peer: ctx.peer, cause },
    );
  }
  if (own.validFrom && now < own.validFrom) {
    return new PeerRejectedError(
      "not_yet_valid",
      `Server "${ctx.peer}" closed the connection: our client certificate is not valid before ${own.validFrom.toISOString()}`,
      { peer: ctx.peer, cause },
    );
  }
  return new PeerRejectedError(
    "unknown_ca",
    `Server "${ctx.peer}" closed the connection right after the handshake without an answer: ` +
      "it most likely does not trust the CA of our client certificate",
    { peer: ctx.peer, cause },
  );
}
