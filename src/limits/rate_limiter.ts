/**
 * A rate limiter keyed by string (client address, certificate fingerprint):
 * an exact sliding window in O(1) per call and bounded memory.
 *
 * @module
 */
import { LruMap } from "./lru.ts";
import { clock, positiveInteger } from "./options.ts";

/**
 * Options for {@link createRateLimiter}. The defaults are the C# seed's: 50
 * per 60 seconds.
 *
 * @example
 * ```ts
 * import type { RateLimiterOptions } from "@mtls/mcp/limits";
 * const o: RateLimiterOptions = { limit: 600, windowMs: 60_000 };
 * ```
 */
export interface RateLimiterOptions {
  /** Most takes allowed per key in any window. @default {50} */
  limit?: number;
  /** Window length in milliseconds. @default {60_000} */
  windowMs?: number;
  /** Clock in milliseconds; monotonic is best. @default {() => performance.now()} */
  now?: () => number;
  /**
   * Most keys tracked at once. Keys idle for a whole window are dropped first
   * (losing nothing); beyond that the least recently used key is forgotten,
   * which resets its budget. Memory is at most about
   * `maxKeys × (limit × 8 + 100)` bytes.
   * @default {10_000}
   */
  maxKeys?: number;
}

/**
 * The verdict of {@link RateLimiter.take}.
 *
 * @example
 * ```ts
 * import type { RateDecision } from "@mtls/mcp/limits";
 * const d: RateDecision = { allowed: false, retryAfterMs: 1200 };
 * ```
 */
export interface RateDecision {
  /** Whether this attempt is within the limit. */
  readonly allowed: boolean;
  /** When refused, milliseconds until an attempt will be allowed; 0 when allowed. */
  readonly retryAfterMs: number;
}

/**
 * A keyed rate limiter; see {@link createRateLimiter}.
 *
 * @example
 * ```ts
 * import { createRateLimiter, type RateLimiter } from "@mtls/mcp/limits";
 * const limiter: RateLimiter = createRateLimiter();
 * limiter.take("127.0.0.1").allowed; // true
 * ```
 */
export interface RateLimiter {
  /** Counts one attempt for `key` and says whether it is allowed. O(1). */
  take(key: string): RateDecision;
  /**
   * Takes `key` could still make in the window now, without counting one:
   * for a caller that reserves budget before it knows whether to spend it.
   * O(limit).
   */
  remaining(key: string): number;
  /** Forgets `key` (its budget is full again). */
  reset(key: string): void;
  /** Number of keys tracked now (at most `maxKeys`). */
  readonly size: number;
  /** Keys forgotten while still active because `maxKeys` was reached. */
  readonly evicted: number;
}

interface Bucket {
  /** Allowed takes' times; grows to `limit`, then is a ring whose oldest entry is at `head`. */
  times: number[];
  head: number;
  last: number;
}

const ALLOWED: RateDecision = Object.freeze({ allowed: true, retryAfterMs: 0 });
/** Expired keys dropped per call, so no single call pays for a large sweep. */
const SWEEP = 16;

/**
 * Makes a rate limiter: at most `limit` allowed takes per key in any
 * `windowMs` interval, counted exactly (a sliding log of the last `limit`
 * allowed times, kept as a ring: deciding only compares with the oldest).
 * Refused attempts are not counted, so a client that backs off gets through as
 * soon as its oldest allowed attempt leaves the window; `retryAfterMs` says
 * when.
 *
 * Attempts at `t` and `t + windowMs` are in different windows: with `limit` 1
 * and `windowMs` 1000, takes at 0 and 1000 are both allowed, at 999 refused.
 *
 * @param options limit, window, clock, key bound
 * @returns the limiter
 * @throws {ConfigError} when an option is not a positive integer
 *
 * @example Connection rate per client address, checked at accept
 * ```ts
 * import { createRateLimiter } from "@mtls/mcp/limits";
 * let t = 0;
 * const perAddress = createRateLimiter({ limit: 2, windowMs: 1000, now: () => t });
 * perAddress.take("10.0.0.1"); // { allowed: true, retryAfterMs: 0 }
 * perAddress.take("10.0.0.1"); // allowed
 * console.log(perAddress.take("10.0.0.1")); // { allowed: false, retryAfterMs: 1000 }
 * t = 1000;
 * console.log(perAddress.take("10.0.0.1").allowed); // true
 * ```
 */
export function createRateLimiter(options: RateLimiterOptions = {}): RateLimiter {
  const limit = positiveInteger("limit", options.limit ?? 50);
  const windowMs = positiveInteger("windowMs", options.windowMs ?? 60_000);
  const maxKeys = positiveInteger("maxKeys", options.maxKeys ?? 10_000);
  const now = clock(options.now ?? (() => performance.now()));
  const buckets = new LruMap<Bucket>();
  let evicted = 0;

  const makeRoom = (t: number) => {
    // Least recently used first: drop keys idle for a whole window (nothing lost), then, if still full, the oldest.
    for (let i = 0; i < SWEEP; i++) {
      const old = buckets.oldest();
      if (old === undefined || t - old.value.last < windowMs) break;
      buckets.delete(old.key);
    }
    if (buckets.size >= maxKeys) {
      buckets.delete(buckets.oldest()!.key);
      evicted++;
    }
  };

  return {
    take(key: string): RateDecision {
      const t = now();
      let b = buckets.get(key);
      if (b === undefined) {
        makeRoom(t);
        b = { times: [], head: 0, last: t };
        buckets.set(key, b);
      }
      if (b.times.length < limit) {
        b.times.push(t);
        b.last = t;
        return ALLOWED;
      }
      const oldest = b.times[b.head];
      if (t - oldest >= windowMs) {
        b.times[b.head] = t;
        b.head = b.head + 1 === limit ? 0 : b.head + 1;
        b.last = t;
        return ALLOWED;
      }
      return { allowed: false, retryAfterMs: oldest + windowMs - t };
    },
    remaining(key: string): number {
      const b = buckets.get(key);
      if (b === undefined) return limit;
      const t = now();
      let used = 0;
      for (const at of b.times) if (t - at < windowMs) used++;
      return limit - used;
    },
    reset(key: string): void {
      buckets.delete(key);
    },
    get size(): number {
      return buckets.size;
    },
    get evicted(): number {
      return evicted;
    },
  };
}
