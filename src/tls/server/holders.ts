/**
 * Who holds the server's connections, so that at the server-wide cap an idle
 * connection of the biggest holder gives way to a newcomer: one certificate
 * that keeps hundreds of keep-alive connections open and silent (it may call
 * no tool at all) cannot lock out every other client. A holder is a trusted
 * certificate (its fingerprint), or an address for connections without one.
 *
 * @module
 */

import type { TLSSocket } from "node:tls";

/**
 * One admitted connection as the registry sees it.
 *
 * @example
 * ```ts ignore
 * holders.add(socket, { holder: "cert:ab12", peer, idleSince: clock.idleSince, release });
 * ```
 */
export interface HeldConnection {
  /** `cert:FINGERPRINT` or `addr:ADDRESS`. */
  holder: string;
  /** `host:port`, for the log. */
  peer: string;
  /** Since when it has had no request in progress (ms), `undefined` while busy. */
  idleSince(): number | undefined;
  /** Frees its connection slot at once (before the socket's close event). */
  release(): void;
}

/**
 * The registry.
 *
 * @example
 * ```ts ignore
 * const holders = createConnectionHolders();
 * const evicted = holders.evictIdle(); // at the cap
 * ```
 */
export interface ConnectionHolders {
  /** Registers an admitted connection; it leaves the registry when the socket closes. */
  add(socket: TLSSocket, held: HeldConnection): void;
  /**
   * Closes the longest-idle connection of the holder with the most connections
   * (only when it holds two or more) and frees its slot; what was closed, or
   * `undefined` when no such connection is idle.
   */
  evictIdle(): { holder: string; peer: string; held: number } | undefined;
}

/**
 * Makes an empty registry.
 *
 * @example
 * ```ts
 * import { createConnectionHolders } from "./holders.ts";
 * const holders = createConnectionHolders();
 * console.log(holders.evictIdle()); // undefined
 * ```
 */
export function createConnectionHolders(): ConnectionHolders {
  const byHolder = new Map<string, Map<TLSSocket, HeldConnection>>();
  return {
    add(socket, held) {
      let set = byHolder.get(held.holder);
      if (!set) byHolder.set(held.holder, set = new Map());
      set.set(socket, held);
      socket.once("close", () => {
        set!.delete(socket);
        if (set!.size === 0 && byHolder.get(held.holder) === set) byHolder.delete(held.holder);
      });
    },
    evictIdle() {
      let biggest: Map<TLSSocket, HeldConnection> | undefined;
      for (const set of byHolder.values()) if (!biggest || set.size > biggest.size) biggest = set;
      // A holder with one connection is never closed for another: that is not fairer.
      if (!biggest || biggest.size < 2) return undefined;
      let victim: [TLSSocket, HeldConnection] | undefined;
      let since = Infinity;
      for (const entry of biggest) {
        const t = entry[1].idleSince();
        if (t !== undefined && t < since) {
          since = t;
          victim = entry;
        }
      }
      if (!victim) return undefined;
      const [socket, held] = victim;
      const count = biggest.size;
      held.release();
      socket.destroy();
      return { holder: held.holder, peer: held.peer, held: count };
    },
  };
}
