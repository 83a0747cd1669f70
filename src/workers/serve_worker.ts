/**
 * One worker of `serve --workers N`, as the `serve` command runs it in its
 * thread: the same configuration as the primary's, then
 *
 * - the shared port (`reusePort`), or a port of its own in tests;
 * - sessions named after the worker (`w1-…`), counted by the coordinator,
 *   and routed to their worker (session_forward.ts, forwarded_listener.ts);
 * - the connection limits divided by N (see {@link divideConnectionLimits});
 * - no health listener (the primary serves one with the summed counters);
 * - the primary's orders: stop (drain), reload (its SIGHUP), counters.
 *
 * @module
 */

import { join } from "node:path";
import { rmSync } from "node:fs";
import type { Logger } from "../log/logger.ts";
import { resolveServeOptions, type ServeMcpOptions } from "../mcp/server_options.ts";
import { type ClusterMember, joinCluster } from "../mcp/session_seams.ts";
import type { ObservableMcpServer } from "../mcp/server_types.ts";
import type { SessionLimit } from "../mcp/session_ledger.ts";
import { type ForwardedListener, listenForForwarded } from "./forwarded_listener.ts";
import type { WorkerStart } from "./messages.ts";
import { sharedCounter } from "./shared_counter.ts";
import { createForwardingRouter } from "./session_forward.ts";
import type { WorkerLink } from "./worker_link.ts";

/**
 * What `serve` does differently in a worker thread.
 *
 * @example
 * ```ts ignore
 * const code = await serve(start.args, io, { worker: createServeWorker(link, start) });
 * ```
 */
export interface ServeWorker {
  /** Adapts the resolved options to this worker (port, limits, no health) and sets `cluster`. */
  join(options: ServeMcpOptions, logger: Logger): void;
  /** The server is listening: tells the primary. */
  ready(server: ObservableMcpServer): void;
  /** Resolves when the primary orders a stop. */
  readonly stopped: Promise<void>;
  /** Calls `listener` on each reload order (the primary's SIGHUP). */
  onHangup(listener: () => void): () => void;
  /** The server has closed: stops the private listener and tells the primary. */
  done(): Promise<void>;
}

/**
 * Divides the connection limits (`maxConnections`, `maxConnectionsPerAddress`,
 * `connectionsPerAddress`, `connectionsPerIdentity`) by `count`, rounding
 * down, at least 1: each worker enforces its share, so the sum never exceeds
 * the configured limit. The kernel spreads one address's connections over
 * the workers (the hash includes the source port), so a client meets about
 * the configured limit; an unlucky spread refuses it a little early, never
 * late.
 *
 * @example
 * ```ts ignore
 * divideConnectionLimits(options, 2);
 * ```
 */
export function divideConnectionLimits(options: ServeMcpOptions, count: number): void {
  const r = resolveServeOptions({ ...options, health: undefined });
  const share = (n: number) => Math.max(1, Math.floor(n / count));
  const rate = (v: { limit: number; windowMs: number } | false) =>
    v === false ? false : { limit: share(v.limit), windowMs: v.windowMs };
  options.limits = {
    ...options.limits,
    maxConnections: share(r.maxConnections),
    maxConnectionsPerAddress: share(r.maxConnectionsPerAddress),
    connectionsPerAddress: rate(r.connectionsPerAddress),
    connectionsPerIdentity: rate(r.connectionsPerIdentity),
  };
}

/**
 * Makes the worker's side of `serve`.
 *
 * @example
 * ```ts ignore
 * const worker = createServeWorker(createWorkerLink(parentChannel()!, 2000), start);
 * ```
 */
export function createServeWorker(link: WorkerLink, start: WorkerStart): ServeWorker {
  const socket = join(start.socketDir, `w${start.index}.sock`);
  const hangups = new Set<() => void>();
  let take: ((slot: number, why: SessionLimit | "idle") => void) | undefined;
  let resolveStop!: () => void;
  const stopped = new Promise<void>((r) => (resolveStop = r));
  let server: ObservableMcpServer | undefined;
  let forwarded: ForwardedListener | undefined;
  let router: ReturnType<typeof createForwardingRouter> | undefined;

  link.onOrder((m) => {
    if (m.t === "evict") take?.(m.slot, m.why);
    else if (m.t === "stop") resolveStop();
    else if (m.t === "hangup") { for (const l of hangups) l(); }
    else if (m.t === "metrics" && server) {
      link.send({ t: "metrics", id: m.id, snapshot: server.metrics() });
    }
  });

  return {
    join(options, logger) {
      const r = resolveServeOptions({ ...options, health: undefined });
      divideConnectionLimits(options, start.count);
      delete options.health;
      options.port = start.separatePorts ? 0 : start.port;
      router = createForwardingRouter(link, logger);
      const member: ClusterMember = {
        reusePort: !start.separatePorts,
        sessionIdPrefix: `w${start.index}-`,
        counter: sharedCounter(
          link,
          { maxSessionsPerConnection: r.maxSessionsPerConnection, deadlineMs: DEADLINE_MS },
          (t) => (take = t),
        ),
        router,
        async attach(owned) {
          rmSync(socket, { force: true }); // left by a worker of this number that crashed
          forwarded = await listenForForwarded(socket, owned, logger, r.maxBodyBytes);
        },
      };
      joinCluster(options, member);
    },
    ready(s) {
      server = s;
      link.send({ t: "ready", port: s.address.port, url: s.url, socket });
    },
    stopped,
    onHangup(listener) {
      hangups.add(listener);
      return () => hangups.delete(listener);
    },
    async done() {
      await forwarded?.close();
      router?.close();
      link.send({ t: "stopped" });
    },
  };
}

/** How long a worker waits for the coordinator before it refuses (fail closed). */
export const DEADLINE_MS = 2_000;
