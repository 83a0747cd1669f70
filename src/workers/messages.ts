/**
 * What the primary (the coordinator) and the workers of `serve --workers N`
 * say to each other over `postMessage`. Plain data only: every message is
 * structured-cloned between threads.
 *
 * @module
 */

import type { MetricsSnapshot } from "../log/metrics.ts";
import type { SessionLimit } from "../mcp/session_ledger.ts";

/**
 * A question a worker asks the coordinator, answered by a {@link CoordinatorAnswer}.
 *
 * @example
 * ```ts
 * import type { CoordinatorQuestion } from "./messages.ts";
 * const q: CoordinatorQuestion = { op: "locate", sid: "w1-4f0c…" };
 * ```
 */
export type CoordinatorQuestion =
  /** Count a new session of `owner` (refused or granted with a slot number). */
  | { op: "reserve"; owner: string; label: string }
  /** Which worker holds session `sid`, bound to which certificate. */
  | { op: "locate"; sid: string };

/**
 * The coordinator's answer to a {@link CoordinatorQuestion}.
 *
 * @example
 * ```ts
 * import type { CoordinatorAnswer } from "./messages.ts";
 * const a: CoordinatorAnswer = { slot: 7 };
 * ```
 */
export type CoordinatorAnswer =
  | { slot: number }
  | { refusal: { status: 429 | 503; detail: string } }
  | { worker: number; socket: string; fingerprint?: string }
  | { missing: true };

/**
 * What a worker tells the coordinator without waiting for an answer.
 *
 * @example
 * ```ts
 * import type { CoordinatorNote } from "./messages.ts";
 * const n: CoordinatorNote = { op: "begin", slot: 7 };
 * ```
 */
export type CoordinatorNote =
  | { op: "begin" | "end" | "release"; slot: number }
  | { op: "named"; slot: number; sid: string; fingerprint?: string };

/**
 * A message from a worker to the primary.
 *
 * @example
 * ```ts
 * import type { FromWorker } from "./messages.ts";
 * const m: FromWorker = { t: "stopped" };
 * ```
 */
export type FromWorker =
  | { t: "ready"; port: number; url: string; socket: string }
  | { t: "failed"; error: string }
  | { t: "ask"; id: number; q: CoordinatorQuestion }
  | { t: "note"; n: CoordinatorNote }
  | { t: "metrics"; id: number; snapshot: MetricsSnapshot }
  | { t: "stopped" };

/**
 * A message from the primary to a worker.
 *
 * @example
 * ```ts
 * import type { ToWorker } from "./messages.ts";
 * const m: ToWorker = { t: "evict", slot: 7, why: "idle" };
 * ```
 */
export type ToWorker =
  | { t: "answer"; id: number; a: CoordinatorAnswer }
  | { t: "evict"; slot: number; why: SessionLimit | "idle" }
  | { t: "stop" }
  | { t: "hangup" }
  | { t: "metrics"; id: number };

/**
 * What a worker thread starts with (its `workerData`).
 *
 * @example
 * ```ts
 * import type { WorkerStart } from "./messages.ts";
 * const s: WorkerStart = {
 *   args: ["--certs", "certs"], index: 0, count: 2, port: 0, socketDir: "/tmp/x", separatePorts: false,
 * };
 * ```
 */
export interface WorkerStart {
  /** The `serve` arguments, as the primary got them. */
  args: string[];
  /** This worker's number, from 0. */
  index: number;
  /** How many workers there are. */
  count: number;
  /** The port every worker shares (0 before the first worker bound one). */
  port: number;
  /** The private 0700 directory of the workers' Unix sockets. */
  socketDir: string;
  /** Tests only: each worker on a port of its own, so a test picks the worker. */
  separatePorts: boolean;
}
