/**
 * The first admission step, at TCP accept and before any TLS work: concurrent
 * connections overall and per address, and a budget per client address of
 * connections that cost TLS work without proving a trusted certificate.
 *
 * The budget (`limits.connectionsPerAddress`) is spent by a connection that
 * sent at least one byte (so the server parsed a ClientHello and may have
 * signed a handshake: 1.7 ms of CPU without a client certificate, measured on
 * Deno 2.9.6) and then failed, was refused, or was admitted without a trusted
 * certificate (anonymous, or the demo policy). A connection admitted with a trusted certificate gives its unit
 * back; those are limited per certificate instead (`identity_gate.ts`).
 * A connection still in its handshake holds a unit until it ends, so a burst
 * of simultaneous handshakes cannot overshoot the budget.
 *
 * A bare connect that sends nothing costs no crypto (0.3 ms of CPU) and spends
 * nothing, but it holds a unit while open: when an address has no unit (or no connection
 * slot) left, the gate closes that address's oldest connection that has sent
 * nothing yet to make room, so silent connections cannot lock out a client
 * that speaks. Refusals are logged once per window per address; the ones held
 * back are reported by a summary line each window and at close.
 *
 * @module
 */

import { createConcurrencyLimiter, type Release } from "../../limits/concurrency_limiter.ts";
import { createRateLimiter, type RateLimiter } from "../../limits/rate_limiter.ts";
import type { Logger } from "../../log/logger.ts";
import { createThrottledRefusals } from "./throttled_refusals.ts";

/**
 * Settings of {@link createAcceptGate}.
 *
 * @example
 * ```ts
 * import type { AcceptGateOptions } from "./accept.ts";
 * const o: AcceptGateOptions = {
 *   rate: { limit: 50, windowMs: 60_000 },
 *   maxConnections: 1024,
 *   maxConnectionsPerAddress: 64,
 * };
 * ```
 */
export interface AcceptGateOptions {
  /**
   * Connections per client address per window that cost TLS work without
   * being admitted with a trusted certificate, or `false` for no budget.
   */
  rate: { limit: number; windowMs: number } | false;
  /** Most concurrent connections, all addresses together. */
  maxConnections: number;
  /** Most concurrent connections from one address. */
  maxConnectionsPerAddress: number;
  /** Clock in ms, for tests. @default {() => performance.now()} */
  now?: () => number;
  /** Called once per refused or closed-to-make-room connection (for the counters). @default {none} */
  onRefused?: () => void;
  /**
   * At `maxConnections`, when no connection that has sent nothing can give
   * way: closes an idle admitted connection (of the identity holding the most)
   * and releases its slot at once; false when there is none.
   * @default {none: the new connection is refused}
   */
  evictIdle?: () => boolean;
}

/**
 * A connection as the gate sees it.
 *
 * @example
 * ```ts ignore
 * const conn: GateConnection = {
 *   peer: "127.0.0.1:50000",
 *   received: () => socket.bytesRead,
 *   close: () => socket.destroy(),
 * };
 * ```
 */
export interface GateConnection {
  /** `host:port`, for the log. */
  readonly peer: string;
  /** Bytes received so far; 0 means the peer has sent nothing, so no TLS work was done. */
  received(): number;
  /** Closes the connection: the gate made room for a newer one from the same address. */
  close(): void;
}

/**
 * What the listener tells the gate about one accepted connection.
 *
 * @example
 * ```ts ignore
 * const ticket = gate.admit("127.0.0.1", conn);
 * socket.once("close", () => ticket?.release());
 * ```
 */
export interface AcceptTicket {
  /** Admitted with a trusted certificate: spends nothing of the address's budget. */
  authenticated(): void;
  /** Admitted without a trusted certificate: spends one unit now. */
  unauthenticated(): void;
  /** The socket closed. If neither of the above was called, one unit is spent when any byte was received. */
  release(): void;
}

/**
 * The compiled gate.
 *
 * @example
 * ```ts ignore
 * const ticket = gate.admit("127.0.0.1", conn);
 * if (!ticket) socket.destroy(); else socket.once("close", ticket.release);
 * ```
 */
export interface AcceptGate {
  /** A ticket for the connection, or `null` when refused (already logged). */
  admit(address: string, conn: GateConnection): AcceptTicket | null;
  /**
   * Whether a new connection from `address` would now have to make room (or
   * be refused): a cap or the address's budget is reached. Counts nothing.
   */
  crowded(address: string): boolean;
  /** Stops the summary timer and logs what is still held back. */
  close(): void;
}

interface Pending {
  conn: GateConnection;
  release: Release;
  settled: boolean;
  released: boolean;
}

