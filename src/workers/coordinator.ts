/**
 * The coordinator of `serve --workers N`, on the primary thread: the one
 * session ledger of every worker (so one identity's session cap and the
 * server-wide cap hold across workers), which worker holds which session and
 * for which certificate, and the idle sweep. Workers ask it by message
 * (messages.ts); it answers from memory, without I/O.
 *
 * A worker that ends takes its sessions with it: their places are given back.
 *
 * @module
 */

import { createSessionLedger, type SessionLimit, type SessionSlot } from "../mcp/session_ledger.ts";
import type { CoordinatorAnswer, CoordinatorNote, CoordinatorQuestion } from "./messages.ts";

/**
 * Options of {@link createCoordinator}.
 *
 * @example
 * ```ts ignore
 * const c = createCoordinator({ maxSessions: 1000, maxSessionsPerIdentity: 16, sessionIdleMs: 600_000, evict, socketOf });
 * ```
 */
export interface CoordinatorOptions {
  /** Most sessions, all workers together. */
  maxSessions: number;
  /** Most sessions of one owner (certificate, or address when anonymous), all workers together. */
  maxSessionsPerIdentity: number;
  /** Idle time after which a session is closed. */
  sessionIdleMs: number;
  /** Tells `worker` to close its session `slot` (made room for another, or idle). */
  evict(worker: number, slot: number, why: SessionLimit | "idle"): void;
  /** The Unix socket on which `worker` serves forwarded requests. */
  socketOf(worker: number): string | undefined;
  /** Clock in ms. @default {performance.now} */
  now?: () => number;
}

/**
 * The coordinator.
 *
 * @example
 * ```ts ignore
 * const answer = coordinator.ask(0, { op: "reserve", owner: "sha256:ab", label: "cn:alice" });
 * ```
 */
export interface Coordinator {
  /** Answers a worker's question. */
  ask(worker: number, q: CoordinatorQuestion): CoordinatorAnswer;
  /** Takes a worker's note. */
  note(worker: number, n: CoordinatorNote): void;
  /** The worker ended: its sessions are gone. */
  workerGone(worker: number): void;
  /** Sessions counted, all workers together. */
  readonly size: number;
  /** Stops the idle sweep. */
  close(): void;
}

interface Held {
  worker: number;
  slot: SessionSlot;
  sid?: string;
  fingerprint?: string;
}

/**
 * Makes the coordinator and starts its idle sweep.
 *
 * @example One identity, one session across two workers
 * ```ts
 * import { createCoordinator } from "./coordinator.ts";
 * const c = createCoordinator({
 *   maxSessions: 10, maxSessionsPerIdentity: 1, sessionIdleMs: 60_000,
 *   evict: (w, slot, why) => console.log(`worker ${w} closes ${slot}: ${why}`),
 *   socketOf: () => undefined,
 * });
 * const a = c.ask(0, { op: "reserve", owner: "sha256:ab", label: "alice" }); // { slot: 1 }
 * c.note(0, { op: "end", slot: 1 }); // its initialize answered: idle
 * c.ask(1, { op: "reserve", owner: "sha256:ab", label: "alice" }); // worker 0 closes 1
 * c.close();
 * ```
 */
export function createCoordinator(o: CoordinatorOptions): Coordinator {
  const held = new Map<number, Held>();
  const bySlot = new Map<SessionSlot, number>();
  const bySid = new Map<string, Held>();
  let next = 1;

  const forget = (num: number) => {
    const h = held.get(num);
    if (!h) return undefined;
    held.delete(num);
    bySlot.delete(h.slot);
    if (h.sid !== undefined && bySid.get(h.sid) === h) bySid.delete(h.sid);
    return h;
  };

  const ledger = createSessionLedger({
    maxSessions: o.maxSessions,
    maxSessionsPerIdentity: o.maxSessionsPerIdentity,
    // A connection lives on one worker: each worker counts its own connections' sessions.
    maxSessionsPerConnection: Number.MAX_SAFE_INTEGER,
    now: o.now,
    evict(slot, limit) {
      const num = bySlot.get(slot);
      if (num === undefined) return;
      const h = forget(num)!;
      o.evict(h.worker, num, limit);
    },
  });

  const sweep = setInterval(() => {
    const cutoff = (o.now ?? (() => performance.now()))() - o.sessionIdleMs;
    for (const slot of ledger.idleSince(cutoff)) {
      const num = bySlot.get(slot);
      ledger.release(slot);
      if (num === undefined) continue;
      const h = forget(num)!;
      o.evict(h.worker, num, "idle");
    }
  }, Math.min(Math.max(o.sessionIdleMs / 2, 10), 60_000));

  return {
    get size() {
      return ledger.size;
    },
    ask(worker, q) {
      if (q.op === "locate") {
        const h = bySid.get(q.sid);
        const socket = h === undefined ? undefined : o.socketOf(h.worker);
        if (!h || socket === undefined) return { missing: true };
        return {
          worker: h.worker,
          socket,
          ...(h.fingerprint === undefined ? {} : { fingerprint: h.fingerprint }),
        };
      }
      // A fresh object per session: the per-connection count is the worker's.
      const slot = ledger.reserve(q.owner, {}, q.label);
      if ("status" in slot) return { refusal: { status: slot.status, detail: slot.detail } };
      const num = next++;
      held.set(num, { worker, slot });
      bySlot.set(slot, num);
      return { slot: num };
    },
    note(worker, n) {
      const h = held.get(n.slot);
      if (!h || h.worker !== worker) return;
      if (n.op === "begin") ledger.begin(h.slot);
      else if (n.op === "end") ledger.end(h.slot);
      else if (n.op === "release") {
        ledger.release(h.slot);
        forget(n.slot);
      } else if (n.op === "named") {
        h.sid = n.sid;
        h.fingerprint = n.fingerprint;
        h.slot.id = n.sid;
        bySid.set(n.sid, h);
      }
    },
    workerGone(worker) {
      for (const [num, h] of [...held]) {
        if (h.worker !== worker) continue;
        ledger.release(h.slot);
        forget(num);
      }
    },
    close() {
      clearInterval(sweep);
    },
  };
}
