/**
 * The revocation checker the TLS layer calls for every peer certificate:
 * CRLs and/or OCSP behind one cache, a failure mode, and a synchronous
 * cache-only path for code that cannot wait.
 *
 * @module
 */
import { CertificateError, ConfigError, PeerRejectedError } from "../errors.ts";
import { writeFileAtomic } from "../fs/atomic_write.ts";
import { createLogger, type Logger } from "../log/logger.ts";
import { type CertInfo, certInfo } from "./cert_info.ts";
import { CrlChecker } from "./crl_checker.ts";
import type { BlobStore, CrlSourceState } from "./crl_source.ts";
import { bytesEqual } from "./der.ts";
import { createFetcher } from "./fetcher.ts";
import { OcspClient } from "./ocsp_client.ts";
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
  /** Clock. @default {() => new Date()} */
  now?: () => Date;
  /** Where warnings (soft-fail admissions, refresh failures) go. @default {createLogger()} */
  logger?: Logger;
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
  /** Stops the refresh timer. */
  close(): void;
}

function parse(input: Uint8Array | string, what: string): CertInfo {
  try {
    return certInfo(input);
  } catch (err) {
    throw new CertificateError(
      "invalid_certificate",
      `Cannot read the ${what} certificate: ${(err as Error).message}`,
      { cause: err },
    );
  }
}

async function defaultReadFile(path: string): Promise<Uint8Array> {
  const { readFile } = await import("node:fs/promises");
  return new Uint8Array(await readFile(path));
}

function diskStore(dir: string, readFile: ReadFileLike): BlobStore {
  let made: Promise<unknown> | undefined;
  return {
    read: (name) => readFile(`${dir}/${name}`),
    async write(name, data) {
      made ??= import("node:fs/promises").then((fs) => fs.mkdir(dir, { recursive: true }));
      await made;
      await writeFileAtomic(`${dir}/${name}`, data);
    },
  };
}

function positive(name: string, v: number): number {
  if (!Number.isFinite(v) || v < 0) {
    throw new ConfigError(`Option "${name}" must be a non-negative number of ms, got "${v}"`, {
      key: name,
    });
  }
  return v;
}

/**
 * Makes a revocation checker. CRL files/URLs start loading at once and are
 * reloaded every `refreshInterval`; call `close()` when done.
 *
 * @param options sources, failure mode, timing and injected I/O; all optional
 * @throws {ConfigError} for an invalid option
 *
 * @example Enforcing a CRL in a TLS server
 * ```ts ignore
 * import { createRevocationChecker } from "@mtls/mcp/revocation";
 * const checker = createRevocationChecker({ crls: ["certs/ca.crl"], issuers: [caPem] });
 * await checker.ready;
 * // in the handshake path, with the peer's DER certificates:
 * await checker.verify(leafDer, issuerDer, { peer: "127.0.0.1:50123" }); // throws PeerRejectedError
 * checker.close();
 * ```
 */
