/**
 * Every error mcp-mtls raises, with a stable string `code`.
 *
 * One base class, {@link MtlsError}, and one subclass per kind of failure.
 * Code that handles errors should switch on `code`, never on `message`: codes
 * are part of the contract, messages may be improved.
 *
 * Peer refusals carry one of the {@link REASON_CODES} from the design
 * contract; the server logs them with the peer address, the client raises
 * them as a {@link PeerRejectedError}.
 *
 * @example Handling a refusal by its code
 * ```ts
 * import { MtlsError, PeerRejectedError } from "@mtls/mcp/errors";
 *
 * const err: unknown = new PeerRejectedError("revoked", 'Certificate "01ab" is revoked');
 * if (err instanceof MtlsError && err.code === "revoked") {
 *   console.log("refused:", err.message);
 * }
 * ```
 *
 * @module
 */

/** Reason codes for a refused peer (connection or request), from the design contract. */
export const REASON_CODES = [
  "no_client_cert",
  "unknown_ca",
  "expired",
  "not_yet_valid",
  "bad_key_usage",
  "hostname_mismatch",
  "pin_mismatch",
  "revoked",
  "revocation_unknown",
  "identity_denied",
  "protocol_version",
  "rate_limited",
  "handshake_timeout",
  // added by the hardening work (issue 10)
  "ambiguous_identity",
  "weak_signature",
  "weak_key",
  "bad_certificate",
  "origin_denied",
  "request_timeout",
  // added by the gateway (issue 13): the upstream MCP server behind `serve --upstream`
  "upstream_unavailable",
  "upstream_timeout",
  // added by bound tokens (issue 14): OAuth bearer tokens bound to the client certificate
  "token_missing",
  "invalid_token",
  "token_binding_mismatch",
  "token_unbound",
  "insufficient_scope",
  "auth_unavailable",
  // added by workers (issue 15): `serve --workers N`
  "worker_unavailable",
  // added by PROXY protocol (issue 15): client addresses from a load balancer
  "proxy_protocol_invalid",
  "proxy_protocol_untrusted",
] as const;

/**
 * Why a peer was refused.
 *
 * @example
 * ```ts
 * import type { ReasonCode } from "@mtls/mcp/errors";
 * const reason: ReasonCode = "unknown_ca";
 * ```
 */
export type ReasonCode = typeof REASON_CODES[number];

/**
 * Every error code: the peer {@link ReasonCode}s plus the codes for bad input,
 * files, configuration and the runtime.
 *
 * @example
 * ```ts
 * import type { ErrorCode } from "@mtls/mcp/errors";
 * const code: ErrorCode = "invalid_pem";
 * ```
 */
export type ErrorCode =
  | ReasonCode
  // a peer-side failure that is not a certificate verdict (reset, refused, TLS alert we cannot map)
  | "handshake_failed"
  | "connection_failed"
  // bad input: certificates, keys, containers
  | "invalid_argument"
  | "invalid_pem"
  | "invalid_der"
  | "invalid_key"
  | "unsupported_key"
  | "key_mismatch"
  | "bad_password"
  | "invalid_certificate"
  // files
  | "file_not_found"
  | "file_exists"
  | "file_io"
  // configuration and runtime
  | "invalid_config"
  | "unsupported_runtime"
  // revocation sources and pin stores
  | "crl_invalid"
  | "ocsp_invalid"
  | "revocation_fetch_failed"
  | "pin_store_corrupt"
  // bearer tokens, client side (issue 14): the authorization server refused or
  // could not be reached, or a token file is empty
  | "token_request_failed"
  | "token_unavailable"
  // MCP protocol layer
  | "mcp_error";

/**
 * Options shared by every {@link MtlsError} constructor.
 *
 * @example
 * ```ts
 * import { MtlsError } from "@mtls/mcp/errors";
 * new MtlsError("file_io", "Cannot write \"ca.key\"", { cause: new Error("EACCES") });
 * ```
 */
export interface MtlsErrorOptions {
  /** The underlying error, kept as `cause`. */
  cause?: unknown;
}

/**
 * Base class of every error raised by mcp-mtls.
 *
 * @example
 * ```ts
 * import { MtlsError } from "@mtls/mcp/errors";
 * try {
 *   throw new MtlsError("invalid_argument", 'Unknown key type "dsa"');
 * } catch (e) {
 *   if (e instanceof MtlsError) console.log(e.code); // "invalid_argument"
 * }
 * ```
 */
export class MtlsError extends Error {
  /** Stable machine-readable code. */
  readonly code: ErrorCode;

