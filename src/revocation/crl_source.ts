/**
 * One CRL location (file or URL) and its last good CRL. A refresh that fails
 * or yields garbage, a CRL signed by another key, or an older CRL number is
 * logged and ignored: the last good CRL stays in force until it expires.
 * An optional file (a folder convention such as `serve --certs DIR`'s
 * `DIR/ca.crl`) that does not exist yet is "absent": it revokes nothing until
 * it appears, instead of being a failure.
 *
 * @module
 */
import type { Certificate } from "../cert/certificate.ts";
import { bytesEqual } from "../cert/der.ts";
import { RevocationError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import { parseCrl, type ParsedCrl, verifyCrlWith } from "./crl.ts";
import type { Fetcher } from "./fetcher.ts";
import type { ReadFileLike } from "./types.ts";

/** Persistence for fetched CRLs (the on-disk cache). */
export interface BlobStore {
  read(name: string): Promise<Uint8Array | undefined>;
  write(name: string, data: Uint8Array): Promise<void>;
}

/** What the refresher needs from its owner. */
export interface CrlSourceDeps {
  fetcher: Fetcher;
  readFile: ReadFileLike;
  logger: Logger;
  now: () => Date;
  /** CA certificates to verify against at load time, when one matches the CRL issuer. */
  issuers: Certificate[];
  store?: BlobStore;
  /**
   * Called after a CRL that differs from the loaded one (number, size or
   * thisUpdate) is accepted, and after the first CRL a source loads once it
   * has started (a file that appeared, a source that recovered).
   */
  onChange?: () => void;
}

/** Per-source settings. */
export interface CrlSourceOptions {
  /** A file that may not exist: absent means "nothing revoked yet", not a failure. @default {false} */
  optional?: boolean;
  /** Whether the file is watched for changes (only said in the log). @default {false} */
  watched?: boolean;
}

/** Public state of one CRL source. */
export interface CrlSourceState {
  /** Path or URL. */
  location: string;
  /** Whether a CRL is loaded. */
  loaded: boolean;
  /** thisUpdate of the current CRL. */
  thisUpdate?: Date;
  /** nextUpdate of the current CRL; past it the CRL no longer decides. */
  nextUpdate?: Date;
  /** CRL number of the current CRL. */
  crlNumber?: bigint;
  /** Revoked entries in the current CRL. */
  entries: number;
  /** When the current CRL was loaded. */
  loadedAt?: Date;
  /** The last refresh failure, kept until a refresh succeeds. */
  lastError?: string;
  /** An optional file that does not exist (yet) and revokes nothing; absent when false. */
  absent?: boolean;
}

const isUrl = (s: string) => /^https?:\/\//i.test(s);

/** ENOENT from node:fs, NotFound from Deno: the file is not there (as opposed to unreadable). */
function isNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown } | undefined;
  return e?.code === "ENOENT" || e?.name === "NotFound";
}

/** A CRL location with its current CRL. */
export class CrlSource {
  readonly location: string;
  current?: ParsedCrl;
  /** The issuer the current CRL verified with; later CRLs must verify with it too. */
  verifiedIssuer?: Certificate;
  loadedAt?: Date;
  lastError?: string;
  /** An optional file found missing at the last attempt, with nothing loaded. */
  absent = false;
  #deps: CrlSourceDeps;
  #optional: boolean;
  #watched: boolean;
  #inflight?: Promise<void>;
  #again?: Promise<void>;
  #attempts = 0;

  constructor(location: string, deps: CrlSourceDeps, options: CrlSourceOptions = {}) {
    this.location = location;
    this.#deps = deps;
    this.#optional = options.optional === true && !isUrl(location);
    this.#watched = options.watched === true;
  }

  #lastAttempt = -Infinity;

