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
 * A worker asks the coordinator's connection gates (admission_coordinator.ts)
 * about one of its connections, answered by a {@link GateAnswer}.
 *
 * @example
 * ```ts
 * import type { GateQuestion } from "./messages.ts";
 * const q: GateQuestion = { op: "open", address: "127.0.0.1", peer: "127.0.0.1:50000" };
 * ```
 */
export type GateQuestion =
  /** Count a new TCP connection from `address` (connection caps, the address's budget). */
  | { op: "open"; address: string; peer: string }
  /** Connection `conn` was admitted with a trusted certificate: count it against the certificate. */
  | { op: "identity"; conn: number; fingerprint: string; subject: string; peer: string };

/**
 * The coordinator's answer to a {@link GateQuestion}: the connection's number
 * (to `open`), granted (to `identity`), or refused (already logged there).
 *
 * @example
 * ```ts
 * import type { GateAnswer } from "./messages.ts";
 * const a: GateAnswer = { conn: 12 };
 * ```
 */
export type GateAnswer = { conn: number } | { granted: true } | { refused: true };

/**
 * What a worker tells the connection gates without waiting: connection `conn`
 * was admitted (`settle`; without a trusted certificate it spends a unit of
 * its address's budget), or it closed (`spoke`: it had sent a byte).
 *
 * @example
 * ```ts
 * import type { GateNote } from "./messages.ts";
 * const n: GateNote = { op: "close", conn: 12, spoke: true };
 * ```
 */
export type GateNote =
  | { op: "settle"; conn: number; trusted: boolean }
  | { op: "close"; conn: number; spoke: boolean };

/**
 * One item of a worker's batch to the connection gates: a question (answered
 * under its `id`) or a note. A worker sends what one turn of its event loop
 * produced as one message, in order: each message costs the primary thread
 * tens of microseconds, whatever it holds.
 *
 * @example
 * ```ts
 * import type { GateItem } from "./messages.ts";
 * const items: GateItem[] = [{ n: { op: "close", conn: 3, spoke: true } }, {
 *   id: 8,
 *   q: { op: "open", address: "127.0.0.1", peer: "127.0.0.1:50000" },
 * }];
 * ```
 */
export type GateItem = { id: number; q: GateQuestion } | { n: GateNote };

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
  | { t: "gates"; items: GateItem[] }
  /** The answer to a `probe`: which of those connections have sent nothing yet. */
  | { t: "probed"; id: number; silent: number[] }
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
  /** Answers to a worker's gate questions, `[id, answer]`, as many as were ready together. */
  | { t: "gates"; answers: [number, GateAnswer][] }
  /** Which of these connections (still in their handshake) have sent nothing yet? */
  | { t: "probe"; id: number; conns: number[] }
  /** Close this connection that sent nothing: it makes room for a newer one. */
  | { t: "drop"; conn: number }
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