/**
 * Makes the accept gate. Refusals are logged as `connection refused` with
 * reason `rate_limited` at most once per window per address (the budget's
 * window, or 60 s without a budget); a `connection refusals suppressed` line
 * per address reports the rest.
 *
 * @example A budget of one
 * ```ts
 * import { createAcceptGate } from "./accept.ts";
 * import { silentLogger } from "../../log/logger.ts";
 * const gate = createAcceptGate(
 *   { rate: { limit: 1, windowMs: 60_000 }, maxConnections: 10, maxConnectionsPerAddress: 10 },
 *   silentLogger,
 * );
 * const conn = (received: number) => ({ peer: "10.0.0.1:1", received: () => received, close() {} });
 * const first = gate.admit("10.0.0.1", conn(300)); // sends a ClientHello, then fails
 * console.log(gate.admit("10.0.0.1", conn(300))); // null: the first holds the only unit
 * first?.release(); // closed after 300 bytes: the unit is spent for the window
 * console.log(gate.admit("10.0.0.1", conn(0))); // null
 * gate.close();
 * ```
 */
export function createAcceptGate(options: AcceptGateOptions, logger: Logger): AcceptGate {
  const { rate, maxConnections, maxConnectionsPerAddress, onRefused } = options;
  const now = options.now ?? (() => performance.now());
  const windowMs = rate ? rate.windowMs : 60_000;
  const spent: RateLimiter | undefined = rate
    ? createRateLimiter({ limit: rate.limit, windowMs: rate.windowMs, now })
    : undefined;
  const open = createConcurrencyLimiter({
    max: maxConnections,
    perKey: Math.min(maxConnectionsPerAddress, maxConnections),
  });
  /** Connections per address not yet settled, oldest first (a Set keeps insertion order). */
  const pending = new Map<string, Set<Pending>>();
  const refusals = createThrottledRefusals(logger, windowMs, "address", now);

  const refuse = (address: string, peer: string, detail: string) => {
    onRefused?.();
    refusals.refuse(address, { peer, detail });
    return null;
  };
  const settle = (address: string, p: Pending, spend: boolean) => {
    if (p.settled) return;
    p.settled = true;
    const set = pending.get(address)!;
    set.delete(p);
    if (set.size === 0) pending.delete(address);
    if (spend) spent?.take(address);
  };
  const release = (p: Pending) => {
    if (p.released) return;
    p.released = true;
    p.release();
  };
  /** Closes the oldest connection from `address` that has sent nothing; false when there is none. */
  const makeRoom = (address: string, why: string): boolean => {
    for (const p of pending.get(address) ?? []) {
      if (p.conn.received() !== 0) continue;
      settle(address, p, false);
      release(p);
      p.conn.close();
      onRefused?.();
      refusals.refuse(address, {
        peer: p.conn.peer,
        detail: `Closed the oldest silent connection from "${address}" to make room: ${why}`,
      });
      return true;
    }
    return false;
  };

  /**
   * At the server-wide cap: closes the oldest silent connection of the address
   * with the most connections still in their handshake, so silent connects
   * from a few addresses cannot hold every slot.
   */
  const makeRoomAnywhere = (why: string): boolean => {
    let best: string | undefined;
    let most = 0;
    for (const [address, set] of pending) {
      if (set.size <= most) continue;
      for (const p of set) {
        if (p.conn.received() !== 0) continue;
        best = address;
        most = set.size;
        break;
      }
    }
    return best !== undefined && makeRoom(best, why);
  };

  /** Refuses the new connection, unless an older silent one from the address can make room. */
  const full = (address: string, conn: GateConnection, detail: string) => {
    const why = detail[0].toLowerCase() + detail.slice(1);
    return makeRoom(address, why) ? undefined : refuse(address, conn.peer, detail);
  };

  return {
    admit(address, conn) {
      if (open.active >= maxConnections) {
        const detail = `More than ${maxConnections} concurrent connections`;
        const why = `more than ${maxConnections} concurrent connections`;
        if (!makeRoomAnywhere(why) && !options.evictIdle?.()) {
          return refuse(address, conn.peer, detail);
        }
      }
      if (open.activeFor(address) >= maxConnectionsPerAddress) {
        const detail =
          `More than ${maxConnectionsPerAddress} concurrent connections from "${address}"`;
        if (full(address, conn, detail) === null) return null;
      }
      if (spent && rate) {
        const inFlight = pending.get(address)?.size ?? 0;
        if (spent.remaining(address) - inFlight <= 0) {
          const detail = `More than ${rate.limit} connections from "${address}" without a ` +
            `trusted certificate in ${windowMs} ms, counting ${inFlight} still in their handshake`;
          if (full(address, conn, detail) === null) return null;
        }
      }
      const slot = open.acquire(address);
      if (!slot) {
        return refuse(address, conn.peer, `More than ${maxConnections} concurrent connections`);
      }
      const p: Pending = { conn, release: slot, settled: false, released: false };
      let set = pending.get(address);
      if (!set) pending.set(address, set = new Set());
      set.add(p);
      return {
        authenticated: () => settle(address, p, false),
        unauthenticated: () => settle(address, p, true),
        release() {
          settle(address, p, conn.received() > 0);
          release(p);
        },
      };
    },
    crowded(address) {
      if (open.active >= maxConnections) return true;
      if (open.activeFor(address) >= maxConnectionsPerAddress) return true;
      return spent !== undefined &&
        spent.remaining(address) - (pending.get(address)?.size ?? 0) <= 0;
    },
    close() {
      refusals.close();
    },
  };
}
