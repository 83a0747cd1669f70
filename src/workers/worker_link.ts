/**
 * A worker's line to the primary: questions to the coordinator with a
 * deadline, notes without an answer, and the primary's orders (evict a
 * session, stop, reload, report counters).
 *
 * A question the coordinator does not answer within the deadline resolves
 * `undefined`: the caller refuses (fail closed), it never guesses.
 *
 * @module
 */

import type { ParentChannel } from "../runtime/worker_threads.ts";
import type {
  CoordinatorAnswer,
  CoordinatorNote,
  CoordinatorQuestion,
  FromWorker,
  ToWorker,
} from "./messages.ts";

/**
 * The link.
 *
 * @example
 * ```ts ignore
 * const answer = await link.ask({ op: "locate", sid });
 * if (answer === undefined) refuse503();
 * ```
 */
export interface WorkerLink {
  /** Asks the coordinator; `undefined` when it did not answer within the deadline. */
  ask(q: CoordinatorQuestion): Promise<CoordinatorAnswer | undefined>;
  /** Tells the coordinator something. */
  note(n: CoordinatorNote): void;
  /** Sends any message to the primary. */
  send(m: FromWorker): void;
  /** Calls `listener` with each order of the primary (answers excluded). */
  onOrder(listener: (m: Exclude<ToWorker, { t: "answer" }>) => void): void;
  /** Stops listening, so the thread can end. */
  close(): void;
}

/**
 * Makes the link over `channel`.
 *
 * @example
 * ```ts ignore
 * const link = createWorkerLink(parentChannel()!, 2_000);
 * ```
 */
export function createWorkerLink(channel: ParentChannel, deadlineMs: number): WorkerLink {
  const waiting = new Map<number, (a: CoordinatorAnswer | undefined) => void>();
  const listeners: ((m: Exclude<ToWorker, { t: "answer" }>) => void)[] = [];
  let next = 1;
  channel.onMessage((raw) => {
    const m = raw as ToWorker;
    if (m.t === "answer") {
      const done = waiting.get(m.id);
      waiting.delete(m.id);
      if (done) done(m.a);
      // Too late: the session was refused already, so the place it was granted goes back.
      else if ("slot" in m.a) channel.post({ t: "note", n: { op: "release", slot: m.a.slot } });
      return;
    }
    for (const l of listeners) l(m);
  });
  return {
    ask(q) {
      const id = next++;
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          resolve(undefined);
        }, deadlineMs);
        waiting.set(id, (a) => {
          clearTimeout(timer);
          resolve(a);
        });
        channel.post({ t: "ask", id, q } satisfies FromWorker);
      });
    },
    note: (n) => channel.post({ t: "note", n } satisfies FromWorker),
    send: (m) => channel.post(m),
    onOrder: (l) => void listeners.push(l),
    close() {
      for (const done of waiting.values()) done(undefined);
      waiting.clear();
      channel.close();
    },
  };
}
