/**
 * Limits that keep a server standing: a keyed rate limiter (failed handshakes
 * per client address, connections per certificate fingerprint; default 50 per
 * 60 s, as the C# seed), a concurrency limiter (overall and per key), and a
 * refusal log throttle so a flood is logged once per window rather than per
 * attempt.
 *
 * Runtime-neutral: plain data, an injectable clock, O(1) per call, memory
 * bounded however many distinct keys arrive.
 *
 * @example At connection accept, before any TLS work
 * ```ts
 * import { createConcurrencyLimiter, createRateLimiter, createRefusalLog } from "@mtls/mcp/limits";
 *
 * const rate = createRateLimiter(); // 50 per 60 s per address
 * const open = createConcurrencyLimiter({ max: 1024, perKey: 32 });
 * const refusals = createRefusalLog();
 *
 * function onAccept(address: string, close: () => void): (() => void) | undefined {
 *   const release = rate.take(address).allowed ? open.acquire(address) : null;
 *   if (release === null) {
 *     const v = refusals.record(address);
 *     if (v.log) console.warn(`refused ${address}: rate_limited (${v.suppressed} more since last line)`);
 *     close();
 *     return undefined;
 *   }
 *   return release; // call when the socket closes
 * }
 *
 * const release = onAccept("127.0.0.1", () => {});
 * release?.();
 * ```
 *
 * @module
 */
export { createRateLimiter } from "./rate_limiter.ts";
export type { RateDecision, RateLimiter, RateLimiterOptions } from "./rate_limiter.ts";
export { createConcurrencyLimiter } from "./concurrency_limiter.ts";
export type {
  ConcurrencyLimiter,
  ConcurrencyLimiterOptions,
  Release,
} from "./concurrency_limiter.ts";
export { createRefusalLog } from "./refusal_log.ts";
export type { RefusalLog, RefusalLogOptions, RefusalVerdict } from "./refusal_log.ts";
