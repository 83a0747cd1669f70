/**
 * A concurrency limiter: a maximum of simultaneous holders overall and per key
 * (connections overall and per client address).
 *
 * @module
 */
import { positiveInteger } from "./options.ts";

/**
 * Options for {@link createConcurrencyLimiter}.
 *
 * @example
 * ```ts
 * import type { ConcurrencyLimiterOptions } from "@mtls/mcp/limits";
 * const o: ConcurrencyLimiterOptions = { max: 256, perKey: 8 };
 * ```
 */
export interface ConcurrencyLimiterOptions {
  /** Most holders at once, all keys together. @default {1024} */
  max?: number;
  /** Most holders at once for one key. @default {32} */
  perKey?: number;
}

/**
 * Gives a slot back. Calling it again does nothing.
 *
 * @example
 * ```ts
 * import type { Release } from "@mtls/mcp/limits";
 * const release: Release = () => {};
 * release();
 * ```
 */
export type Release = () => void;

/**
 * A concurrency limiter; see {@link createConcurrencyLimiter}.
 *
 * @example
 * ```ts
 * import { createConcurrencyLimiter, type ConcurrencyLimiter } from "@mtls/mcp/limits";
 * const limiter: ConcurrencyLimiter = createConcurrencyLimiter();
 * limiter.acquire("127.0.0.1")?.();
 * ```
 */
export interface ConcurrencyLimiter {
  /** Takes a slot for `key`: a {@link Release} to call when done, or null when a limit is reached. O(1). */
  acquire(key: string): Release | null;
  /** Slots held now, all keys together. */
  readonly active: number;
  /** Slots held now by `key`. */
  activeFor(key: string): number;
}

/**
 * Makes a concurrency limiter. Memory is one counter per key holding a slot,
 * so at most `max` keys.
 *
 * @param options overall and per-key maximum
 * @returns the limiter
 * @throws {ConfigError} when an option is not a positive integer
 *
 * @example Connections overall and per address
 * ```ts
 * import { createConcurrencyLimiter } from "@mtls/mcp/limits";
 * const connections = createConcurrencyLimiter({ max: 100, perKey: 1 });
 * const release = connections.acquire("10.0.0.1");
 * console.log(connections.acquire("10.0.0.1")); // null: one per address
 * release?.(); // on socket close
 * console.log(connections.active); // 0
 * ```
 */
export function createConcurrencyLimiter(
  options: ConcurrencyLimiterOptions = {},
): ConcurrencyLimiter {
  const max = positiveInteger("max", options.max ?? 1024);
  const perKey = positiveInteger("perKey", options.perKey ?? 32);
  const held = new Map<string, number>();
  let active = 0;
  return {
    acquire(key: string): Release | null {
      const mine = held.get(key) ?? 0;
      if (active >= max || mine >= perKey) return null;
      held.set(key, mine + 1);
      active++;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        active--;
        const left = held.get(key)! - 1;
        if (left === 0) held.delete(key);
        else held.set(key, left);
      };
    },
    get active(): number {
      return active;
    },
    activeFor(key: string): number {
      return held.get(key) ?? 0;
    },
  };
}
