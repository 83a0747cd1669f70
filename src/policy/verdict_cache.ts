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

import { Buffer } from "node:buffer";
import type { X509Certificate } from "node:crypto";
import type { PeerIdentity } from "./identity.ts";

/** One remembered acceptance. */
export interface CachedVerdict {
  /** Identity of the leaf (frozen: shared by every connection with that certificate). */
  identity: PeerIdentity;
  /** Chain the verdict was reached with, leaf first. */
  chain: X509Certificate[];
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
 * A bounded map from leaf certificate bytes to an accepted verdict, evicting
 * the least recently used entry when full. A hit is returned only while `now`
 * lies within the validity period of every certificate of the chain; outside
 * it the caller runs the full checks, which then name the reason (`expired`,
 * `not_yet_valid`). A verdict reached with intermediates is returned only
 * when they are presented again (see the module doc).
 *
 * @example
 * ```ts ignore
 * const cache = new VerdictCache(1024);
 * const hit = cache.get(leaf.raw, Date.now(), () => intermediates);
 * if (!hit) cache.set(leaf.raw, { identity, chain, trusted: true }, intermediates);
 * ```
 */
export class VerdictCache {
  #entries = new Map<string, Entry>();
  #max: number;

  /** @param max Most entries kept. @default {1024} */
  constructor(max = 1024) {
    this.#max = max;
  }

  /** Number of entries. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The remembered verdict for these leaf bytes, if any, still in its
   * validity period at `now` (ms), and reached with what this connection
   * presented. `presented` returns the intermediates sent after the leaf, in
   * order; `first`, when given, the first of them only, cheaply (or
   * `undefined` when it cannot tell). Each is called only when needed. A
   * mismatch is a miss that keeps the entry: the client that sends its full
   * chain stays fast.
   */
  get(
    leafDer: Uint8Array,
    now: number,
    presented: () => readonly X509Certificate[],
    first?: () => X509Certificate | undefined,
  ): CachedVerdict | undefined {
    const key = keyOf(leafDer);
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (now < e.from || now > e.to) {
      this.#entries.delete(key);
      return undefined;
    }
    if (e.intermediates && !presentedFirst(e.intermediates, presented, first)) return undefined;
    if (e.presented !== undefined && e.presented !== fingerprints(presented())) return undefined;
    // Most recently used goes last, so eviction takes the first key.
    this.#entries.delete(key);
    this.#entries.set(key, e);
    return e.verdict;
  }

  /**
   * Remembers an accepted verdict for these leaf bytes. An untrusted one is
   * kept only with the intermediates it was reached with, `presented`.
   */
  set(
    leafDer: Uint8Array,
    verdict: CachedVerdict,
    presented?: readonly X509Certificate[],
  ): void {
    if (!verdict.trusted && presented === undefined) return;
    let from = -Infinity;
    let to = Infinity;
    for (const c of verdict.chain) {
      from = Math.max(from, new Date(c.validFrom).getTime());
      to = Math.min(to, new Date(c.validTo).getTime());
    }
    if (Number.isNaN(from) || Number.isNaN(to)) return;
    const key = keyOf(leafDer);
    this.#entries.delete(key);
    if (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    freezeIdentity(verdict.identity);
    const between = verdict.chain.slice(1, -1);
    this.#entries.set(key, {
      verdict,
      from,
      to,
      intermediates: verdict.trusted && between.length
        ? between.map((c) => c.fingerprint256)
        : undefined,
      presented: verdict.trusted ? undefined : fingerprints(presented!),
    });
  }

  /** Forgets everything. */
  clear(): void {
    this.#entries.clear();
  }
}

/** The DER bytes as a string key: exact, and cheaper than hashing them. */
function keyOf(der: Uint8Array): string {
  return Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString("latin1");
}

/**
 * Whether the client presented the chain's intermediates `fps` first, in
 * order, so that chain building takes the same path again.
 */
function presentedFirst(
  fps: readonly string[],
  presented: () => readonly X509Certificate[],
  first?: () => X509Certificate | undefined,
): boolean {
  const cheap = fps.length === 1 ? first?.() : undefined;
  if (cheap) return cheap.fingerprint256 === fps[0];
  const sent = presented();
  return fps.every((fp, i) => sent[i]?.fingerprint256 === fp);
}

/** The presented intermediates as one comparable string (order kept: chain building follows it). */
function fingerprints(certs: readonly X509Certificate[]): string {
  return certs.map((c) => c.fingerprint256).join(",");
}

function freezeIdentity(identity: PeerIdentity): void {
  const sans = identity.subjectAltNames as unknown as Record<string, unknown>;
  for (const v of Object.values(sans)) if (Array.isArray(v)) Object.freeze(v);
  Object.freeze(sans);
  Object.freeze(identity);
}
