/**
 * What the gateway knows of its upstream's health, for `/healthz`: up until
 * a request finds it unreachable (or answering 502-504), then down, with the
 * reason and since when. While down, a probe (`probe`, a cheap request)
 * runs every `intervalMs`, so the state comes back without waiting for a
 * caller; any request that gets an answer also brings it back. Each change
 * is logged once.
 *
 * @module
 */

import type { HealthDetail } from "../mcp/health.ts";
import type { Logger } from "../log/logger.ts";
import type { UpstreamFailure } from "./upstream_errors.ts";

/**
 * The upstream's health.
 *
 * @example
 * ```ts ignore
 * health.down(failure);
 * console.log(health.detail()); // { ok: false, fields: { upstream: { state: "down", ... } } }
 * ```
 */
export interface UpstreamHealth {
  /** Whether the upstream is thought reachable. */
  readonly up: boolean;
  /** A request got an answer. */
  markUp(): void;
  /** A request found the upstream unreachable; starts probing. */
  markDown(failure: UpstreamFailure): void;
  /** The health answer's part about the upstream. */
  detail(): HealthDetail;
  /** Stops probing. */
  close(): void;
}

/**
 * Creates the tracker; it starts up (nothing has failed yet).
 *
 * @example
 * ```ts ignore
 * const health = createUpstreamHealth({ url, probe: () => ping(), logger, intervalMs: 2_000 });
 * ```
 */
export function createUpstreamHealth(o: {
  /** The upstream, for logs and the health answer. */
  url: string;
  /** Resolves when the upstream answers, rejects with the failure otherwise. */
  probe(): Promise<void>;
  logger: Logger;
  /** Ms between probes while down. @default {2000} */
  intervalMs?: number;
}): UpstreamHealth {
  const { url, logger, intervalMs = 2_000 } = o;
  let down: (UpstreamFailure & { since: Date }) | undefined;
  let timer: ReturnType<typeof setInterval> | undefined;
  let probing = false;
  let closed = false;

  const markUp = () => {
    if (!down) return;
    logger.info("upstream is reachable again", { upstream: url, downSince: down.since });
    down = undefined;
    clearInterval(timer);
    timer = undefined;
  };

  return {
    get up() {
      return down === undefined;
    },
    markUp,
    markDown(failure) {
      if (down || closed) return;
      down = { ...failure, since: new Date() };
      logger.warn("upstream is unreachable", {
        upstream: url,
        reason: failure.reason,
        cause: failure.cause,
      });
      timer = setInterval(() => {
        if (probing) return;
        probing = true;
        o.probe().then(markUp, () => {}).finally(() => probing = false);
      }, intervalMs);
    },
    detail() {
      if (!down) return { ok: true, fields: { upstream: { url, state: "up" } } };
      return {
        ok: false,
        fields: {
          upstream: {
            url,
            state: "down",
            reason: down.reason,
            cause: down.cause,
            since: down.since.toISOString(),
          },
        },
      };
    },
    close() {
      closed = true;
      clearInterval(timer);
      timer = undefined;
    },
  };
}
