/**
 * Options, state and interface of the revocation checker.
 *
 * @module
 */
import type { Logger } from "../log/logger.ts";
import type { CrlSourceState } from "./crl_source.ts";
import type { FetchLike, ReadFileLike, RevocationVerdict } from "./types.ts";

/**
 * Which sources to ask, in order. `x-then-y` asks `y` only when `x` cannot decide.
 *
 * @example
 * ```ts
 * import type { RevocationMode } from "@mtls/mcp/revocation";
 * const m: RevocationMode = "ocsp-then-crl";
 * ```
 */
export type RevocationMode = "crl" | "ocsp" | "ocsp-then-crl" | "crl-then-ocsp";

/**
 * OCSP settings.
 *
 * @example
 * ```ts
 * import type { OcspOptions } from "@mtls/mcp/revocation";
 * const o: OcspOptions = { hash: "SHA-256", maxAge: 60_000 };
 * ```
 */
export interface OcspOptions {
  /** Responder URL to use instead of the certificate's AIA OCSP URL. @default {the certificate's URL} */
  url?: string;
  /** Hash for the request's certID. @default {"SHA-1"} */
  hash?: "SHA-1" | "SHA-256";
  /** Send a nonce (a response echoing a different one is refused). @default {true} */
  nonce?: boolean;
  /** Refuse responses that do not echo the nonce. @default {false} */
  requireNonce?: boolean;
  /** Reuse time for an answer that has no nextUpdate, ms. @default {300_000} */
  maxAge?: number;
}

/**
 * Options for {@link createRevocationChecker}. Every field is optional.
 *
 * @example
 * ```ts
 * import type { RevocationCheckerOptions } from "@mtls/mcp/revocation";
 * const o: RevocationCheckerOptions = { crls: ["certs/ca.crl"], ocsp: true, failureMode: "deny" };
 * ```
 */
export interface RevocationCheckerOptions {
  /** CRL locations: file paths or `http(s)://` URLs. @default {[]} */
  crls?: string[];
  /**
   * CA certificates (DER or PEM) used to verify CRLs as soon as they load, so a
   * refresh signed by another key is refused and the last good CRL kept.
   * Without them a CRL is verified against the issuer seen at check time.
   * @default {[]}
   */
  issuers?: (Uint8Array | string)[];
  /** Fetch CRLs named in a certificate's distribution points when no loaded CRL covers its issuer. @default {true} */
  crlDistributionPoints?: boolean;
  /** Enable OCSP, optionally with settings. @default {false} */
  ocsp?: boolean | OcspOptions;
  /**
   * Most OCSP answers kept in memory, each until its nextUpdate; beyond it the
   * least recently used answer goes (a server seeing many clients stays
   * bounded), and an answer past its nextUpdate is dropped when read.
   * @default {10_000}
   */
  ocspCacheSize?: number;
  /** Source order. @default {"crl-then-ocsp" with both, else the one enabled} */
  mode?: RevocationMode;
  /** `deny` refuses when no source can decide (`revocation_unknown`); `allow` admits and logs a warning every time. @default {"deny"} */
  failureMode?: "deny" | "allow";
  /** Interval between CRL reloads, ms. @default {60_000} */
  refreshInterval?: number;
  /** Per fetch (CRL or OCSP), ms. @default {5_000} */
  timeout?: number;
  /** After a failed fetch, ms before the same URL is tried again. @default {30_000} */
  cooldown?: number;
  /** Tolerance when comparing thisUpdate/nextUpdate with the clock, ms. @default {300_000} */
  clockSkew?: number;
  /** Folder for the on-disk cache of fetched CRLs and OCSP responses (e.g. `certs/revocation`). @default {no disk cache} */
  cacheDir?: string;
  /** `fetch` for CRL URLs and OCSP. @default {globalThis.fetch} */
  fetch?: FetchLike;
  /** File reader for CRL paths and the disk cache. @default {node:fs/promises readFile} */
  readFile?: ReadFileLike;
  /**
   * Those of the `crls` file paths that may not exist: until such a file
   * appears it revokes nothing (logged once at info), instead of making every
   * check `revocation_unknown`. For folder conventions such as
   * `serve --certs DIR`'s `DIR/ca.crl`; a CRL you name yourself should fail
   * closed, so leave it out. @default {[]}
   */
  optionalCrls?: string[];
  /**
   * Watches a CRL file: calls `onChange` when it may have changed (written,
   * created, renamed over) and returns a function that stops watching. With
   * it, every file in `crls` is reloaded on change instead of only every
   * `refreshInterval`, and `close()` stops the watchers.
   * @default {no watching: files are re-read every refreshInterval}
   */
  watchFile?: (path: string, onChange: () => void) => () => void;
  /** Clock. @default {() => new Date()} */
  now?: () => Date;
  /** Where warnings (soft-fail admissions, refresh failures) go. @default {createLogger()} */
  logger?: Logger;
  /**
   * Called when a CRL source loads a CRL that differs from the one it had
   * (another CRL number, size or thisUpdate), so a server can re-check the
   * connections it already admitted. @default {undefined}
   */
  onCrlChange?: () => void;
}