  /**
   * Creates the error.
   *
   * @param code stable code
   * @param message sentence-case message with the offending value quoted
   * @param options `cause`
   */
  constructor(code: ErrorCode, message: string, options?: MtlsErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/**
 * Details attached to a {@link PeerRejectedError}.
 *
 * @example
 * ```ts
 * import type { PeerRejectionDetails } from "@mtls/mcp/errors";
 * const d: PeerRejectionDetails = { peer: "127.0.0.1:53211" };
 * ```
 */
export interface PeerRejectionDetails extends MtlsErrorOptions {
  /** Peer address (`host:port`) when known. */
  peer?: string;
}

/**
 * A peer (client or server) was refused, with a {@link ReasonCode}.
 *
 * @example
 * ```ts
 * import { PeerRejectedError } from "@mtls/mcp/errors";
 * const e = new PeerRejectedError("no_client_cert", "Client presented no certificate", {
 *   peer: "127.0.0.1:50000",
 * });
 * console.log(e.code, e.peer);
 * ```
 */
export class PeerRejectedError extends MtlsError {
  /** The refusal reason; same value as `code`. */
  declare readonly code: ReasonCode;
  /** Peer address when known. */
  readonly peer?: string;

  /**
   * Creates the error.
   *
   * @param reason reason code
   * @param message what was refused and why
   * @param details peer address and cause
   */
  constructor(reason: ReasonCode, message: string, details?: PeerRejectionDetails) {
    super(reason, message, details);
    this.peer = details?.peer;
  }
}

/**
 * Malformed or unusable certificate material: PEM, DER, keys, PKCS#12.
 *
 * @example
 * ```ts
 * import { CertificateError } from "@mtls/mcp/errors";
 * throw new CertificateError("invalid_pem", 'File "ca.crt" holds no PEM block');
 * ```
 */
export class CertificateError extends MtlsError {
  /**
   * Creates the error.
   *
   * @param code one of the certificate-material codes
   * @param message what is wrong, with the value quoted
   * @param options `cause`
   */
  constructor(
    code:
      | "invalid_pem"
      | "invalid_der"
      | "invalid_key"
      | "unsupported_key"
      | "key_mismatch"
      | "bad_password"
      | "invalid_certificate"
      | "invalid_argument",
    message: string,
    options?: MtlsErrorOptions,
  ) {
    super(code, message, options);
  }
}

/**
 * A file could not be read or written, or would be overwritten without consent.
 *
 * @example
 * ```ts
 * import { FileError } from "@mtls/mcp/errors";
 * const e = new FileError("file_exists", 'Refusing to overwrite "certs/ca.key" without --force', {
 *   path: "certs/ca.key",
 * });
 * console.log(e.path);
 * ```
 */
export class FileError extends MtlsError {
  /** The path concerned. */
  readonly path?: string;

  /**
   * Creates the error.
   *
   * @param code file code
   * @param message what happened, with the path quoted
   * @param options path and cause
   */
  constructor(
    code: "file_not_found" | "file_exists" | "file_io",
    message: string,
    options?: MtlsErrorOptions & { path?: string },
  ) {
    super(code, message, options);
    this.path = options?.path;
  }
}

/**
 * Invalid options or configuration; `key` names the offending option path.
 *
 * @example
 * ```ts
 * import { ConfigError } from "@mtls/mcp/errors";
 * throw new ConfigError('Option "port" must be an integer from 0 to 65535, got "70000"', {
 *   key: "port",
 * });
 * ```
 */
export class ConfigError extends MtlsError {
  /** Dotted path of the offending option, e.g. `tls.minVersion`. */
  readonly key?: string;

  /**
   * Creates the error.
   *
   * @param message names the key path, the value and what is expected
   * @param options key path and cause
   */
  constructor(message: string, options?: MtlsErrorOptions & { key?: string }) {
    super("invalid_config", message, options);
    this.key = options?.key;
  }
}

/**
 * The runtime cannot run mcp-mtls safely (for example Deno older than 2.9).
 *
 * @example
 * ```ts
 * import { RuntimeError } from "@mtls/mcp/errors";
 * throw new RuntimeError('Deno "2.8.0" is too old: mcp-mtls needs 2.9 or newer');
 * ```
 */
export class RuntimeError extends MtlsError {
  /**
   * Creates the error.
   *
   * @param message what is missing and what is needed
   * @param options `cause`
   */
  constructor(message: string, options?: MtlsErrorOptions) {
    super("unsupported_runtime", message, options);
  }
}

/**
 * A revocation source (CRL or OCSP) answered with something unusable or not at all,
 * or a pin store could not be read.
 *
 * @example
 * ```ts
 * import { RevocationError } from "@mtls/mcp/errors";
 * throw new RevocationError("crl_invalid", 'Cannot load CRL "certs/ca.crl": signature does not verify');
 * ```
 */
export class RevocationError extends MtlsError {
  /**
   * Creates the error.
   *
   * @param code source code
   * @param message what happened
   * @param options cause
   */
  constructor(
    code: "crl_invalid" | "ocsp_invalid" | "revocation_fetch_failed" | "pin_store_corrupt",
    message: string,
    options?: MtlsErrorOptions,
  ) {
    super(code, message, options);
  }
}

/**
 * Whether `value` is an {@link MtlsError}, optionally with the given code.
 *
 * @example
 * ```ts
 * import { isMtlsError, MtlsError } from "@mtls/mcp/errors";
 * const e = new MtlsError("revoked", "Certificate is revoked");
 * isMtlsError(e, "revoked"); // true
 * ```
 */
export function isMtlsError(value: unknown, code?: ErrorCode): value is MtlsError {
  return value instanceof MtlsError && (code === undefined || value.code === code);
}
