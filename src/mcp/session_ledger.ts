/**
 * Who holds which stateful session, and which session gives way when a limit
 * is reached: counts per owner (a client certificate, or an address for
 * anonymous peers), per connection and overall.
 *
 * The rule is that no owner can deny sessions to another. At an owner's own
 * cap, its least recently used idle session is closed to make room, so a
 * client that leaks sessions only ever replaces its own; only when all of
 * them are busy is the new one refused. At the server-wide cap, an idle
 * session of the owner holding the most sessions gives way. A session is
 * busy while a request of it is in flight, its GET stream included.
 *
 * Plain data and an injectable clock: no timers, no sockets.
 *
 * @module
 */

/** One session as the ledger counts it, from its `initialize` until it closes. */
export interface SessionSlot {
  /** Whose session it is: a key per client certificate, or per address for anonymous peers. */
  readonly owner: string;
  /** The owner as messages and logs name it. */
  readonly label: string;
  /** The connection its `initialize` came on (any object that identifies it). */
  readonly connection: object;
  /** Requests in flight, an open GET stream included; the session is idle at 0. */
  active: number;
  /** Clock reading when a request last started or ended. */
  lastSeen: number;
  /** Session id, once the SDK has initialized the session. */
  id?: string;
  /** Set once the ledger no longer counts the session (closed, evicted or expired). */
  released: boolean;
}

/** Which limit made a session give way. */
export type SessionLimit = "maxSessionsPerIdentity" | "maxSessions";

/** Options of {@link createSessionLedger}. */
export interface SessionLedgerOptions {
  /** Most sessions overall. */
  maxSessions: number;
  /** Most sessions of one owner. */
  maxSessionsPerIdentity: number;
  /** Most open sessions opened on one connection; more are refused. */
  maxSessionsPerConnection: number;
  /** Closes a session that gives way to a new one; the ledger has already released it. */
  evict(slot: SessionSlot, limit: SessionLimit): void;
  /** Clock in ms. @default {performance.now} */
  now?: () => number;
}

/** A refused reservation: HTTP status (429 for one client's limits, 503 when the server is full) and why. */
export interface SessionRefusal {
  /** HTTP status. */
  status: 429 | 503;
  /** Sentence for the client and the log. */
  detail: string;
  /** Reason code of the refusal. @default {"rate_limited"} */
  reason?: string;
}

/** The ledger of open sessions. */
export interface SessionLedger {
  /** Sessions counted, those still initializing included. */
  readonly size: number;
  /**
   * Counts a new session of `owner` (named `label` in messages) on
   * `connection`, making room first when a limit allows it; the slot starts
   * busy (its `initialize` is in flight).
   */
  reserve(owner: string, connection: object, label?: string): SessionSlot | SessionRefusal;
  /** A request of the session started. */
  begin(slot: SessionSlot): void;
  /** A request of the session ended. */
  end(slot: SessionSlot): void;
  /** Stops counting the session; false when it was no longer counted. */
  release(slot: SessionSlot): boolean;
  /** Idle sessions whose last request ended before `cutoff`. */
  idleSince(cutoff: number): SessionSlot[];
}

function oldestIdle(slots: Iterable<SessionSlot>): SessionSlot | undefined {
  let oldest: SessionSlot | undefined;
  for (const s of slots) {
    if (s.active === 0 && (!oldest || s.lastSeen < oldest.lastSeen)) oldest = s;
  }
  return oldest;
}

/**
 * Creates a session ledger.
 *
 * @example Two sessions per owner: the third replaces the least recently used idle one
 * ```ts
 * import { createSessionLedger, type SessionSlot } from "./session_ledger.ts";
 * const ledger = createSessionLedger({
 *   maxSessions: 100,
 *   maxSessionsPerIdentity: 2,
 *   maxSessionsPerConnection: 10,
 *   evict: (slot) => console.log(`closing ${slot.id}`),
 * });
 * const conn = {};
 * for (const id of ["s1", "s2", "s3"]) {
 *   const slot = ledger.reserve("cn:alice", conn) as SessionSlot;
 *   slot.id = id;
 *   ledger.end(slot); // its initialize answered: idle
 * }
 * // logs "closing s1"; ledger.size is 2
 * ```
 */
export function createSessionLedger(options: SessionLedgerOptions): SessionLedger {
  const { maxSessions, maxSessionsPerIdentity, maxSessionsPerConnection, evict } = options;
  const now = options.now ?? (() => performance.now());
  const byOwner = new Map<string, Set<SessionSlot>>();
  const byConnection = new WeakMap<object, number>();
  let size = 0;

  function release(slot: SessionSlot): boolean {
    if (slot.released) return false;
    slot.released = true;
    const own = byOwner.get(slot.owner);
    own?.delete(slot);
    if (own?.size === 0) byOwner.delete(slot.owner);
    byConnection.set(slot.connection, (byConnection.get(slot.connection) ?? 1) - 1);
    size--;
    return true;
  }

  function giveWay(slot: SessionSlot, limit: SessionLimit) {
    release(slot);
    evict(slot, limit);
  }

  /** At the server-wide cap: an idle session of the biggest holder, the requester's own last. */
  function fairVictim(requester: string): SessionSlot | undefined {
    const mine = byOwner.get(requester)?.size ?? 0;
    const bigger = [...byOwner].filter(([owner, slots]) => owner !== requester && slots.size > mine)
      .sort((a, b) => b[1].size - a[1].size);
    for (const [, slots] of bigger) {
      const victim = oldestIdle(slots);
      if (victim) return victim;
    }
    return oldestIdle(byOwner.get(requester) ?? []);
  }

  return {
    get size() {
      return size;
    },
    reserve(owner, connection, label = owner) {
      // A single connection that keeps opening sessions is refused, not served by
      // closing its own: eviction is for sessions left behind by earlier connections.
      if ((byConnection.get(connection) ?? 0) >= maxSessionsPerConnection) {
        return {
          status: 429,
          detail: `More than ${maxSessionsPerConnection} open sessions on this connection`,
        };
      }
      const own = byOwner.get(owner);
      if (own && own.size >= maxSessionsPerIdentity) {
        const victim = oldestIdle(own);
        if (!victim) {
          return {
            status: 429,
            detail:
              `More than ${maxSessionsPerIdentity} open sessions for "${label}", none of them idle`,
          };
        }
        giveWay(victim, "maxSessionsPerIdentity");
      }
      if (size >= maxSessions) {
        const victim = fairVictim(owner);
        if (!victim) {
          return {
            status: 503,
            detail: `More than ${maxSessions} open sessions, none of them idle`,
          };
        }
        giveWay(victim, "maxSessions");
      }
      const slot: SessionSlot = {
        owner,
        label,
        connection,
        active: 1,
        lastSeen: now(),
        released: false,
      };
      let slots = byOwner.get(owner);
      if (!slots) byOwner.set(owner, slots = new Set());
      slots.add(slot);
      byConnection.set(connection, (byConnection.get(connection) ?? 0) + 1);
      size++;
      return slot;
    },
    begin(slot) {
      slot.active++;
      slot.lastSeen = now();
    },
    end(slot) {
      slot.active = Math.max(0, slot.active - 1);
      slot.lastSeen = now();
    },
    release,
    idleSince(cutoff) {
      const idle: SessionSlot[] = [];
      for (const slots of byOwner.values()) {
        for (const s of slots) if (s.active === 0 && s.lastSeen < cutoff) idle.push(s);
      }
      return idle;
    },
  };
}
