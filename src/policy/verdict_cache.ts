/**
 * Remembers accepted certificate verdicts per leaf certificate, so a client
 * that reconnects with the same certificate skips the chain work (building
 * and checking the chain, computing its identity). A hit is exactly the
 * verdict a full check of this connection would reach: a verdict depends
 * only on what a connection presents and on the trust anchors, never on what
 * other connections presented before.
 *
 * - A trusted leaf issued straight by a trusted CA: the intermediates sent do
 *   not matter (trusted CAs are tried first); a hit reads none of them.
 * - A trusted chain through intermediates M1..Mk: a hit needs the client to
 *   present M1..Mk first, in that order. Chain building then takes the very
 *   same path (it tries the presented certificates in order), so a leaf sent
 *   without its intermediate is checked, and refused, afresh every time. For
 *   one intermediate (the usual case) the runtime's cheap "first presented
 *   certificate" is enough; otherwise the presented intermediates are read.
 * - An untrusted acceptance (demo policy): a hit needs exactly the same
 *   intermediates as before, since any of them might make the chain trusted.
 *
 * The validity period of the whole chain is checked again on every hit, and
 * pins and revocation run on every connection after the policy anyway.
 *
 * @module
 */

import type { Certificate } from "../cert/certificate.ts";
import { LruMap } from "../limits/lru.ts";
import type { PeerIdentity } from "./identity.ts";

/** One remembered acceptance. */
export interface CachedVerdict {
  /** Identity of the leaf (frozen: shared by every connection with that certificate). */
  identity: PeerIdentity;
  /** Chain the verdict was reached with, leaf first. */
  chain: Certificate[];
  /** Whether the chain reached a trusted CA. */
  trusted: boolean;
}

interface Entry {
  verdict: CachedVerdict;
  /** Latest notBefore in the chain, ms. */
  from: number;
  /** Earliest notAfter in the chain, ms. */
  to: number;
  /** Trusted via intermediates: their SHA-256 fingerprints, leaf side first. */
  intermediates?: readonly string[];
  /** Untrusted: the fingerprints of everything presented after the leaf, in order. */
  presented?: string;
}

/**
 * A bounded map from a leaf certificate (its SHA-256 fingerprint, which the
 * model computed when it read the DER) to an accepted verdict, evicting
 * the least recently used entry when full. A hit is returned only while `now`
 * lies within the validity period of every certificate of the chain; outside
 * it the caller runs the full checks, which then name the reason (`expired`,
 * `not_yet_valid`). A verdict reached with intermediates is returned only
 * when they are presented again (see the module doc).
 *
 * @example
 * ```ts ignore
 * const cache = new VerdictCache(1024);
 * const hit = cache.get(leaf, Date.now(), () => intermediates);
 * if (!hit) cache.set(leaf, { identity, chain, trusted: true }, intermediates);
 * ```
 */
export class VerdictCache {
  #entries: LruMap<Entry>;

  /** @param max Most entries kept. @default {1024} */
  constructor(max = 1024) {
    // compilePolicy() takes any verdictCacheSize > 0; a fraction kept its ceiling before.
    this.#entries = new LruMap({ max: Math.ceil(max) });
  }

  /** Number of entries. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The remembered verdict for this leaf certificate, if any, still in its
   * validity period at `now` (ms), and reached with what this connection
   * presented. `presented` returns the intermediates sent after the leaf, in
   * order; `first`, when given, the first of them only, cheaply (or
   * `undefined` when it cannot tell). Each is called only when needed. A
   * mismatch is a miss that keeps the entry: the client that sends its full
   * chain stays fast.
   */
  get(
    leaf: Certificate,
    now: number,
    presented: () => readonly Certificate[],
    first?: () => Certificate | undefined,
  ): CachedVerdict | undefined {
    const key = leaf.fingerprint;
    // Peek first: only a hit makes the entry recently used. The window is
    // checked here, not as the map's expiry, because `now` comes per call.
    const e = this.#entries.peek(key);
    if (!e) return undefined;
    if (now < e.from || now > e.to) {
      this.#entries.delete(key);
      return undefined;
    }
    if (e.intermediates && !presentedFirst(e.intermediates, presented, first)) return undefined;
    if (e.presented !== undefined && e.presented !== fingerprints(presented())) return undefined;
    this.#entries.get(key);
    return e.verdict;
  }

  /**
   * Remembers an accepted verdict for this leaf certificate. An untrusted one is
   * kept only with the intermediates it was reached with, `presented`.
   */
  set(
    leaf: Certificate,
    verdict: CachedVerdict,
    presented?: readonly Certificate[],
  ): void {
    if (!verdict.trusted && presented === undefined) return;
    let from = -Infinity;
    let to = Infinity;
    for (const c of verdict.chain) {
      from = Math.max(from, c.notBefore.getTime());
      to = Math.min(to, c.notAfter.getTime());
    }
    if (Number.isNaN(from) || Number.isNaN(to)) return;
    const key = leaf.fingerprint;
    freezeIdentity(verdict.identity);
    const between = verdict.chain.slice(1, -1);
    this.#entries.set(key, {
      verdict,
      from,
      to,
      intermediates: verdict.trusted && between.length
        ? between.map((c) => c.fingerprint)
        : undefined,
      presented: verdict.trusted ? undefined : fingerprints(presented!),
    });
  }

  /** Forgets everything. */
  clear(): void {
    this.#entries.clear();
  }
}

/**
 * Whether the client presented the chain's intermediates `fps` first, in
 * order, so that chain building takes the same path again.
 */
function presentedFirst(
  fps: readonly string[],
  presented: () => readonly Certificate[],
  first?: () => Certificate | undefined,
): boolean {
  const cheap = fps.length === 1 ? first?.() : undefined;
  if (cheap) return cheap.fingerprint === fps[0];
  const sent = presented();
  return fps.every((fp, i) => sent[i]?.fingerprint === fp);
}

/** The presented intermediates as one comparable string (order kept: chain building follows it). */
function fingerprints(certs: readonly Certificate[]): string {
  return certs.map((c) => c.fingerprint).join(",");
}

function freezeIdentity(identity: PeerIdentity): void {
  const sans = identity.subjectAltNames as unknown as Record<string, unknown>;
  for (const v of Object.values(sans)) if (Array.isArray(v)) Object.freeze(v);
  Object.freeze(sans);
  Object.freeze(identity);
}
