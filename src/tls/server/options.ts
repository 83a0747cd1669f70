/**
 * TLS options of the mTLS server, validated once and turned into
 * `node:https` server options.
 *
 * @module
 */

import { hasPemLabel } from "../../cert/pem.ts";
import { ConfigError } from "../../errors.ts";

/**
 * Whether the server asks for a client certificate:
 * `require` (default) refuses clients without one, `optional` admits them
 * anonymously but still verifies a presented certificate, `none` never asks.
 *
 * @example
 * ```ts
 * import type { ClientAuthMode } from "@mtls/mcp/tls";
 * const mode: ClientAuthMode = "require";
 * ```
 */
export type ClientAuthMode = "require" | "optional" | "none";

/**
 * TLS options of the server.
 *
 * @example
 * ```ts
 * import type { TlsServerOptions } from "@mtls/mcp/tls";
 * const tls: TlsServerOptions = { cert: "-----BEGIN CERTIFICATE-----…", key: "…", ca: "…" };
 * ```
 */
export interface TlsServerOptions {
  /** Server certificate chain, PEM. */
  cert: string;
  /** Server private key, PEM. */
  key: string;
  /** CA certificate(s) trusted for client certificates, PEM; several allowed. */
  ca?: string | string[];
  /** Client authentication. @default {"require"} */
  clientAuth?: ClientAuthMode;
  /** Lowest TLS version; never below 1.2. @default {"TLSv1.2"} */
  minVersion?: "TLSv1.2" | "TLSv1.3";
  /**
   * OpenSSL-style cipher list for TLS 1.2; only ECDHE with AES-GCM or
   * ChaCha20-Poly1305 names are accepted. (Deno's TLS stack, rustls, offers
   * only AEAD suites anyway.) @default {DEFAULT_CIPHERS}
   */
  ciphers?: string;
}

/**
 * The TLS 1.2 suites offered by default: ECDHE key exchange, AEAD only.
 *
 * @example
 * ```ts
 * import { DEFAULT_CIPHERS } from "@mtls/mcp/tls";
 * console.log(DEFAULT_CIPHERS.split(":").length);
 * ```
 */
export const DEFAULT_CIPHERS: string = [
  "TLS_AES_128_GCM_SHA256",
  "TLS_AES_256_GCM_SHA384",
  "TLS_CHACHA20_POLY1305_SHA256",
  "ECDHE-ECDSA-AES128-GCM-SHA256",
  "ECDHE-RSA-AES128-GCM-SHA256",
  "ECDHE-ECDSA-AES256-GCM-SHA384",
  "ECDHE-RSA-AES256-GCM-SHA384",
  "ECDHE-ECDSA-CHACHA20-POLY1305",
  "ECDHE-RSA-CHACHA20-POLY1305",
].join(":");

const AEAD_SUITE =
  /^(TLS_(AES_(128|256)_GCM_SHA(256|384)|CHACHA20_POLY1305_SHA256)|ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305))$/;

/**
 * Validated TLS settings plus the `node:https` options built from them.
 *
 * @example
 * ```ts ignore
 * const { nodeOptions, clientAuth, ca } = resolveTlsServerOptions(tls);
 * ```
 */
export interface ResolvedTlsServerOptions {
  /** Client authentication mode. */
  clientAuth: ClientAuthMode;
  /** Trusted CA PEM strings (possibly empty). */
  ca: string[];
  /** Options for `https.createServer`. */
  nodeOptions: {
    cert: string;
    key: string;
    ca?: string[];
    requestCert: boolean;
    rejectUnauthorized: false;
    minVersion: "TLSv1.2" | "TLSv1.3";
    maxVersion: "TLSv1.3";
    ciphers: string;
    honorCipherOrder: true;
  };
}

/**
 * Validates {@link TlsServerOptions}: throws a {@link ConfigError} naming the
 * key for a missing certificate or key, a version below TLS 1.2 or a non-AEAD
 * suite, and returns the `node:https` options. Verification of client
 * certificates is done by the policy after the handshake (see `src/policy`),
 * so `rejectUnauthorized` is always `false` here.
 *
 * @example
 * ```ts
 * import { resolveTlsServerOptions } from "@mtls/mcp/tls";
 * try {
 *   resolveTlsServerOptions({ cert: "", key: "" });
 * } catch (e) {
 *   console.log((e as Error).message);
 * }
 * ```
 */
export function resolveTlsServerOptions(
  tls: TlsServerOptions | undefined,
): ResolvedTlsServerOptions {
  if (!tls || typeof tls !== "object") {
    throw new ConfigError('Option "tls" is required (cert, key and ca)', { key: "tls" });
  }
  const {
    cert,
    key,
    ca,
    clientAuth = "require",
    minVersion = "TLSv1.2",
    ciphers = DEFAULT_CIPHERS,
  } = tls;
  if (typeof cert !== "string" || !hasPemLabel(cert, "CERTIFICATE")) {
    throw new ConfigError('Option "tls.cert" must be a PEM certificate', { key: "tls.cert" });
  }
  if (typeof key !== "string" || !hasPemLabel(key, /^[A-Z ]*PRIVATE KEY$/)) {
    throw new ConfigError('Option "tls.key" must be a PEM private key', { key: "tls.key" });
  }
  if (!["require", "optional", "none"].includes(clientAuth)) {
    throw new ConfigError(
      `Option "tls.clientAuth" must be "require", "optional" or "none", got "${clientAuth}"`,
      { key: "tls.clientAuth" },
    );
  }
  if (minVersion !== "TLSv1.2" && minVersion !== "TLSv1.3") {
    throw new ConfigError(
      `Option "tls.minVersion" must be "TLSv1.2" or "TLSv1.3", got "${minVersion}": nothing below TLS 1.2 is allowed`,
      { key: "tls.minVersion" },
    );
  }
  const bad = ciphers.split(":").filter((c) => c && !AEAD_SUITE.test(c));
  if (bad.length > 0 || ciphers.trim() === "") {
    throw new ConfigError(
      `Option "tls.ciphers" may only name ECDHE AES-GCM or ChaCha20-Poly1305 suites, got "${
        bad.join(":") || ciphers
      }"`,
      { key: "tls.ciphers" },
    );
  }
  const caList = ca === undefined ? [] : Array.isArray(ca) ? ca : [ca];
  if (caList.some((c) => !hasPemLabel(c, "CERTIFICATE"))) {
    throw new ConfigError('Option "tls.ca" must be PEM certificate text', { key: "tls.ca" });
  }
  return {
    clientAuth,
    ca: caList,
    nodeOptions: {
      cert,
      key,
      ...(caList.length > 0 ? { ca: caList } : {}),
      requestCert: clientAuth !== "none",
      rejectUnauthorized: false,
      minVersion,
      maxVersion: "TLSv1.3",
      ciphers,
      honorCipherOrder: true,
    },
  };
}
