/**
 * One worker of `serve --workers N`, as the `serve` command runs it in its
 * thread: the same configuration as the primary's, then
 *
 * - the shared port (`reusePort`), or a port of its own in tests;
 * - sessions named after the worker (`w1-…`), counted by the coordinator,
 *   and routed to their worker (session_forward.ts, forwarded_listener.ts);
 * - the connection limits counted by the coordinator too, for every worker
 *   together (shared_gates_link.ts, admission_coordinator.ts);
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
import { sharedGates } from "./shared_gates_link.ts";
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
  /** Adapts the resolved options to this worker (port, no health) and sets `cluster` (shared limits). */
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
        connections: sharedGates(link, {
          deadlineMs: DEADLINE_MS,
          identityLimited: r.connectionsPerIdentity !== false,
        }),
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