export function createRevocationChecker(options: RevocationCheckerOptions = {}): RevocationChecker {
  const {
    crls = [],
    issuers = [],
    crlDistributionPoints = true,
    ocsp = false,
    failureMode = "deny",
    refreshInterval = 60_000,
    timeout = 5_000,
    cooldown = 30_000,
    clockSkew = 300_000,
    cacheDir,
    fetch = (input: string, init?: RequestInit) => globalThis.fetch(input, init),
    readFile = defaultReadFile,
    now = () => new Date(),
    logger = createLogger(),
  } = options;
  const ocspOn = ocsp !== false;
  const mode: RevocationMode = options.mode ??
    (ocspOn ? (crls.length ? "crl-then-ocsp" : "ocsp") : "crl");
  if (!["crl", "ocsp", "ocsp-then-crl", "crl-then-ocsp"].includes(mode)) {
    throw new ConfigError(
      `Option "mode" must be crl, ocsp, ocsp-then-crl or crl-then-ocsp, got "${mode}"`,
      { key: "mode" },
    );
  }
  if (failureMode !== "deny" && failureMode !== "allow") {
    throw new ConfigError(`Option "failureMode" must be deny or allow, got "${failureMode}"`, {
      key: "failureMode",
    });
  }
  if (mode !== "crl" && !ocspOn) {
    throw new ConfigError(`Option "mode" is "${mode}" but "ocsp" is not enabled`, { key: "mode" });
  }
  positive("refreshInterval", refreshInterval);
  const store = cacheDir ? diskStore(cacheDir, readFile) : undefined;
  const fetcher = createFetcher({
    fetch,
    timeout: positive("timeout", timeout),
    cooldown: positive("cooldown", cooldown),
    now,
  });
  const issuerInfos = issuers.map((i) => parse(i, "issuer"));
  const crlChecker = new CrlChecker(
    crls,
    { fetcher, readFile, logger, now, issuers: issuerInfos, store },
    positive("clockSkew", clockSkew),
    crlDistributionPoints,
    cooldown,
  );
  const o = typeof ocsp === "object" ? ocsp : {};
  const ocspClient = new OcspClient({
    settings: {
      url: o.url,
      hash: o.hash ?? "SHA-1",
      nonce: o.nonce ?? true,
      requireNonce: o.requireNonce ?? false,
      maxAge: positive("ocsp.maxAge", o.maxAge ?? 300_000),
    },
    fetcher,
    logger,
    now,
    clockSkew,
    store,
  });
  if (mode !== "crl" && mode !== "ocsp" && !crls.length && !crlDistributionPoints) {
    logger.warn(`Revocation mode "${mode}" has no CRL source`);
  }
  if (failureMode === "allow") {
    logger.warn(
      'Revocation failure mode is "allow": certificates whose status is unknown will be admitted',
    );
  }

  const order: ("crl" | "ocsp")[] = mode === "crl"
    ? ["crl"]
    : mode === "ocsp"
    ? ["ocsp"]
    : mode === "crl-then-ocsp"
    ? ["crl", "ocsp"]
    : ["ocsp", "crl"];

  const pair = (leaf: Uint8Array | string, issuer: Uint8Array | string) => {
    const l = parse(leaf, "peer");
    const i = parse(issuer, "issuer");
    if (!bytesEqual(l.issuer, i.subject)) {
      throw new CertificateError(
        "invalid_argument",
        `Certificate serial "${l.serial}" was not issued by the given issuer`,
      );
    }
    return [l, i] as const;
  };

  const merge = (serial: string, vs: RevocationVerdict[]): RevocationVerdict => {
    if (vs.length === 1) return vs[0];
    return {
      status: "unknown",
      source: "none",
      serial,
      detail: vs.map((v, n) => `${order[n]}: ${v.detail}`).join("; "),
    };
  };

  const check = async (leaf: Uint8Array | string, issuer: Uint8Array | string) => {
    const [l, i] = pair(leaf, issuer);
    await ready;
    const seen: RevocationVerdict[] = [];
    for (const src of order) {
      const v = src === "crl" ? await crlChecker.check(l, i) : await ocspClient.check(l, i);
      if (v.status !== "unknown") return v;
      seen.push(v);
    }
    return merge(l.serial, seen);
  };

  const checkCached = (leaf: Uint8Array | string, issuer: Uint8Array | string) => {
    const [l, i] = pair(leaf, issuer);
    const seen: RevocationVerdict[] = [];
    for (const src of order) {
      const v = src === "crl" ? crlChecker.cached(l, i) : ocspClient.cached(l, i);
      if (!v) return undefined; // a later source might still decide with I/O
      if (v.status !== "unknown") return v;
      seen.push(v);
    }
    return merge(l.serial, seen);
  };

  const enforce = (v: RevocationVerdict, opts: VerifyRevocationOptions = {}) => {
    const { peer } = opts;
    if (v.status === "good") return v;
    if (v.status === "revoked") {
      const why = v.revocationReason ? ` (${v.revocationReason})` : "";
      throw new PeerRejectedError(
        "revoked",
        `Certificate serial "${v.serial}" is revoked${why}: ${v.detail}`,
        { peer },
      );
    }
    if (failureMode === "deny") {
      throw new PeerRejectedError(
        "revocation_unknown",
        `Cannot establish the revocation status of certificate serial "${v.serial}": ${v.detail}`,
        { peer },
      );
    }
    logger.warn(
      `Admitting certificate serial "${v.serial}" with unknown revocation status (failureMode "allow")`,
      { serial: v.serial, peer, reason: "revocation_unknown", detail: v.detail },
    );
    return v;
  };

  const ready = crls.length ? crlChecker.refreshAll() : Promise.resolve();
  let timer: ReturnType<typeof setInterval> | undefined = refreshInterval > 0
    ? setInterval(() => void crlChecker.refreshAll(), refreshInterval)
    : undefined;

  return {
    ready,
    check,
    checkCached,
    enforce,
    async verify(leaf, issuer, opts) {
      return enforce(await check(leaf, issuer), opts);
    },
    async verifyChain(chain, opts = {}) {
      if (chain.length < 2) {
        throw new CertificateError(
          "invalid_argument",
          `A chain for revocation checking needs the leaf and its issuer, got ${chain.length} certificate(s)`,
        );
      }
      const last = opts.intermediates ? chain.length - 1 : 1;
      const out: RevocationVerdict[] = [];
      for (let n = 0; n < last; n++) out.push(enforce(await check(chain[n], chain[n + 1]), opts));
      return out;
    },
    refresh: () => crlChecker.refreshAll(),
    state: () => ({
      mode,
      failureMode,
      crls: crlChecker.state(),
      ocspCached: ocspClient.size,
    }),
    close() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
    },
  };
}
