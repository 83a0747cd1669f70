/**
 * The connection limits of `serve --workers N`, counted once on the primary
 * for every worker: concurrent connections overall and per address
 * (`maxConnections`, `maxConnectionsPerAddress`), the per-address budget
 * (`connectionsPerAddress`) and the per-certificate rate
 * (`connectionsPerIdentity`). It runs the same gates as a single listener
 * (accept.ts and identity_gate.ts, on the limiters of src/limits), so the
 * limits, the reason codes and the log lines are the same; each refusal
 * line also names the worker that asked.
 *
 * Workers ask at accept (`open`) and when a connection is admitted with a
 * trusted certificate (`identity`), and tell when one is admitted without
 * one (`settle`) or closes (`close`). A worker that ends gives back every
 * connection it held (without spending its address's budget: the client did
 * not cause the end).
 *
 * Making room works across workers too: when a cap or an address's budget
 * is reached and connections are still in their handshake, the coordinator
 * asks their workers which of them have sent nothing yet (`probe`, answered
 * within 250 ms), so the gate can close the oldest silent one (`drop`) for
 * the new connection, as one listener does. Only under pressure: otherwise
 * the answer is immediate. Not shared: closing an idle admitted connection
 * at `maxConnections` (each worker's own; here the cap refuses).
 *
 * @module
 */

import { type AcceptTicket, createAcceptGate } from "../tls/server/accept.ts";
import { createIdentityGate } from "../tls/server/identity_gate.ts";
import type { LogFields, Logger } from "../log/logger.ts";
import type { GateAnswer, GateItem, GateNote, GateQuestion, ToWorker } from "./messages.ts";

/**
 * Options of {@link createAdmissionCoordinator}: the resolved connection
 * limits, the primary's logger, and how to reach a worker.
 *
 * @example
 * ```ts ignore
 * const gates = createAdmissionCoordinator({ ...resolvedLimits, logger, send });
 * ```
 */
export interface AdmissionCoordinatorOptions {
  /** Most concurrent connections, all workers together. */
  maxConnections: number;
  /** Most concurrent connections from one address, all workers together. */
  maxConnectionsPerAddress: number;
  /** Connections per address per window without a trusted certificate, or `false`. */
  connectionsPerAddress: { limit: number; windowMs: number } | false;
  /** Admitted connections per certificate per window, or `false`. */
  connectionsPerIdentity: { limit: number; windowMs: number } | false;
  /** Where refusals are logged (once per window per key, all workers together). */
  logger: Logger;
  /** Sends a worker answers (from {@link AdmissionCoordinator.take}) and orders (`probe`, `drop`). */
  send(worker: number, m: ToWorker): void;
  /** How long a probe waits for the workers' answers, ms. @default {250} */
  probeMs?: number;
  /** Clock in ms, for tests. @default {() => performance.now()} */
  now?: () => number;
}

/**
 * The coordinator's connection gates.
 *
 * @example
 * ```ts ignore
 * gates.ask(0, { op: "open", address: "127.0.0.1", peer: "127.0.0.1:5000" }, (a) => reply(a));
 * ```
 */
export interface AdmissionCoordinator {
  /** Answers a worker's question: at once, or after a probe when room must be made. */
  ask(worker: number, q: GateQuestion, reply: (a: GateAnswer) => void): void;
  /** Takes a worker's note. */
  note(worker: number, n: GateNote): void;
  /**
   * Takes a worker's batch in order; the answers ready at once go back in one
   * message, any that wait for a probe in one each.
   */
  take(worker: number, items: GateItem[]): void;
  /** Takes a worker's answer to a probe: which connections have sent nothing. */
  probed(worker: number, id: number, silent: number[]): void;
  /** The worker ended: its connections are given back. */
  workerGone(worker: number): void;
  /** Connections counted now, all workers together. */
  readonly open: number;
  /** Stops the refusal summary timers and logs what they held back. */
  close(): void;
}

interface Held {
  worker: number;
  address: string;
  ticket: AcceptTicket;
  /**
   * Known to have sent nothing: set by a probe just before the gate decides
   * (then cleared), or at close. Otherwise assumed to have spoken, so it is
   * never closed to make room on a guess.
   */
  silent: boolean;
}

