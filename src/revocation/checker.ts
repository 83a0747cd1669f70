/**
 * The revocation checker the TLS layer calls for every peer certificate:
 * CRLs and/or OCSP behind one cache, a failure mode, and a synchronous
 * cache-only path for code that cannot wait.
 *
 * @module
 */
import { CertificateError, ConfigError, PeerRejectedError } from "../errors.ts";
import { writeFileAtomic } from "../fs/atomic_write.ts";
import { createLogger } from "../log/logger.ts";
import { type Certificate, readCertificate } from "../cert/certificate.ts";
import { bytesEqual } from "../cert/der.ts";
import type {
  RevocationChecker,
  RevocationCheckerOptions,
  RevocationMode,
  VerifyRevocationOptions,
} from "./checker_options.ts";
import { CrlChecker } from "./crl_checker.ts";
import type { BlobStore } from "./crl_source.ts";
import { createFetcher } from "./fetcher.ts";
import { OcspClient } from "./ocsp_client.ts";
import { serialOf } from "./serial.ts";
import type { ReadFileLike, RevocationVerdict } from "./types.ts";

function parse(input: Uint8Array | string, what: string): Certificate {
  try {
    return readCertificate(input);
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
 * reloaded every `refreshInterval` (files also on change, with `watchFile`);
 * call `close()` when done.
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
    optionalCrls = [],
    watchFile,
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
  for (const p of optionalCrls) {
    if (!crls.includes(p) || /^https?:\/\//i.test(p)) {
      throw new ConfigError(
        `Option "optionalCrls" names "${p}", which is not a file path in "crls"`,
        { key: "optionalCrls" },
      );
    }
  }
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
    { fetcher, readFile, logger, now, issuers: issuerInfos, store, onChange: options.onCrlChange },
    positive("clockSkew", clockSkew),
    crlDistributionPoints,
    cooldown,
    { optional: optionalCrls, watchFile },
  );
  const o = typeof ocsp === "object" ? ocsp : {};
  const ocspClient = new OcspClient({
    settings: {
      url: o.url,
      hash: o.hash ?? "SHA-1",
      nonce: o.nonce ?? true,
      requireNonce: o.requireNonce ?? false,
      maxAge: positive("ocsp.maxAge", o.maxAge ?? 300_000),
      cacheSize: options.ocspCacheSize,
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
    if (!bytesEqual(l.issuer.der, i.subject.der)) {
      throw new CertificateError(
        "invalid_argument",
        `Certificate serial "${serialOf(l)}" was not issued by the given issuer`,
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
    return merge(serialOf(l), seen);
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
    return merge(serialOf(l), seen);
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
      crlChecker.close();
    },
  };
}
