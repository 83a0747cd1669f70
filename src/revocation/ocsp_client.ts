/**
 * OCSP lookups with a cache: answers are kept in memory (and optionally on
 * disk as the signed response, re-verified when read back) until their
 * nextUpdate, at most `cacheSize` of them (the least recently used goes);
 * concurrent checks of one certificate share one request.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import { LruMap } from "../limits/lru.ts";
import type { Logger } from "../log/logger.ts";
import type { Certificate } from "../cert/certificate.ts";
import type { BlobStore } from "./crl_source.ts";
import type { Fetcher } from "./fetcher.ts";
import { buildOcspRequest, type OcspAnswer, ocspCertId, verifyOcspResponse } from "./ocsp.ts";
import { serialOf } from "./serial.ts";
import type { RevocationVerdict } from "./types.ts";

/** OCSP settings after defaults. */
export interface OcspSettings {
  /** Responder URL overriding the certificate's AIA URL. */
  url?: string;
  hash: "SHA-1" | "SHA-256";
  nonce: boolean;
  requireNonce: boolean;
  /** How long an answer without nextUpdate is reused, ms. */
  maxAge: number;
  /** Most answers kept in memory. @default {10_000} */
  cacheSize?: number;
}

/** What the client needs from its owner. */
export interface OcspClientDeps {
  settings: OcspSettings;
  fetcher: Fetcher;
  logger: Logger;
  now: () => Date;
  clockSkew: number;
  store?: BlobStore;
}

function toVerdict(serial: string, url: string, a: OcspAnswer, until: number): RevocationVerdict {
  const v: RevocationVerdict = {
    status: a.status,
    source: "ocsp",
    serial,
    validUntil: new Date(until),
    detail: a.status === "unknown"
      ? `OCSP responder "${url}" does not know the certificate`
      : `OCSP responder "${url}" says ${a.status}`,
  };
  if (a.revokedAt) v.revokedAt = a.revokedAt;
  if (a.reason) v.revocationReason = a.reason;
  return v;
}

/** OCSP checks with cache, coalescing and the fetcher's timeout and cooldown. */
export class OcspClient {
  #deps: OcspClientDeps;
  /** Verdicts by issuer key and serial, each until its answer's nextUpdate. */
  #cache: LruMap<RevocationVerdict>;
  // Bounded by the checks in flight: each entry goes when its request settles.
  #inflight = new Map<string, Promise<RevocationVerdict>>();
  /** Keys whose disk copy was already looked at (read once per key, not per miss). */
  #diskTried: LruMap<true>;

  /** @throws {ConfigError} `ocspCacheSize` when `settings.cacheSize` is not a positive integer */
  constructor(deps: OcspClientDeps) {
    const max = deps.settings.cacheSize ?? 10_000;
    if (!Number.isInteger(max) || max < 1) {
      throw new ConfigError(`Option "ocspCacheSize" must be a positive integer, got "${max}"`, {
        key: "ocspCacheSize",
      });
    }
    this.#deps = deps;
    const now = () => deps.now().getTime();
    this.#cache = new LruMap({ max, now });
    this.#diskTried = new LruMap({ max });
  }

  /** Cached answers (expired ones not yet read included). */
  get size(): number {
    return this.#cache.size;
  }

  #key(leaf: Certificate, issuer: Certificate): string {
    return `${issuer.spkiPin}:${serialOf(leaf)}`;
  }

  #url(leaf: Certificate): string | undefined {
    return this.#deps.settings.url ?? leaf.ocspUrls.find((u) => /^https?:\/\//i.test(u));
  }

  /** A fresh cached verdict, without I/O; marks it recently used, drops it when expired. */
  cached(leaf: Certificate, issuer: Certificate): RevocationVerdict | undefined {
    return this.#cache.get(this.#key(leaf, issuer));
  }

  /** The verdict: cached when fresh, else asked of the responder; never throws. */
  check(leaf: Certificate, issuer: Certificate): Promise<RevocationVerdict> {
    const hit = this.cached(leaf, issuer);
    if (hit) return Promise.resolve(hit);
    const key = this.#key(leaf, issuer);
    let p = this.#inflight.get(key);
    if (!p) {
      p = this.#ask(key, leaf, issuer).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, p);
    }
    return p;
  }

  #remember(key: string, leaf: Certificate, url: string, a: OcspAnswer): RevocationVerdict {
    const now = this.#deps.now().getTime();
    const until = a.nextUpdate ? a.nextUpdate.getTime() : now + this.#deps.settings.maxAge;
    const verdict = toVerdict(serialOf(leaf), url, a, until);
    this.#cache.set(key, verdict, until);
    return verdict;
  }

  async #fromDisk(key: string, leaf: Certificate, issuer: Certificate, url: string) {
    const { store, settings, now } = this.#deps;
    if (!store || this.#diskTried.has(key)) return undefined;
    this.#diskTried.set(key, true);
    const der = await store.read(this.#blobName(key)).catch(() => undefined);
    if (!der) return undefined;
    try {
      const certId = await ocspCertId(leaf, issuer, settings.hash);
      const a = await verifyOcspResponse(der, {
        leaf,
        issuer,
        certId,
        now: now(),
        clockSkew: 0,
        source: url,
      });
      if (!a.nextUpdate || a.nextUpdate.getTime() <= now().getTime()) return undefined;
      return this.#remember(key, leaf, url, a);
    } catch {
      return undefined;
    }
  }

  #blobName(key: string): string {
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
    return `ocsp-${key.slice(-40).replace(/[^0-9a-f]/g, "")}-${h.toString(16)}.der`;
  }

  async #ask(key: string, leaf: Certificate, issuer: Certificate): Promise<RevocationVerdict> {
    const { settings, fetcher, logger, now, clockSkew, store } = this.#deps;
    const url = this.#url(leaf);
    if (!url) {
      return {
        status: "unknown",
        source: "none",
        serial: serialOf(leaf),
        detail: "the certificate names no OCSP responder",
      };
    }
    const fromDisk = await this.#fromDisk(key, leaf, issuer, url);
    if (fromDisk) return fromDisk;
    try {
      const req = await buildOcspRequest(leaf, issuer, {
        hash: settings.hash,
        nonce: settings.nonce,
      });
      const der = await fetcher.get(url, req.der, "application/ocsp-request");
      const a = await verifyOcspResponse(der, {
        leaf,
        issuer,
        certId: req.certId,
        nonce: req.nonce,
        requireNonce: settings.requireNonce,
        now: now(),
        clockSkew,
        source: url,
      });
      const verdict = this.#remember(key, leaf, url, a);
      if (store && a.nextUpdate) {
        await store.write(this.#blobName(key), der).catch((err) =>
          logger.warn("Cannot cache OCSP response on disk", { url, error: String(err) })
        );
      }
      return verdict;
    } catch (err) {
      const detail = (err as Error).message;
      logger.warn(`OCSP check failed: ${detail}`, {
        serial: serialOf(leaf),
        url,
        code: (err as { code?: string }).code,
      });
      return { status: "unknown", source: "ocsp", serial: serialOf(leaf), detail };
    }
  }
}
