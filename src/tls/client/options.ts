/**
 * Options of the mTLS client and their validation: done once, when the
 * client is created, so the per-connection path parses nothing.
 *
 * @module
 */
import type { Certificate } from "../../cert/certificate.ts";
import { ConfigError } from "../../errors.ts";
import { createLogger, type Logger } from "../../log/logger.ts";
import type { PinStore } from "../../pins/pin_store.ts";
import type {
  RevocationChecker,
  RevocationCheckerOptions,
} from "../../revocation/checker_options.ts";
import { resolveCa, resolveIdentity } from "./pem.ts";
import { resolvePinOptions, type ServerPinCheck } from "./pins.ts";
import { resolveRevocationOption, type ServerRevocationCheck } from "./revocation.ts";

/**
 * Certificate or key material: PEM text, or bytes holding PEM text or DER.
 *
 * @example
 * ```ts
 * import type { PemInput } from "@mtls/mcp/tls";
 * const ca: PemInput = "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n";
 * ```
 */
export type PemInput = string | Uint8Array;

/**
 * TLS versions the client may negotiate; nothing below 1.2 is offered.
 *
 * @example
 * ```ts
 * import type { TlsClientVersion } from "@mtls/mcp/tls";
 * const v: TlsClientVersion = "TLSv1.3";
 * ```
 */
export type TlsClientVersion = "TLSv1.2" | "TLSv1.3";

/**
 * How the client verifies the server: `strict` checks the chain to `ca`,
 * validity, EKU serverAuth and the host name; `demo` also accepts a
 * self-signed or unknown-CA server and skips the host name check, logging a
 * warning each time.
 *
 * @example
 * ```ts
 * import type { ClientPolicy } from "@mtls/mcp/tls";
 * const p: ClientPolicy = "strict";
 * ```
 */
export type ClientPolicy = "strict" | "demo";

/**
 * Options of an mTLS client: who we are, whom we trust, and how connections are kept.
 *
 * @example
 * ```ts
 * import type { MtlsClientOptions } from "@mtls/mcp/tls";
 * const options: MtlsClientOptions = {
 *   // cert, key and ca take PEM text, e.g. Deno.readTextFileSync("certs/client.crt")
 *   ca: "-----BEGIN CERTIFICATE-----\n...\n-----END CERTIFICATE-----\n",
 *   pins: ["sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="],
 *   minVersion: "TLSv1.3",
 * };
 * ```
 *
 * @example Pins with a backup key, and revocation by CRL and OCSP
 * ```ts
 * import type { MtlsClientOptions } from "@mtls/mcp/tls";
 * const options: MtlsClientOptions = {
 *   pins: ["sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="],
 *   backupPins: ["cert-sha256/" + "ab".repeat(32)],
 *   revocation: { crls: ["certs/ca.crl"], ocsp: true, failureMode: "deny" },
 * };
 * ```
 *
 * @example Trust on first use, remembered in a pin file
 * ```ts
 * import type { MtlsClientOptions } from "@mtls/mcp/tls";
 * const options: MtlsClientOptions = { pinStore: "certs/known_servers.json", tofu: true };
 * ```
 */
export interface MtlsClientOptions {
  /** Our certificate (PEM, may include intermediates after the leaf). @default {none: no client certificate is presented} */
  cert?: PemInput;
  /** The private key of `cert` (PEM or PKCS#8 DER). Required with `cert`. */
  key?: PemInput;
  /** CA certificate(s) the server must chain to; one PEM may hold several. @default {the runtime's public roots} */
  ca?: PemInput | PemInput[];
  /** Name sent as SNI and matched against the server certificate. @default {the URL's host} */
  serverName?: string;
  /** Lowest TLS version offered. @default {"TLSv1.2"} */
  minVersion?: TlsClientVersion;
  /** Highest TLS version offered. @default {"TLSv1.3"} */
  maxVersion?: TlsClientVersion;
  /** Server verification policy. @default {"strict"} */
  policy?: ClientPolicy;
  /**
   * Accepted server keys or certificates, for every server this client talks
   * to: `sha256/<base64 SHA-256 of the SPKI>` (what `certs pin` prints) or
   * `cert-sha256/<hex SHA-256 of the certificate>`; any one must match.
   * Compared in constant time inside the handshake, before any request is
   * sent; a mismatch rejects with `pin_mismatch` naming both pins.
   * @default {[] (no pinning)}
   */
  pins?: string[];
  /** Pins of the server's next key, admitted like `pins` (publish them before rotating). Needs `pins`. @default {[]} */
  backupPins?: string[];
  /**
   * Pins per server, keyed by `host:port` (the URL's host and port): a
   * {@link PinStore} or the path of a pin file (see `@mtls/mcp/pins`; loaded
   * once, a corrupt file fails every request with `pin_store_corrupt` and is
   * left untouched). A server with no entry is refused unless `tofu` is on.
   * Checked in addition to `pins`.
   * @default {none}
   */
  pinStore?: PinStore | string;
  /**
   * Trust on first use: the first key seen for a `host:port` is stored (in
   * the `pinStore` file, or in memory for the life of the client) and a
   * later, different key is refused with `pin_mismatch` showing both pins.
   * With a {@link PinStore} instance, set it on the store instead.
   * @default {false}
   */
  tofu?: boolean;
  /**
   * Check that the server certificate is not revoked (CRL files or URLs,
   * OCSP, failure mode, cache): options for `createRevocationChecker` (the
   * client makes the checker, logs to `logger`, and stops it on close) or a
   * checker you made (shared, and left running). The verdict is reached
   * after the handshake and before any request is sent: `revoked`, or
   * `revocation_unknown` when no source decides and the failure mode is
   * `deny`. A fresh cached answer decides without network I/O. On Bun the
   * client sees the server leaf only: its issuer must be in `ca` or in the
   * checker options' `issuers`, and an answer not cached yet costs one
   * refused handshake and a retry.
   * @default {none: revocation is not checked}
   */
  revocation?: RevocationCheckerOptions | RevocationChecker;
  /** Also check the intermediate CAs of the server's chain (not the trust anchor). Needs `revocation`. @default {false} */
  revocationIntermediates?: boolean;
  /** Where warnings (demo policy) and diagnostics go. @default {createLogger({ level: "warn" }) (standard error)} */
  logger?: Logger;
  /** Keep connections open between requests. @default {true} */
  keepAlive?: boolean;
  /** How long an idle kept-alive connection stays open, in milliseconds (on Bun, rounded up to seconds). @default {4000} */
  keepAliveTimeout?: number;
  /** Most connections per origin (not enforced on Bun, which warns). @default {unlimited} */
  connections?: number;
  /**
   * Time allowed for TCP connect plus TLS handshake, in milliseconds. On Bun it
   * bounds a request only while no connection to that server was made yet (or
   * with `keepAlive: false`): Bun does not say when a request reuses one.
   * @default {10000}
   */
  connectTimeout?: number;
}

