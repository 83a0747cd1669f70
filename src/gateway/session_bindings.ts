/**
 * The upstream's sessions as the gateway holds them: each `Mcp-Session-Id`
 * the upstream hands out is bound to the client certificate (fingerprint)
 * whose `initialize` opened it, and counted in the same ledger as
 * `serveMcp`'s sessions (`../mcp/session_ledger.ts`: per identity, per
 * connection, overall, the least recently used idle one giving way). A
 * request naming a session of another certificate, or one the gateway never
 * saw opened, is refused before the upstream sees it.
 *
 * A session that gives way to a newer one, or stays idle (no request in
 * flight, no GET stream) for `sessionIdleMs`, is ended at the upstream with
 * a DELETE and forgotten.
 *
 * With `serve --workers N` the sessions are counted by the coordinator
 * instead (the `counter` option: `../workers/shared_counter.ts`), which
 * also learns each bound id and its certificate, so that another worker can
 * route a request for it here; this worker keeps the binding, the idle
 * clock (its requests and GET streams) and the DELETE.
 *
 * @module
 */

import type { Logger } from "../log/logger.ts";
import { identityLabel } from "../policy/identity.ts";
import type { PeerState } from "../tls/server/listener.ts";
import {
  createSessionLedger,
  type SessionLimit,
  type SessionRefusal,
  type SessionSlot,
} from "../mcp/session_ledger.ts";
import type { SessionCounter } from "../mcp/session_seams.ts";

/** One upstream session and whose it is. */
export interface Binding {
  /** The upstream's session id. */
  readonly id: string;
  /** SHA-256 of the certificate that opened it; `undefined` for an anonymous client. */
  readonly fingerprint?: string;
  /** Its place in the ledger. */
  readonly slot: SessionSlot;
}

/** A request refused by the bindings: HTTP status, reason code (if a refusal) and message. */
export interface BindingRefusal {
  /** 403 (another certificate's), 404 (unknown), 429/503 (limits). */
  status: number;
  /** `identity_denied`, `rate_limited` or `worker_unavailable`; none for an unknown session. */
  reason?: "identity_denied" | "rate_limited" | "worker_unavailable";
  /** The message. */
  detail: string;
}

/**
 * The bindings of one gateway.
 *
 * @example
 * ```ts ignore
 * const found = bindings.find(sessionId, state);
 * if ("status" in found) refuse(found);
 * ```
 */
export interface SessionBindings {
  /** Bound sessions. */
  readonly size: number;
  /** Whether `id` is bound here (to any certificate). */
  holds(id: string): boolean;
  /** The binding of `id`, when `state`'s certificate holds it. */
  find(id: string, state: PeerState): Binding | BindingRefusal;
  /**
   * Counts a session being opened by `state` on `connection` (its
   * `initialize` in flight); a shared counter answers later.
   */
  reserve(
    state: PeerState,
    connection: object,
  ): SessionSlot | BindingRefusal | Promise<SessionSlot | BindingRefusal>;
  /** The upstream named the session `id`: bind it to `state`'s certificate. */
  bind(slot: SessionSlot, id: string, state: PeerState): void;
  /** A request of the session started; returns the function that says it ended. */
  begin(binding: Binding): () => void;
  /** The initialize ended; gives the place back when no session came of it. */
  settle(slot: SessionSlot): void;
  /** The session ended at the upstream (DELETE, or the upstream no longer knows it). */
  forget(id: string): void;
  /** Stops the idle sweep and ends every session at the upstream. */
  close(): Promise<void>;
}

/**
 * Whose sessions these are, for the limits: a trusted certificate by its
 * fingerprint, anyone else by address (the same rule as `serveMcp`'s
 * session store, `../mcp/server_sessions.ts` `ownerOf`).
 */
function ownerOf(state: PeerState): { key: string; label: string } {
  if (state.identity && state.trusted) {
    return { key: `sha256:${state.identity.fingerprint}`, label: identityLabel(state.identity) };
  }
  const colon = state.peer.lastIndexOf(":");
  const address = colon > 0 ? state.peer.slice(0, colon) : state.peer;
  return { key: `address:${address}`, label: `address ${address}` };
}

/**
 * Creates the bindings.
 *
 * @example
 * ```ts ignore
 * const bindings = createSessionBindings({
 *   maxSessions: 1000, maxSessionsPerIdentity: 16, maxSessionsPerConnection: 16,
 *   sessionIdleMs: 600_000, logger, endUpstream: (id) => deleteAtUpstream(id),
 * });
 * ```
 */
