/**
 * Remembers accepted certificate verdicts per leaf certificate, so a client
 * that reconnects with the same certificate skips the chain work (reading the
 * intermediates it sent, building and checking the chain, computing its
 * identity). Only what cannot change for the same bytes and the same trust
 * anchors is remembered; the validity period of the whole chain is checked
 * again on every hit, and pins and revocation run on every connection after
 * the policy anyway.
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
}

/**
 * A bounded map from leaf certificate bytes to an accepted verdict, evicting
 * the least recently used entry when full. A hit is returned only while `now`
 * lies within the validity period of every certificate of the chain; outside
 * it the caller runs the full checks, which then name the reason (`expired`,
 * `not_yet_valid`).
 *
 * @example
 * ```ts ignore
 * const cache = new VerdictCache(1024);
 * const hit = cache.get(leaf.raw, Date.now());
 * if (!hit) cache.set(leaf.raw, { identity, chain, trusted: true });
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

  /** The remembered verdict for these leaf bytes, if any and still in its validity period at `now` (ms). */
  get(leafDer: Uint8Array, now: number): CachedVerdict | undefined {
    const key = keyOf(leafDer);
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (now < e.from || now > e.to) {
      this.#entries.delete(key);
      return undefined;
    }
    // Most recently used goes last, so eviction takes the first key.
    this.#entries.delete(key);
    this.#entries.set(key, e);
    return e.verdict;
  }

  /** Remembers an accepted verdict for these leaf bytes. */
  set(leafDer: Uint8Array, verdict: CachedVerdict): void {
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
    this.#entries.set(key, { verdict, from, to });
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

function freezeIdentity(identity: PeerIdentity): void {
  const sans = identity.subjectAltNames as unknown as Record<string, unknown>;
  for (const v of Object.values(sans)) if (Array.isArray(v)) Object.freeze(v);
  Object.freeze(sans);
  Object.freeze(identity);
}
