/**
 * `serve --workers N` on the primary thread: checks that the runtime can
 * share a port and that the configuration can be served by several workers,
 * starts them (src/workers/pool.ts), announces the URL once, passes SIGHUP
 * on as a reload, and drains them all on SIGINT or SIGTERM.
 *
 * @module
 */

import process from "node:process";
import { ConfigError } from "../errors.ts";
import type { Logger } from "../log/logger.ts";
import type { ServeMcpOptions } from "../mcp/server_options.ts";
import { onSignal } from "../runtime/process.ts";
import { runtimeLabel } from "../runtime/detect.ts";
import { canSharePort } from "../runtime/worker_threads.ts";
import { startWorkerPool } from "../workers/pool.ts";
import type { CliIo } from "./io.ts";

/**
 * What {@link serveWithWorkers} needs from `serve`.
 *
 * @example
 * ```ts ignore
 * await serveWithWorkers({ args, count: 2, options, logger, io, stop, announce });
 * ```
 */
export interface ServeWithWorkers {
  /** The `serve` arguments, for the workers. */
  args: string[];
  /** How many workers (2 or more). */
  count: number;
  /** The resolved server options. */
  options: ServeMcpOptions;
  /** The primary's logger. */
  logger: Logger;
  /** Where the URL is announced. */
  io: CliIo;
  /** Resolves on SIGINT, SIGTERM or the caller's abort signal. */
  stop: { stopped: Promise<void>; dispose(): void };
  /** Logs which revocation and pin checks are enforced, once. */
  announce(): void;
}

/**
 * Runs the workers until stopped; returns the exit code.
 *
 * @example
 * ```ts ignore
 * return await serveWithWorkers({ args, count: config.workers, options, logger, io, stop, announce });
 * ```
 */
export async function serveWithWorkers(a: ServeWithWorkers): Promise<number> {
  try {
    if (!canSharePort()) {
      throw new ConfigError(
        `Option "workers" above 1 needs listen({ reusePort }), which ${runtimeLabel()} on ${process.platform} lacks (Deno, Bun, or Node.js 22.12+ on Linux)`,
        { key: "workers" },
      );
    }
  } catch (e) {
    a.stop.dispose();
    throw e;
  }
  let pool;
  try {
    pool = await startWorkerPool({
      args: a.args,
      count: a.count,
      options: a.options,
      logger: a.logger,
    });
  } catch (e) {
    a.stop.dispose();
    throw e;
  }
  a.announce();
  const offHangup = onSignal("SIGHUP", () => {
    a.logger.info("SIGHUP: every worker reloads its TLS material and pins", {});
    pool.reload();
  });
  a.io.stdout(`Serving MCP over mutual TLS at ${pool.url} (${a.count} workers)\n`);
  if (pool.healthUrl) a.io.stdout(`Health checks (plain HTTP) at ${pool.healthUrl}\n`);
  await a.stop.stopped;
  a.io.stderr("Stopping...\n");
  offHangup();
  await pool.close();
  return 0;
}
