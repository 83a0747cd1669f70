/**
 * CRL side of the checker: the configured CRL sources plus sources found in
 * certificates' distribution points, refreshed together, and the per-check
 * lookup (O(1) by serial once the CRL's signature has been verified).
 * Configured CRL files are watched when a watcher is given, so a replaced
 * file is reloaded at once rather than at the next refresh.
 *
 * @module
 */
import type { Certificate } from "../cert/certificate.ts";
import { bytesEqual } from "../cert/der.ts";
import { CrlSource, type CrlSourceDeps, type CrlSourceState } from "./crl_source.ts";
import { serialOf } from "./serial.ts";
import type { RevocationVerdict } from "./types.ts";

const isHttp = (u: string) => /^https?:\/\//i.test(u);

/** Calls `onChange` when the file at `path` may have changed; returns a function that stops. */
export type WatchFile = (path: string, onChange: () => void) => () => void;

/** Optional parts of {@link CrlChecker}. */
export interface CrlCheckerFiles {
  /** Configured file paths that may be absent (revoke nothing until they appear). @default {[]} */
  optional?: readonly string[];
  /** Watches configured CRL files. @default {no watching} */
  watchFile?: WatchFile;
}

/** All CRL sources of one checker. */
export class CrlChecker {
  #deps: CrlSourceDeps;
  #clockSkew: number;
  #fromDp: boolean;
  #minGap: number;
  #sources: CrlSource[] = [];
  #byLocation = new Map<string, CrlSource>();
  #unwatch: (() => void)[] = [];

  constructor(
    locations: string[],
    deps: CrlSourceDeps,
    clockSkew: number,
    fromDp: boolean,
    minGap: number,
    files: CrlCheckerFiles = {},
  ) {
    this.#deps = deps;
    this.#minGap = minGap;
    this.#clockSkew = clockSkew;
    this.#fromDp = fromDp;
    const optional = new Set(files.optional ?? []);
    for (const l of locations) {
      const watched = files.watchFile !== undefined && !isHttp(l);
      const s = this.#add(l, { optional: optional.has(l), watched });
      // Watch before the first load, so a file written in between is not missed.
      if (watched) this.#unwatch.push(files.watchFile!(l, () => void s.reload()));
    }
  }

  #add(location: string, options?: { optional: boolean; watched: boolean }): CrlSource {
    let s = this.#byLocation.get(location);
    if (!s) {
      s = new CrlSource(location, this.#deps, options);
      this.#byLocation.set(location, s);
      this.#sources.push(s);
    }
    return s;
  }

  /** Stops watching files. */
  close(): void {
    for (const stop of this.#unwatch.splice(0)) stop();
  }

  /**
   * "Good" when no loaded CRL covers `leaf` and an optional CRL file is
   * absent while every other source is loaded: the CRL that would decide has
   * not been written yet, so nothing is revoked. Any failed source keeps the
   * answer "unknown" (fail closed).
   */
  #absentVerdict(leaf: Certificate): RevocationVerdict | undefined {
    const absent = this.#sources.filter((s) => s.absent);
    if (absent.length === 0) return undefined;
    if (this.#sources.some((s) => !s.absent && !s.current)) return undefined;
    return {
      status: "good",
      source: "crl",
      serial: serialOf(leaf),
      detail: `no CRL yet: ${absent.map((s) => `"${s.location}"`).join(", ")} does not exist`,
    };
  }

  /** Loads every source (disk cache first for URLs when nothing is loaded). */
  async refreshAll(): Promise<void> {
    await Promise.all(this.#sources.map(async (s) => {
      await s.loadCached();
      await s.refresh();
    }));
  }

  /** Per-source state. */
  state(): CrlSourceState[] {
    return this.#sources.map((s) => s.state());
  }

  #matching(leaf: Certificate): CrlSource[] {
    return this.#sources.filter((s) => s.current && bytesEqual(s.current.issuer, leaf.issuer.der));
  }

  #judge(s: CrlSource, leaf: Certificate): RevocationVerdict {
    const crl = s.current!;
    const now = this.#deps.now().getTime();
    const serial = serialOf(leaf);
    const base = { source: "crl" as const, serial };
    if (crl.thisUpdate.getTime() > now + this.#clockSkew) {
      return { ...base, status: "unknown", detail: `CRL "${s.location}" is not valid yet` };
    }
    if (crl.nextUpdate && crl.nextUpdate.getTime() + this.#clockSkew < now) {
      s.refreshSoon(this.#minGap); // a stale CRL triggers a reload; this check still reports unknown
      return {
        ...base,
        status: "unknown",
        detail: `CRL "${s.location}" expired at ${crl.nextUpdate.toISOString()}`,
      };
    }
    const e = crl.find(serial);
    const v: RevocationVerdict = e
      ? {
        ...base,
        status: "revoked",
        revokedAt: e.revokedAt,
        detail: `listed in CRL "${s.location}"`,
      }
      : { ...base, status: "good", detail: `not listed in CRL "${s.location}"` };
    if (e?.reason) v.revocationReason = e.reason;
    if (crl.nextUpdate) v.validUntil = crl.nextUpdate;
    return v;
  }

  /** The verdict from CRLs already loaded and verified for `issuer`, without I/O. */
  cached(leaf: Certificate, issuer: Certificate): RevocationVerdict | undefined {
    const spki = issuer.spkiPin;
    let unknown: RevocationVerdict | undefined;
    for (const s of this.#matching(leaf)) {
      if (s.current!.verifiedBy !== spki) continue;
      const v = this.#judge(s, leaf);
      if (v.status !== "unknown") return v;
      unknown = v;
    }
    if (unknown || this.#matching(leaf).length > 0) return unknown;
    // Distribution points are tried (with I/O) before an absent file says "good".
    if (this.#fromDp && leaf.crlUrls.some(isHttp)) return undefined;
    return this.#absentVerdict(leaf);
  }

  /** The verdict from CRLs, loading distribution points when no source covers the issuer. */
  async check(leaf: Certificate, issuer: Certificate): Promise<RevocationVerdict> {
    let sources = this.#matching(leaf);
    if (sources.length === 0 && this.#fromDp) {
      const dps = leaf.crlUrls.filter(isHttp);
      await Promise.all(dps.map(async (url) => {
        const s = this.#add(url);
        await s.loadCached();
        if (!s.current) await s.refresh();
      }));
      sources = this.#matching(leaf);
    }
    if (sources.length === 0) {
      const absent = this.#absentVerdict(leaf);
      if (absent) return absent;
      const tried = this.#sources.filter((s) => s.lastError).map((s) => s.lastError);
      return {
        status: "unknown",
        source: "none",
        serial: serialOf(leaf),
        detail: `no loaded CRL covers the certificate's issuer${
          tried.length ? ` (${tried.join("; ")})` : ""
        }`,
      };
    }
    const problems: string[] = [];
    for (const s of sources) {
      try {
        s.verifyWith(issuer);
      } catch (err) {
        problems.push((err as Error).message);
        continue;
      }
      const v = this.#judge(s, leaf);
      if (v.status !== "unknown") return v;
      problems.push(v.detail);
    }
    return {
      status: "unknown",
      source: "crl",
      serial: serialOf(leaf),
      detail: problems.join("; "),
    };
  }
}