/** Most connections one probe asks about (the oldest first). */
const PROBE_MAX = 64;

/**
 * Makes the connection gates of the coordinator.
 *
 * @example One connection per address, across two workers
 * ```ts
 * import { createAdmissionCoordinator } from "./admission_coordinator.ts";
 * import { silentLogger } from "../log/logger.ts";
 * const gates = createAdmissionCoordinator({
 *   maxConnections: 10, maxConnectionsPerAddress: 1,
 *   connectionsPerAddress: false, connectionsPerIdentity: false,
 *   logger: silentLogger, send: () => {},
 * });
 * const reply = (a: unknown) => console.log(a);
 * gates.ask(0, { op: "open", address: "10.0.0.1", peer: "10.0.0.1:5000" }, reply); // { conn: 1 }
 * gates.ask(1, { op: "open", address: "10.0.0.1", peer: "10.0.0.1:5001" }, reply); // { refused: true }
 * gates.note(0, { op: "close", conn: 1, spoke: true });
 * gates.ask(1, { op: "open", address: "10.0.0.1", peer: "10.0.0.1:5002" }, reply); // { conn: 2 }
 * gates.close();
 * ```
 */
export function createAdmissionCoordinator(o: AdmissionCoordinatorOptions): AdmissionCoordinator {
  let asking: number | undefined;
  // The gates' refusal lines name the worker whose question they answer.
  const tag = (fields?: LogFields) => asking === undefined ? fields : { ...fields, worker: asking };
  const logger: Logger = {
    debug: (msg, fields) => o.logger.debug(msg, tag(fields)),
    info: (msg, fields) => o.logger.info(msg, tag(fields)),
    warn: (msg, fields) => o.logger.warn(msg, tag(fields)),
    error: (msg, fields) => o.logger.error(msg, tag(fields)),
  };
  const gate = createAcceptGate({
    rate: o.connectionsPerAddress,
    maxConnections: o.maxConnections,
    maxConnectionsPerAddress: o.maxConnectionsPerAddress,
    now: o.now,
  }, logger);
  const identities = createIdentityGate({ rate: o.connectionsPerIdentity, now: o.now }, logger);
  const held = new Map<number, Held>();
  /** Connections still in their handshake, by address, oldest first: the ones that may be silent. */
  const unsettled = new Map<string, Set<number>>();
  /** Probes waiting for answers: the workers still to answer, and what they said. */
  const probes = new Map<number, { waiting: Set<number>; silent: number[]; done(): void }>();
  /** Bumped when a worker ends, so a question it asked before is not answered after. */
  const lives = new Map<number, number>();
  let next = 1;
  let nextProbe = 1;

  const settled = (num: number, h: Held) => {
    const set = unsettled.get(h.address);
    if (!set?.delete(num)) return;
    if (set.size === 0) unsettled.delete(h.address);
  };
  const forget = (num: number, h: Held) => {
    settled(num, h);
    held.delete(num);
  };

  const admit = (worker: number, address: string, peer: string): GateAnswer => {
    let num = 0; // numbered once admitted: only admitted ones are ever closed to make room
    const h = { worker, address, silent: false } as Held;
    const ticket = gate.admit(address, {
      peer,
      received: () => (h.silent ? 0 : 1),
      close() {
        // The gate closes this silent connection to make room: its worker closes the socket.
        forget(num, h);
        o.send(h.worker, { t: "drop", conn: num });
      },
    });
    if (!ticket) return { refused: true };
    num = next++;
    h.ticket = ticket;
    held.set(num, h);
    let set = unsettled.get(address);
    if (!set) unsettled.set(address, set = new Set());
    set.add(num);
    return { conn: num };
  };

  /** Connections that might make room for one from `address`: its own, or any at the overall cap. */
  const candidates = (address: string): number[] => {
    const out: number[] = [];
    const from = held.size >= o.maxConnections ? [...unsettled.values()] : [unsettled.get(address)];
    for (const set of from) {
      for (const num of set ?? []) {
        out.push(num);
        if (out.length >= PROBE_MAX) return out;
      }
    }
    return out;
  };

  /** Asks the workers holding `nums` which have sent nothing; resolves with those (late ones left out). */
  const probe = async (nums: number[]): Promise<number[]> => {
    // After the answers of the batch being taken have gone: a worker must know
    // a connection's number before it is asked about it.
    await undefined;
    const byWorker = new Map<number, number[]>();
    for (const num of nums) {
      const w = held.get(num)?.worker;
      if (w !== undefined) byWorker.set(w, [...(byWorker.get(w) ?? []), num]);
    }
    if (byWorker.size === 0) return [];
    const id = nextProbe++;
    return await new Promise((resolve) => {
      const p = {
        waiting: new Set(byWorker.keys()),
        silent: [] as number[],
        done() {
          clearTimeout(timer);
          probes.delete(id);
          resolve(p.silent);
        },
      };
      const timer = setTimeout(p.done, o.probeMs ?? 250);
      probes.set(id, p);
      for (const [w, conns] of byWorker) o.send(w, { t: "probe", id, conns });
    });
  };

  const open = (
    worker: number,
    q: { address: string; peer: string },
    reply: (a: GateAnswer) => void,
  ) => {
    const nums = gate.crowded(q.address) ? candidates(q.address) : [];
    if (nums.length === 0) return reply(admit(worker, q.address, q.peer));
    const life = lives.get(worker) ?? 0;
    probe(nums).then((silent) => {
      if ((lives.get(worker) ?? 0) !== life) return; // the worker that asked has ended
      const marked = silent.map((num) => held.get(num)).filter((h) => h !== undefined);
      for (const h of marked) h.silent = true;
      asking = worker;
      try {
        reply(admit(worker, q.address, q.peer));
      } finally {
        asking = undefined;
        for (const h of marked) h.silent = false;
      }
    });
  };

  function probed(worker: number, id: number, silent: number[]): void {
    const p = probes.get(id);
    if (!p?.waiting.delete(worker)) return;
    for (const num of silent) if (held.get(num)?.worker === worker) p.silent.push(num);
    if (p.waiting.size === 0) p.done();
  }

  return {
    ask(worker, q, reply) {
      asking = worker;
      try {
        if (q.op === "open") return open(worker, q, reply);
        const h = held.get(q.conn);
        if (h?.worker === worker) {
          settled(q.conn, h);
          h.ticket.authenticated();
        }
        const key = { fingerprint: q.fingerprint, subject: q.subject };
        reply(identities.admitted(key, q.peer) ? { granted: true } : { refused: true });
      } finally {
        asking = undefined;
      }
    },
    note(worker, n) {
      const h = held.get(n.conn);
      if (!h || h.worker !== worker) return; // a worker speaks only for its own connections
      if (n.op === "settle") {
        settled(n.conn, h);
        if (n.trusted) h.ticket.authenticated();
        else h.ticket.unauthenticated();
        return;
      }
      forget(n.conn, h);
      h.silent = !n.spoke;
      h.ticket.release();
    },
    take(worker, items) {
      const answers: [number, GateAnswer][] = [];
      let now = true;
      for (const item of items) {
        if ("n" in item) this.note(worker, item.n);
        else {
          const { id } = item;
          this.ask(worker, item.q, (a) => {
            if (now) answers.push([id, a]);
            else o.send(worker, { t: "gates", answers: [[id, a]] });
          });
        }
      }
      now = false;
      if (answers.length > 0) o.send(worker, { t: "gates", answers });
    },
    probed,
    workerGone(worker) {
      lives.set(worker, (lives.get(worker) ?? 0) + 1);
      for (const [num, h] of [...held]) {
        if (h.worker !== worker) continue;
        forget(num, h);
        h.silent = true; // given back without spending the address's budget: not the client's doing
        h.ticket.release();
      }
      for (const id of [...probes.keys()]) probed(worker, id, []); // it will not answer
    },
    get open() {
      return held.size;
    },
    close() {
      for (const p of probes.values()) p.done();
      gate.close();
      identities.close();
    },
  };
}
