/**
 * The primary of `serve --workers N`: starts N worker threads that accept on
 * one port (the first binds it, the others join with `reusePort`), owns the
 * coordinator (session counts and locations, coordinator.ts), serves the
 * health listener with the workers' counters summed, passes reloads on,
 * replaces a worker that ends unexpectedly (logged at error), and drains
 * every worker on close.
 *
 * @module
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MtlsError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type { MetricsSnapshot } from "../log/metrics.ts";
import { type HealthServer, resolveHealthOptions, startHealthServer } from "../mcp/health.ts";
import { resolveServeOptions, type ServeMcpOptions } from "../mcp/server_options.ts";
import {
  spawnWorkerThread,
  workerModuleUrl,
  type WorkerThread,
} from "../runtime/worker_threads.ts";
import { type Coordinator, createCoordinator } from "./coordinator.ts";
import { createAdmissionCoordinator } from "./admission_coordinator.ts";
import type { FromWorker, ToWorker, WorkerStart } from "./messages.ts";
import { sumSnapshots } from "./metrics_sum.ts";

/**
 * Options of {@link startWorkerPool}.
 *
 * @example
 * ```ts ignore
 * const pool = await startWorkerPool({ args: ["--certs", "certs"], count: 2, options, logger });
 * ```
 */
export interface WorkerPoolOptions {
  /** The `serve` arguments; each worker resolves the same configuration from them. */
  args: string[];
  /** How many workers. */
  count: number;
  /** The resolved server options (session limits, health listener, address). */
  options: ServeMcpOptions;
  /** Logger of the primary. */
  logger: Logger;
  /**
   * Tests only: each worker listens on a port of its own instead of sharing
   * one, so a test can choose the worker a connection lands on. @default {false}
   */
  separatePorts?: boolean;
  /** How long a worker may take to drain on close before it is ended. @default {15000} */
  drainMs?: number;
}

/**
 * The running workers.
 *
 * @example
 * ```ts ignore
 * console.log(pool.url, await pool.metrics());
 * await pool.close();
 * ```
 */
export interface WorkerPool {
  /** URL of the MCP endpoint (worker 0's, with `separatePorts`). */
  readonly url: string;
  /** Each worker's port (all the same unless `separatePorts`). */
  readonly ports: readonly number[];
  /** URL of the health path, when the `health` option is set. */
  readonly healthUrl?: string;
  /** Every worker's counters, summed (a worker that does not answer within 1 s is left out). */
  metrics(): Promise<MetricsSnapshot>;
  /** Each worker's counters (`undefined` for one that did not answer within 1 s). */
  workerMetrics(): Promise<(MetricsSnapshot | undefined)[]>;
  /** Every worker reloads its TLS material and pins (what SIGHUP does). */
  reload(): void;
  /** Tests: ends worker `index` as a crash would; resolves when its replacement listens. */
  kill(index: number): Promise<void>;
  /** Drains every worker (sessions, connections, requests in flight), then stops. Idempotent. */
  close(): Promise<void>;
}

interface Slot {
  thread: WorkerThread;
  port: number;
  url: string;
  socket?: string;
  listening: boolean;
  readyAt: number;
  stopped: Promise<void>;
}

/**
 * Starts the workers and resolves once every one listens. Refuses where the
 * runtime cannot share a port (see `canSharePort`). A worker that fails to
 * start stops the others and rejects with its message.
 *
 * @example
 * ```ts ignore
 * import { startWorkerPool } from "./pool.ts";
 * const pool = await startWorkerPool({ args, count: 2, options, logger });
 * ```
 */
