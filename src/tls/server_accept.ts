/**
 * The first admission step, at TCP accept and before any TLS work: a
 * connection rate per client address, concurrent connections overall and per
 * address. Refusals are logged once per window per address; the ones held
 * back are reported by a summary line each window and at close.
 *
 * @module
 */

import { createConcurrencyLimiter, type Release } from "../limits/concurrency_limiter.ts";
import { createRateLimiter, type RateLimiter } from "../limits/rate_limiter.ts";
import { createRefusalLog } from "../limits/refusal_log.ts";
import type { Logger } from "../log/logger.ts";

/**
 * Settings of {@link createAcceptGate}.
 *
 * @example
 * ```ts
 * import type { AcceptGateOptions } from "./server_accept.ts";
 * const o: AcceptGateOptions = {
 *   rate: { limit: 50, windowMs: 60_000 },
 *   maxConnections: 1024,
 *   maxConnectionsPerAddress: 64,
 * };
 * ```
 */
export interface AcceptGateOptions {
  /** New connections allowed per client address per window, or `false` for no rate limit. */
  rate: { limit: number; windowMs: number } | false;
  /** Most concurrent connections, all addresses together. */
  maxConnections: number;
  /** Most concurrent connections from one address. */
  maxConnectionsPerAddress: number;
  /** Clock in ms, for tests. @default {() => performance.now()} */
  now?: () => number;
}

/**
 * The compiled gate.
 *
 * @example
 * ```ts ignore
 * const release = gate.admit("127.0.0.1", "127.0.0.1:50000");
 * if (!release) socket.destroy(); else socket.once("close", release);
 * ```
 */
export interface AcceptGate {
  /** A release to call when the socket closes, or `null` when refused (already logged). */
  admit(address: string, peer: string): Release | null;
  /** Stops the summary timer and logs what is still held back. */
  close(): void;
}

/**
 * Makes the accept gate. Per-address refusals are logged as
 * `connection refused` with reason `rate_limited` at most once per window
 * (the rate window, or 60 s without a rate limit); a
 * `connection refusals suppressed` line per address reports the rest.
 *
 * @example
 * ```ts
 * import { createAcceptGate } from "./server_accept.ts";
 * import { silentLogger } from "../log/logger.ts";
 * const gate = createAcceptGate(
 *   { rate: { limit: 1, windowMs: 60_000 }, maxConnections: 10, maxConnectionsPerAddress: 10 },
 *   silentLogger,
 * );
 * console.log(gate.admit("10.0.0.1", "10.0.0.1:1") !== null); // true
 * console.log(gate.admit("10.0.0.1", "10.0.0.1:2")); // null
 * gate.close();
 * ```
 */
export function createAcceptGate(options: AcceptGateOptions, logger: Logger): AcceptGate {
  const { rate, maxConnections, maxConnectionsPerAddress } = options;
  const now = options.now ?? (() => performance.now());
  const windowMs = rate ? rate.windowMs : 60_000;
  const limiter: RateLimiter | undefined = rate
    ? createRateLimiter({ limit: rate.limit, windowMs: rate.windowMs, now })
    : undefined;
  const open = createConcurrencyLimiter({
    max: maxConnections,
    perKey: Math.min(maxConnectionsPerAddress, maxConnections),
  });
  const refusals = createRefusalLog({ windowMs, now });
  const summarize = () => {
    for (const { key, suppressed } of refusals.drain()) {
      logger.warn("connection refusals suppressed", {
        address: key,
        reason: "rate_limited",
        suppressed,
        windowMs,
      });
    }
  };
  let timer: ReturnType<typeof setInterval> | undefined = setInterval(summarize, windowMs);
  Deno.unrefTimer(timer);

  const refuse = (address: string, peer: string, detail: string) => {
    const v = refusals.record(address);
    if (v.log) {
      logger.warn("connection refused", {
        peer,
        reason: "rate_limited",
        detail,
        suppressed: v.suppressed,
      });
    }
    return null;
  };

  return {
    admit(address, peer) {
      if (open.active >= maxConnections) {
        return refuse(address, peer, `More than ${maxConnections} concurrent connections`);
      }
      if (open.activeFor(address) >= maxConnectionsPerAddress) {
        return refuse(
          address,
          peer,
          `More than ${maxConnectionsPerAddress} concurrent connections from "${address}"`,
        );
      }
      if (limiter && !limiter.take(address).allowed) {
        return refuse(
          address,
          peer,
          `More than ${rate && rate.limit} connections from "${address}" in ${windowMs} ms`,
        );
      }
      return open.acquire(address);
    },
    close() {
      if (timer === undefined) return;
      clearInterval(timer);
      timer = undefined;
      summarize();
    },
  };
}
