/**
 * Refusal lines of the connection gates (accept.ts, identity_gate.ts), at
 * most one per window per key: a client refused in a loop must not flood the
 * log. A summary line per key each window, and at close, counts the ones held
 * back.
 *
 * @module
 */

import { createRefusalLog } from "../../limits/refusal_log.ts";
import type { LogFields, Logger } from "../../log/logger.ts";
import { unrefTimer } from "../../runtime/timers.ts";

/**
 * Refusals logged at most once per window per key, with a summary line per
 * key each window (and at close) counting the ones held back.
 *
 * @example
 * ```ts ignore
 * const r = createThrottledRefusals(logger, 60_000, "address");
 * r.refuse("10.0.0.1", { peer: "10.0.0.1:5000", detail: "Too many" });
 * r.close();
 * ```
 */
export interface ThrottledRefusals {
  /** Logs `connection refused` (reason `rate_limited`) with `fields`, unless `key` was logged this window. */
  refuse(key: string, fields: LogFields & { peer: string; detail: string }): void;
  /** Stops the summary timer and logs what is still held back. */
  close(): void;
}

/**
 * Makes a {@link ThrottledRefusals}; `keyField` names the key in summary lines.
 *
 * @example
 * ```ts
 * import { createThrottledRefusals } from "./throttled_refusals.ts";
 * import { silentLogger } from "../../log/logger.ts";
 * const r = createThrottledRefusals(silentLogger, 60_000, "address");
 * r.refuse("10.0.0.1", { peer: "10.0.0.1:5000", detail: "Too many" });
 * r.close();
 * ```
 */
export function createThrottledRefusals(
  logger: Logger,
  windowMs: number,
  keyField: string,
  now?: () => number,
): ThrottledRefusals {
  const refusals = createRefusalLog({ windowMs, now });
  const summarize = () => {
    for (const { key, suppressed } of refusals.drain()) {
      logger.warn("connection refusals suppressed", {
        [keyField]: key,
        reason: "rate_limited",
        suppressed,
        windowMs,
      });
    }
  };
  let timer: ReturnType<typeof setInterval> | undefined = setInterval(summarize, windowMs);
  unrefTimer(timer);
  return {
    refuse(key, { peer, detail, ...more }) {
      const v = refusals.record(key);
      if (v.log) {
        logger.warn("connection refused", {
          peer,
          reason: "rate_limited",
          detail,
          ...more,
          suppressed: v.suppressed,
        });
      }
    },
    close() {
      if (timer === undefined) return;
      clearInterval(timer);
      timer = undefined;
      summarize();
    },
  };
}