/**
 * Optional per-call details.
 *
 * @example
 * ```ts
 * import type { VerifyRevocationOptions } from "@mtls/mcp/revocation";
 * const o: VerifyRevocationOptions = { peer: "127.0.0.1:50123" };
 * ```
 */
export interface VerifyRevocationOptions {
  /** Peer address for errors and logs. */
  peer?: string;
}

/**
 * A snapshot of the checker, for diagnostics.
 *
 * @example
 * ```ts
 * import type { RevocationState } from "@mtls/mcp/revocation";
 * const s: RevocationState = { mode: "crl", failureMode: "deny", crls: [], ocspCached: 0 };
 * ```
 */
export interface RevocationState {
  /** The source order in effect. */
  mode: RevocationMode;
  /** What happens when no source can decide. */
  failureMode: "deny" | "allow";
  /** One entry per CRL source, configured or found in distribution points. */
  crls: CrlSourceState[];
  /** OCSP answers in the memory cache. */
  ocspCached: number;
}

/**
 * Certificate revocation checks. Certificates are DER bytes (PEM text also works).
 *
 * @example
 * ```ts ignore
 * const v = await checker.verify(leafDer, issuerDer, { peer: "127.0.0.1:50123" });
 * ```
 */
export interface RevocationChecker {
  /** Resolves when the configured CRLs have been loaded once (or failed to). */
  readonly ready: Promise<void>;
  /** The status per the configured mode; never rejects for an unreachable source (status `unknown`). */
  check(leaf: Uint8Array | string, issuer: Uint8Array | string): Promise<RevocationVerdict>;
  /** Like {@link RevocationChecker.check} from caches only, no I/O; `undefined` when nothing cached decides. */
  checkCached(
    leaf: Uint8Array | string,
    issuer: Uint8Array | string,
  ): RevocationVerdict | undefined;
  /**
   * Checks and applies the failure mode: resolves with the verdict when the
   * peer may proceed, rejects with {@link PeerRejectedError} `revoked` or
   * `revocation_unknown` otherwise.
   */
  verify(
    leaf: Uint8Array | string,
    issuer: Uint8Array | string,
    options?: VerifyRevocationOptions,
  ): Promise<RevocationVerdict>;
  /**
   * Verifies the leaf of `chain` (leaf first, each followed by its issuer);
   * with `intermediates`, every certificate but the last.
   */
  verifyChain(
    chain: (Uint8Array | string)[],
    options?: VerifyRevocationOptions & { intermediates?: boolean },
  ): Promise<RevocationVerdict[]>;
  /** Applies the failure mode to a verdict (throws or returns it), e.g. after {@link RevocationChecker.checkCached}. */
  enforce(verdict: RevocationVerdict, options?: VerifyRevocationOptions): RevocationVerdict;
  /** Reloads every CRL now. */
  refresh(): Promise<void>;
  /** Diagnostics. */
  state(): RevocationState;
  /** Stops the refresh timer and the file watchers. */
  close(): void;
}