/**
 * How the mTLS fetch sends requests on this runtime (undici's Agent on Deno
 * and Node.js, Bun's fetch on Bun); the fetch wrapper around it is the same.
 */
export interface ClientTransport {
  /** Sends `init` to the https `url` without following redirects; failures reject with typed errors. */
  send(url: string, init: RequestInit | undefined): Promise<Response>;
  /** Waits for requests in flight, then closes every pooled connection; later sends reject. */
  close(): Promise<void>;
}

/** Options after validation: PEM text, parsed certificates, defaults applied. */
export interface ResolvedClientOptions {
  cert?: string;
  key?: string;
  ca?: string[];
  /** `ca` read into the model: the client's chain rules complete a server path with them (empty: the runtime's roots). */
  anchors: Certificate[];
  /** Our own leaf certificate, read into the model. */
  certificate?: Certificate;
  serverName?: string;
  minVersion: TlsClientVersion;
  maxVersion: TlsClientVersion;
  policy: ClientPolicy;
  /** Server pinning (static pins and/or a pin store), when configured. */
  pins?: ServerPinCheck;
  /** Server revocation checking, when configured. */
  revocation?: ServerRevocationCheck;
  logger: Logger;
  keepAlive: boolean;
  keepAliveTimeout: number;
  connections?: number;
  connectTimeout: number;
}

const VERSIONS: readonly TlsClientVersion[] = ["TLSv1.2", "TLSv1.3"];

/** Validates `options` once and applies the defaults. Throws `ConfigError` or `CertificateError`. */
export function resolveClientOptions(options: MtlsClientOptions): ResolvedClientOptions {
  const {
    policy = "strict",
    minVersion = "TLSv1.2",
    maxVersion = "TLSv1.3",
    logger = createLogger({ level: "warn" }),
    keepAlive = true,
    keepAliveTimeout = 4_000,
    connections,
    connectTimeout = 10_000,
    serverName,
  } = options;
  if (policy !== "strict" && policy !== "demo") {
    throw new ConfigError(`Option "policy" must be "strict" or "demo", got "${policy}"`, {
      key: "policy",
    });
  }
  for (const [name, value] of [["minVersion", minVersion], ["maxVersion", maxVersion]] as const) {
    if (!VERSIONS.includes(value)) {
      throw new ConfigError(`Option "${name}" must be "TLSv1.2" or "TLSv1.3", got "${value}"`, {
        key: name,
      });
    }
  }
  if (minVersion === "TLSv1.3" && maxVersion === "TLSv1.2") {
    throw new ConfigError('Option "minVersion" "TLSv1.3" is above "maxVersion" "TLSv1.2"', {
      key: "minVersion",
    });
  }
  positive("keepAliveTimeout", keepAliveTimeout);
  positive("connectTimeout", connectTimeout);
  if (connections !== undefined && !(Number.isInteger(connections) && connections > 0)) {
    throw new ConfigError(
      `Option "connections" must be a positive integer, got "${connections}"`,
      { key: "connections" },
    );
  }
  if (serverName !== undefined && (typeof serverName !== "string" || serverName === "")) {
    throw new ConfigError(
      `Option "serverName" must be a non-empty host name, got "${serverName}"`,
      {
        key: "serverName",
      },
    );
  }
  const { cert, key, certificate } = resolveIdentity(options);
  const trusted = options.ca === undefined ? undefined : resolveCa(options.ca);
  const ca = trusted?.pems;
  // Last: the pin store starts loading and a revocation checker starts its timer.
  const pins = resolvePinOptions(options, logger);
  const revocation = resolveRevocationOption(
    options.revocation,
    options.revocationIntermediates ?? false,
    ca,
    logger,
  );
  return {
    cert,
    key,
    ca,
    anchors: trusted?.certificates ?? [],
    certificate,
    serverName,
    minVersion,
    maxVersion,
    policy,
    pins,
    revocation,
    logger,
    keepAlive,
    keepAliveTimeout,
    connections,
    connectTimeout,
  };
}

function positive(name: string, value: unknown): void {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new ConfigError(
      `Option "${name}" must be a positive number of milliseconds, got "${value}"`,
      { key: name },
    );
  }
}