export function createSessionBindings(o: {
  maxSessions: number;
  maxSessionsPerIdentity: number;
  maxSessionsPerConnection: number;
  sessionIdleMs: number;
  logger: Logger;
  /** Ends a session at the upstream (a DELETE); must not reject. */
  endUpstream(id: string): Promise<void>;
  /**
   * Counts the sessions instead of a ledger of these bindings' own (see
   * `createSessionStore`'s option of the same name): with
   * `serve --workers N`, the one every worker shares.
   */
  counter?(evict: (slot: SessionSlot, why: SessionLimit | "idle") => void): SessionCounter;
}): SessionBindings {
  const { logger, sessionIdleMs } = o;
  const bindings = new Map<string, Binding>();
  const ending = new Set<Promise<void>>();

  function end(id: string) {
    const p = o.endUpstream(id);
    ending.add(p);
    p.finally(() => ending.delete(p));
  }

  function drop(slot: SessionSlot, msg: string, fields: Record<string, unknown>) {
    if (slot.id === undefined || !bindings.has(slot.id)) return;
    bindings.delete(slot.id);
    logger.info(msg, { session: slot.id, client: slot.label, ...fields });
    end(slot.id);
  }

  const ledger: SessionCounter = o.counter
    ? o.counter((slot, why) =>
      why === "idle"
        ? drop(slot, "session expired", { idleMs: sessionIdleMs })
        : drop(slot, "session evicted", { limit: why })
    )
    : createSessionLedger({
      maxSessions: o.maxSessions,
      maxSessionsPerIdentity: o.maxSessionsPerIdentity,
      maxSessionsPerConnection: o.maxSessionsPerConnection,
      evict: (slot, limit) => drop(slot, "session evicted", { limit }),
    });
  const sweep = setInterval(() => {
    for (const slot of ledger.idleSince(performance.now() - sessionIdleMs)) {
      ledger.release(slot);
      drop(slot, "session expired", { idleMs: sessionIdleMs });
    }
  }, Math.min(Math.max(sessionIdleMs / 2, 10), 60_000));

  return {
    get size() {
      return bindings.size;
    },
    holds: (id) => bindings.has(id),
    find(id, state) {
      const binding = bindings.get(id);
      if (!binding) return { status: 404, detail: "Session not found" };
      if (binding.fingerprint !== state.identity?.fingerprint) {
        return {
          status: 403,
          reason: "identity_denied",
          detail: `Session "${id}" belongs to another client certificate`,
        };
      }
      return binding;
    },
    reserve(state, connection) {
      const owner = ownerOf(state);
      const slot = ledger.reserve(owner.key, connection, owner.label);
      return slot instanceof Promise ? slot.then(asBindingRefusal) : asBindingRefusal(slot);
    },
    bind(slot, id, state) {
      if (slot.released) {
        // Evicted, or the caller left, while its initialize was in flight.
        end(id);
        return;
      }
      slot.id = id;
      bindings.set(id, { id, fingerprint: state.identity?.fingerprint, slot });
      ledger.named?.(slot, state.identity?.fingerprint);
      logger.info("session opened", { peer: state.peer, session: id, client: slot.label });
    },
    begin(binding) {
      ledger.begin(binding.slot);
      let ended = false;
      return () => {
        if (ended) return;
        ended = true;
        ledger.end(binding.slot);
      };
    },
    settle(slot) {
      ledger.end(slot);
      if (slot.id === undefined) ledger.release(slot);
    },
    forget(id) {
      const binding = bindings.get(id);
      if (!binding) return;
      bindings.delete(id);
      ledger.release(binding.slot);
      logger.info("session closed", { session: id });
    },
    async close() {
      clearInterval(sweep);
      for (const [id, binding] of bindings) {
        ledger.release(binding.slot);
        end(id);
      }
      bindings.clear();
      await Promise.allSettled([...ending]);
    },
  };
}

/** A ledger's refusal as the bindings say it (`rate_limited` unless the counter named a reason). */
function asBindingRefusal(slot: SessionSlot | SessionRefusal): SessionSlot | BindingRefusal {
  if (!("status" in slot)) return slot;
  const reason = slot.reason === "worker_unavailable" ? "worker_unavailable" : "rate_limited";
  return { status: slot.status, reason, detail: slot.detail };
}
