/**
 * "Logged once per window rather than per attempt": decides whether a refusal
 * for a key should be logged now, and counts the ones it holds back.
 *
 * @module
 */
import { LruMap } from "./lru.ts";
import { clock, positiveInteger } from "./options.ts";

/**
 * Options for {@link createRefusalLog}.
 *
 * @example
 * ```ts
 * import type { RefusalLogOptions } from "@mtls/mcp/limits";
 * const o: RefusalLogOptions = { windowMs: 60_000 };
 * ```
 */
export interface RefusalLogOptions {
  /** At most one logged refusal per key per window, in milliseconds. @default {60_000} */
  windowMs?: number;
  /** Clock in milliseconds. @default {() => performance.now()} */
  now?: () => number;
  /** Most keys tracked; the least recently refused are forgotten first. @default {10_000} */
  maxKeys?: number;
}

/**
 * What to do with one refusal.
 *
 * @example
 * ```ts
 * import type { RefusalVerdict } from "@mtls/mcp/limits";
 * const v: RefusalVerdict = { log: true, suppressed: 41 };
 * ```
 */
export interface RefusalVerdict {
  /** Log this refusal (the first for its key in a window). */
  readonly log: boolean;
  /**
   * Refusals for this key held back since the last logged one: when `log` is
   * true, the count to report with this line (this refusal not included).
   */
  readonly suppressed: number;
}

/**
 * A per-key refusal log throttle; see {@link createRefusalLog}.
 *
 * @example
 * ```ts
 * import { createRefusalLog, type RefusalLog } from "@mtls/mcp/limits";
 * const refusals: RefusalLog = createRefusalLog();
 * refusals.record("10.0.0.1").log; // true
 * ```
 */
export interface RefusalLog {
  /** Records one refusal for `key`. O(1). */
  record(key: string): RefusalVerdict;
  /** Every key with held-back refusals and their counts, which are reset: call on an interval to log summaries. */
  drain(): { key: string; suppressed: number }[];
  /** Number of keys tracked now. */
  readonly size: number;
}

interface Entry {
  loggedAt: number;
  suppressed: number;
}

/**
 * Makes a refusal log throttle: the first refusal for a key in a window is
 * logged, the rest are counted, and the next logged refusal (or
 * {@link RefusalLog.drain}) reports how many were held back.
 *
 * @param options window, clock, key bound
 * @returns the throttle
 * @throws {ConfigError} when an option is not a positive integer
 *
 * @example With a logger
 * ```ts
 * import { createRefusalLog } from "@mtls/mcp/limits";
 * const refusals = createRefusalLog({ windowMs: 60_000 });
 * for (let i = 0; i < 3; i++) {
 *   const v = refusals.record("10.0.0.1");
 *   if (v.log) console.warn("refused", { peer: "10.0.0.1", reason: "rate_limited", suppressed: v.suppressed });
 * }
 * console.log(refusals.drain()); // [{ key: "10.0.0.1", suppressed: 2 }]
 * ```
 */
export function createRefusalLog(options: RefusalLogOptions = {}): RefusalLog {
  const windowMs = positiveInteger("windowMs", options.windowMs ?? 60_000);
  const maxKeys = positiveInteger("maxKeys", options.maxKeys ?? 10_000);
  const now = clock(options.now ?? (() => performance.now()));
  const entries = new LruMap<Entry>();
  return {
    record(key: string): RefusalVerdict {
      const t = now();
      const e = entries.get(key);
      if (e !== undefined) {
        if (t - e.loggedAt < windowMs) {
          e.suppressed++;
          return { log: false, suppressed: e.suppressed };
        }
        const suppressed = e.suppressed;
        e.loggedAt = t;
        e.suppressed = 0;
        return { log: true, suppressed };
      }
      for (let i = 0; i < 16; i++) {
        // Least recently refused first: forget keys whose window is over and that hold nothing back.
        const old = entries.oldest();
        if (old === undefined || t - old.value.loggedAt < windowMs || old.value.suppressed > 0) {
          break;
        }
        entries.delete(old.key);
      }
      if (entries.size >= maxKeys) entries.delete(entries.oldest()!.key);
      entries.set(key, { loggedAt: t, suppressed: 0 });
      return { log: true, suppressed: 0 };
    },
    drain(): { key: string; suppressed: number }[] {
      const out: { key: string; suppressed: number }[] = [];
      for (const [key, e] of entries.entries()) {
        if (e.suppressed > 0) {
          out.push({ key, suppressed: e.suppressed });
          e.suppressed = 0;
        }
      }
      return out;
    },
    get size(): number {
      return entries.size;
    },
  };
}