  /** Loads once more; concurrent calls share one load. Never throws. */
  refresh(): Promise<void> {
    this.#inflight ??= (async () => {
      this.#lastAttempt = this.#deps.now().getTime();
      this.#attempts++;
      await this.#load();
    })().finally(() => this.#inflight = undefined);
    return this.#inflight;
  }

  /**
   * Loads after a change notice (a file watcher). Unlike {@link refresh}, a
   * load already under way may have read the file before the change, so one
   * more load is queued after it (shared by every notice meanwhile).
   */
  reload(): Promise<void> {
    if (!this.#inflight) return this.refresh();
    this.#again ??= this.#inflight.then(() => {
      this.#again = undefined;
      return this.refresh();
    });
    return this.#again;
  }

  /** Starts a refresh unless one ran less than `minGap` ms ago (for stale CRLs seen on the hot path). */
  refreshSoon(minGap: number): void {
    if (this.#deps.now().getTime() - this.#lastAttempt >= minGap) void this.refresh();
  }

  /** Loads from the disk cache (URL sources only) when nothing is loaded yet. */
  async loadCached(): Promise<void> {
    const { store } = this.#deps;
    if (!store || this.current || !isUrl(this.location)) return;
    const bytes = await store.read(this.#blobName()).catch(() => undefined);
    if (!bytes) return;
    try {
      this.#accept(bytes, "disk cache");
    } catch { /* a bad cached copy is replaced by the next refresh */ }
  }

  #blobName(): string {
    return `crl-${encodeURIComponent(this.location).replace(/%/g, "_")}.crl`;
  }

  async #load(): Promise<void> {
    const { fetcher, readFile, logger } = this.#deps;
    let bytes: Uint8Array | undefined;
    try {
      bytes = isUrl(this.location)
        ? await fetcher.get(this.location)
        : await readFile(this.location).catch((err) => {
          if (this.#optional && !this.current && isNotFound(err)) return undefined;
          throw new RevocationError(
            "revocation_fetch_failed",
            `Cannot read CRL "${this.location}": ${(err as Error).message}`,
            { cause: err },
          );
        });
      if (bytes === undefined) {
        this.#markAbsent();
        return;
      }
      if (this.current && bytesEqual(bytes, this.current.der)) {
        this.lastError = undefined;
        return;
      }
      this.#accept(bytes, "source");
      if (isUrl(this.location)) {
        await this.#deps.store?.write(this.#blobName(), bytes).catch((err) =>
          logger.warn("Cannot cache CRL on disk", { source: this.location, error: String(err) })
        );
      }
    } catch (err) {
      const message = (err as Error).message;
      const code = (err as { code?: string }).code;
      const repeated = message === this.lastError;
      this.lastError = message;
      this.absent = false;
      const kept = this.current ? "keeping the last good CRL" : "no CRL loaded";
      // A local file read but refused (garbage, other key, older number) is an
      // operator's mistake, like a refused certificate reload: error. A URL
      // that fails is often transient: warn. The same failure again (the
      // refresh interval, several change notices for one write) is not news.
      const level = repeated
        ? "debug"
        : code === "crl_invalid" && !isUrl(this.location)
        ? "error"
        : "warn";
      logger[level](`CRL refresh failed, ${kept}: ${message}`, { source: this.location, code });
    }
  }

  #markAbsent(): void {
    this.lastError = undefined;
    if (this.absent) return;
    this.absent = true;
    this.#deps.logger.info(
      `CRL file "${this.location}" does not exist yet: nothing is revoked until it appears`,
      { source: this.location, watched: this.#watched },
    );
  }

  #accept(bytes: Uint8Array, from: string): void {
    const crl = parseCrl(bytes, this.location);
    const issuer = this.verifiedIssuer ??
      this.#deps.issuers.find((i) => bytesEqual(i.subject.der, crl.issuer));
    if (issuer) verifyCrlWith(crl, issuer);
    const cur = this.current;
    if (
      cur?.crlNumber !== undefined && crl.crlNumber !== undefined &&
      bytesEqual(cur.issuer, crl.issuer) && crl.crlNumber < cur.crlNumber
    ) {
      throw new RevocationError(
        "crl_invalid",
        `Cannot load CRL "${this.location}": CRL number "${crl.crlNumber}" is older than the loaded "${cur.crlNumber}"`,
      );
    }
    const changed = !cur || cur.crlNumber !== crl.crlNumber || cur.size !== crl.size ||
      cur.thisUpdate.getTime() !== crl.thisUpdate.getTime();
    this.current = crl;
    if (issuer) this.verifiedIssuer = issuer;
    else if (this.verifiedIssuer && !bytesEqual(this.verifiedIssuer.subject.der, crl.issuer)) {
      this.verifiedIssuer = undefined;
    }
    this.loadedAt = this.#deps.now();
    this.lastError = undefined;
    this.absent = false;
    // An unchanged CRL re-read on the refresh interval is not news.
    this.#deps.logger[changed ? "info" : "debug"]("CRL loaded", {
      source: this.location,
      from,
      entries: crl.size,
      crlNumber: crl.crlNumber?.toString(),
      nextUpdate: crl.nextUpdate?.toISOString(),
    });
    // The first CRL at start is no change; one that appears (or recovers) later is.
    if (changed && (cur || this.#attempts > 1)) this.#deps.onChange?.();
  }

  /** Verifies the current CRL against `issuer` (once per issuer key) and remembers it. */
  verifyWith(issuer: Certificate): void {
    if (!this.current) return;
    verifyCrlWith(this.current, issuer);
    this.verifiedIssuer = issuer;
  }

  /** A snapshot for `state()`. */
  state(): CrlSourceState {
    const c = this.current;
    return {
      location: this.location,
      loaded: !!c,
      thisUpdate: c?.thisUpdate,
      nextUpdate: c?.nextUpdate,
      crlNumber: c?.crlNumber,
      entries: c?.size ?? 0,
      loadedAt: this.loadedAt,
      lastError: this.lastError,
      ...(this.absent ? { absent: true } : {}),
    };
  }
}