export async function startWorkerPool(o: WorkerPoolOptions): Promise<WorkerPool> {
  const { logger, count } = o;
  const r = resolveServeOptions({ ...o.options, health: undefined });
  const socketDir = mkdtempSync(join(tmpdir(), "mcp-mtls-workers-")); // mode 0700
  const slots: (Slot | undefined)[] = Array(count).fill(undefined);
  const metricWaits = new Map<number, (s: MetricsSnapshot) => void>();
  let nextId = 1;
  let closing: Promise<void> | undefined;
  let sharedPort = r.port;

  const send = (i: number, m: ToWorker) => slots[i]?.thread.post(m);
  const coordinator: Coordinator = createCoordinator({
    maxSessions: r.maxSessions,
    maxSessionsPerIdentity: r.maxSessionsPerIdentity,
    sessionIdleMs: r.sessionIdleMs,
    evict: (w, slot, why) => send(w, { t: "evict", slot, why }),
    socketOf: (w) => (slots[w]?.listening ? slots[w]?.socket : undefined),
  });
  // The connection limits, counted once for every worker.
  const gates = createAdmissionCoordinator({
    maxConnections: r.maxConnections,
    maxConnectionsPerAddress: r.maxConnectionsPerAddress,
    connectionsPerAddress: r.connectionsPerAddress,
    connectionsPerIdentity: r.connectionsPerIdentity,
    logger,
    send,
  });

  /** Starts worker `index`; resolves when it listens, rejects when it fails first. */
  function spawn(index: number): Promise<void> {
    const start: WorkerStart = {
      args: o.args,
      index,
      count,
      port: o.separatePorts ? 0 : sharedPort,
      socketDir,
      separatePorts: o.separatePorts ?? false,
    };
    const url = workerModuleUrl(new URL("../", import.meta.url), "workers/worker_main");
    const thread = spawnWorkerThread(url, start);
    let stoppedNow!: () => void;
    const slot: Slot = {
      thread,
      port: 0,
      url: "",
      listening: false,
      readyAt: 0,
      stopped: new Promise((r) => (stoppedNow = r)),
    };
    slots[index] = slot;
    return new Promise((resolve, reject) => {
      thread.onMessage((raw) => {
        const m = raw as FromWorker;
        if (m.t === "ask") send(index, { t: "answer", id: m.id, a: coordinator.ask(index, m.q) });
        else if (m.t === "note") coordinator.note(index, m.n);
        else if (m.t === "gates") gates.take(index, m.items);
        else if (m.t === "probed") gates.probed(index, m.id, m.silent);
        else if (m.t === "ready") {
          Object.assign(slot, { port: m.port, url: m.url, socket: m.socket, listening: true });
          slot.readyAt = performance.now();
          resolve();
        } else if (m.t === "metrics") metricWaits.get(m.id)?.(m.snapshot);
        else if (m.t === "stopped") stoppedNow();
        else if (m.t === "failed") {
          reject(new MtlsError("invalid_config", `Worker ${index} could not start: ${m.error}`));
        }
      });
      thread.onExit((code) => {
        stoppedNow();
        coordinator.workerGone(index);
        gates.workerGone(index);
        if (slots[index] !== slot) return;
        slot.listening = false;
        if (!slot.port) {
          reject(new MtlsError("invalid_config", `Worker ${index} ended at start (code ${code})`));
          return;
        }
        if (closing) return;
        logger.error("worker ended unexpectedly; starting a new one", { worker: index, code });
        // One that ends soon after its start waits a little, so a crash loop cannot spin.
        const wait = performance.now() - slot.readyAt < 5_000 ? 1_000 : 0;
        new Promise((r) => setTimeout(r, wait)).then(async () => {
          if (closing) return;
          await spawn(index);
          logger.info("worker replaced", { worker: index });
        }).catch((e) =>
          logger.error("cannot replace the worker", { worker: index, error: String(e) })
        );
      });
    });
  }

  async function stopAll(drainMs: number) {
    const live = slots.filter((s): s is Slot => s !== undefined);
    for (let i = 0; i < count; i++) send(i, { t: "stop" });
    await Promise.all(
      live.map((s) => Promise.race([s.stopped, new Promise((r) => setTimeout(r, drainMs))])),
    );
    await Promise.all(live.map((s) => s.thread.terminate()));
    coordinator.close();
    gates.close();
    rmSync(socketDir, { recursive: true, force: true });
  }

  let health: HealthServer | undefined;
  try {
    await spawn(0);
    sharedPort = slots[0]!.port;
    await Promise.all(Array.from({ length: count - 1 }, (_, i) => spawn(i + 1)));
    if (o.options.health) {
      health = await startHealthServer(resolveHealthOptions(o.options.health), metrics, logger);
    }
  } catch (e) {
    closing = stopAll(0);
    await closing;
    throw e;
  }

  function workerMetrics(): Promise<(MetricsSnapshot | undefined)[]> {
    return Promise.all(slots.map((s, i) => {
      if (!s?.listening) return Promise.resolve(undefined);
      const id = nextId++;
      return new Promise<MetricsSnapshot | undefined>((resolve) => {
        const timer = setTimeout(() => {
          metricWaits.delete(id);
          resolve(undefined);
        }, 1_000);
        metricWaits.set(id, (snap) => {
          clearTimeout(timer);
          metricWaits.delete(id);
          resolve(snap);
        });
        send(i, { t: "metrics", id });
      });
    }));
  }

  async function metrics(): Promise<MetricsSnapshot> {
    const got = await workerMetrics();
    return sumSnapshots(got.filter((s): s is MetricsSnapshot => s !== undefined));
  }

  logger.info("workers listening", { workers: count, port: slots[0]!.port });
  return {
    url: slots[0]!.url,
    get ports() {
      return slots.map((s) => s?.port ?? 0);
    },
    healthUrl: health?.url,
    metrics,
    workerMetrics,
    reload: () => slots.forEach((_, i) => send(i, { t: "hangup" })),
    async kill(index) {
      const old = slots[index];
      if (!old) throw new RangeError(`No worker ${index}`);
      const replaced = new Promise<void>((resolve) => {
        const check = setInterval(() => {
          const now = slots[index];
          if (now !== old && now?.listening) {
            clearInterval(check);
            resolve();
          }
        }, 20);
      });
      await old.thread.terminate();
      await replaced;
    },
    close() {
      closing ??= (async () => {
        health?.draining();
        await stopAll(o.drainMs ?? 15_000);
        await health?.close();
      })();
      return closing;
    },
  };
}
