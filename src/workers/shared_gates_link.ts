/**
 * A worker's connection gates backed by the coordinator on the primary
 * (admission_coordinator.ts): the connection caps, the per-address budget
 * and the per-certificate rate are counted once for every worker, so they
 * hold whichever worker the kernel hands a connection to.
 *
 * Each new connection costs one question at accept, one more when it is
 * admitted with a trusted certificate while `connectionsPerIdentity` is on
 * (else a note), and a note when it closes. What one turn of the event loop
 * produced goes as one message (each message costs the primary thread tens
 * of microseconds), and the primary answers in one message too. Under pressure the coordinator also asks which
 * connections still in their handshake have sent nothing (`probe`), and
 * closes one of them to make room (`drop`). A question not answered within the deadline refuses
 * the connection with `worker_unavailable` (fail closed); an answer that
 * comes later is given back.
 *
 * @module
 */

import type { AcceptTicket, GateConnection } from "../tls/server/accept.ts";
import type { SharedConnectionGates, SharedRefusal } from "../tls/server/shared_gates.ts";
import { setImmediate } from "node:timers";
import type { GateAnswer, GateItem, GateQuestion, ToWorker } from "./messages.ts";
import type { WorkerLink } from "./worker_link.ts";

/**
 * Options of {@link sharedGates}.
 *
 * @example
 * ```ts
 * import type { SharedGatesOptions } from "./shared_gates_link.ts";
 * const o: SharedGatesOptions = { deadlineMs: 2_000, identityLimited: true };
 * ```
 */
export interface SharedGatesOptions {
  /** How long a question may wait for its answer before the connection is refused. */
  deadlineMs: number;
  /** Whether `connectionsPerIdentity` is on (else an admitted certificate is only told). */
  identityLimited: boolean;
}

/**
 * How long a note (a connection settled or closed) may wait for a question
 * to ride with. Measured on this 2-core machine: a message that wakes the
 * idle primary thread costs it about 100 µs of CPU, back-to-back ones about
 * 15 µs; sending the notes apart doubled the primary's cost per handshake.
 */
const NOTE_DELAY_MS = 50;

interface Waiting {
  at: number;
  done(a: GateAnswer | undefined): void;
}

/**
 * Makes the gates over the worker's link to the primary.
 *
 * @example
 * ```ts ignore
 * const gates = sharedGates(link, { deadlineMs: 2_000, identityLimited: true });
 * joinCluster(options, { ...member, connections: gates });
 * ```
 */
export function sharedGates(
  link: Pick<WorkerLink, "send" | "onOrder">,
  o: SharedGatesOptions,
): SharedConnectionGates {
  const { deadlineMs } = o;
  /** Questions waiting for answers, oldest first (so their deadlines come in order). */
  const waiting = new Map<number, Waiting>();
  let next = 1;
  let outbox: GateItem[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const unavailable: SharedRefusal = {
    reason: "worker_unavailable",
    detail: `The connection coordinator did not answer within ${deadlineMs} ms`,
    logged: false,
  };
  const limited: SharedRefusal = {
    reason: "rate_limited",
    detail: "Refused by the connection coordinator",
    logged: true, // the coordinator logs each refusal once per window per key
  };

  let soon = false;
  let later: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    soon = false;
    clearTimeout(later);
    later = undefined;
    if (outbox.length === 0) return;
    const items = outbox;
    outbox = [];
    link.send({ t: "gates", items });
  };
  /**
   * Questions go at the end of this turn; notes wait up to NOTE_DELAY_MS for
   * a question to ride with (the coordinator then counts a connection a
   * little longer than it lasts, never shorter).
   */
  const post = (item: GateItem) => {
    outbox.push(item);
    if ("q" in item) {
      if (!soon) setImmediate(flush);
      soon = true;
    } else later ??= setTimeout(flush, NOTE_DELAY_MS);
  };

  /** One timer for every question: expires the overdue ones, then waits for the next oldest. */
  const expire = () => {
    timer = undefined;
    const now = performance.now();
    for (const [id, w] of waiting) {
      if (w.at > now) {
        timer = setTimeout(expire, w.at - now);
        return;
      }
      waiting.delete(id);
      w.done(undefined);
    }
  };

  /** This worker's connections the coordinator counts, by its number for them. */
  const live = new Map<number, GateConnection>();

  const answered = (id: number, a: GateAnswer) => {
    const w = waiting.get(id);
    waiting.delete(id);
    if (waiting.size === 0 && timer !== undefined) {
      clearTimeout(timer); // nothing left to expire: the thread may end
      timer = undefined;
    }
    if (w) w.done(a);
    // Too late: the connection was refused already, so the place it was granted goes back.
    else if ("conn" in a) post({ n: { op: "close", conn: a.conn, spoke: false } });
  };

  link.onOrder((m: Exclude<ToWorker, { t: "answer" }>) => {
    if (m.t === "gates") { for (const [id, a] of m.answers) answered(id, a); }
    else if (m.t === "probe") {
      flush(); // closes not yet told arrive first: they may make the room asked for
      const silent = m.conns.filter((num) => live.get(num)?.received() === 0);
      link.send({ t: "probed", id: m.id, silent });
    } else if (m.t === "drop") {
      // Closed to make room; the coordinator has given its place back already.
      const conn = live.get(m.conn);
      live.delete(m.conn);
      conn?.close();
    }
  });

  const ask = (q: GateQuestion) =>
    new Promise<GateAnswer | undefined>((done) => {
      const id = next++;
      waiting.set(id, { at: performance.now() + deadlineMs, done });
      timer ??= setTimeout(expire, deadlineMs);
      post({ id, q });
    });

  /** Each ticket's connection number, and how to mark it settled without a note. */
  const numbers = new WeakMap<AcceptTicket, number>();
  const settledBy = new WeakMap<AcceptTicket, () => void>();

  return {
    async open(address, conn) {
      const a = await ask({ op: "open", address, peer: conn.peer });
      if (a === undefined) return unavailable;
      if (!("conn" in a)) return limited;
      const num = a.conn;
      live.set(num, conn);
      let settled = false;
      let released = false;
      const settle = (trusted: boolean) => {
        if (settled) return;
        settled = true;
        post({ n: { op: "settle", conn: num, trusted } });
      };
      const ticket: AcceptTicket = {
        authenticated: () => settle(true),
        unauthenticated: () => settle(false),
        release() {
          if (released) return;
          released = true;
          if (!live.delete(num)) return; // dropped: nothing left to give back
          post({ n: { op: "close", conn: num, spoke: conn.received() > 0 } });
        },
      };
      numbers.set(ticket, num);
      settledBy.set(ticket, () => (settled = true));
      return ticket;
    },
    async identity(ticket, key, peer) {
      const conn = numbers.get(ticket);
      if (conn === undefined) return unavailable;
      if (!o.identityLimited) {
        ticket.authenticated();
        return true;
      }
      settledBy.get(ticket)?.(); // the coordinator settles it with this question
      const a = await ask({
        op: "identity",
        conn,
        fingerprint: key.fingerprint,
        subject: key.subject,
        peer,
      });
      if (a === undefined) return unavailable;
      return "granted" in a ? true : limited;
    },
  };
}
