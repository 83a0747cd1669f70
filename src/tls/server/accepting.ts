/**
 * The listener's first step, at TCP accept and before any TLS work: the
 * connection gets its record, and the accept gate (accept.ts) decides on the
 * connection limits and the address's budget. At the server-wide cap, an idle
 * admitted connection of the biggest holder may give way (holders.ts).
 *
 * @module
 */

import type { Socket } from "node:net";
import type { Logger } from "../../log/logger.ts";
import { createAcceptGate } from "./accept.ts";
import type { ConnectionTable } from "./connection.ts";
import type { ConnectionHolders } from "./holders.ts";
import type { ListenMtlsOptions } from "./listener.ts";
import type { ConnectionObserver } from "./observe.ts";
import type { SharedConnectionGates } from "./shared_gates.ts";

/**
 * What {@link createAccepting} needs from the listener.
 *
 * @example
 * ```ts ignore
 * const accepting = createAccepting({ options, logger, observe, holders, connections });
 * ```
 */
export interface AcceptingParts {
  /** The limits: `maxConnections`, `maxConnectionsPerAddress`, `connectionsPerAddress`. */
  options: Pick<
    ListenMtlsOptions,
    "maxConnections" | "maxConnectionsPerAddress" | "connectionsPerAddress"
  >;
  /** Logger. */
  logger: Logger;
  /** Counts refusals and starts the handshake clock. */
  observe: ConnectionObserver;
  /** Admitted connections by holder, for making room at the cap. */
  holders: ConnectionHolders;
  /** Where the connection's record goes. */
  connections: ConnectionTable;
  /** Limits counted with other listeners (`serve --workers N`) instead of here. @default {none} */
  shared?: SharedConnectionGates;
}

/**
 * The accept step.
 *
 * @example
 * ```ts ignore
 * server.on("connection", accepting.accept);
 * ```
 */
export interface Accepting {
  /** Handles the server's "connection" event: admits the TCP socket or closes it. */
  accept(socket: Socket): void;
  /** Stops the gate's summary timer and logs what it still held back. */
  close(): void;
}

/**
 * Makes the accept step. A refused connection is closed at once and marked
 * `gated`, so its aborted handshake is not logged again.
 *
 * @example
 * ```ts ignore
 * const accepting = createAccepting({ options, logger, observe, holders, connections });
 * server.on("connection", accepting.accept);
 * ```
 */
export function createAccepting(parts: AcceptingParts): Accepting {
  if (parts.shared) return createSharedAccepting(parts, parts.shared);
  const { options, logger, observe, holders, connections } = parts;
  const { maxConnections } = options;
  const gate = createAcceptGate({
    rate: options.connectionsPerAddress ?? false,
    maxConnections,
    maxConnectionsPerAddress: options.maxConnectionsPerAddress ?? maxConnections,
    // The gate logs once per window per key; the counter counts each refusal.
    onRefused: () => observe.counted("rate_limited"),
    evictIdle() {
      const closed = holders.evictIdle();
      if (closed) {
        logger.info("idle connection closed to make room", {
          peer: closed.peer,
          holder: closed.holder,
          held: closed.held,
          detail: `More than ${maxConnections} concurrent connections: the holder of the most ` +
            `connections gives an idle one way`,
        });
      }
      return closed !== undefined;
    },
  }, logger);

  return {
    accept(socket) {
      const c = connections.accept(socket);
      const close = () => {
        c.gated = true;
        socket.destroy();
      };
      // bytesRead counts what the TLS layer read; the TCP socket emits no "data" of its own.
      const ticket = gate.admit(socket.remoteAddress ?? "unknown", {
        peer: c.peer,
        received: () => socket.bytesRead,
        close,
      });
      if (!ticket) return close();
      c.ticket = ticket;
      c.acceptedAt = observe.accepted();
      connections.opened(c);
      socket.once("close", () => ticket.release());
    },
    close: () => gate.close(),
  };
}

/**
 * The accept step when the limits are counted with other listeners: the TLS
 * handshake starts at once while the gates decide (their answer normally
 * comes long before the handshake ends); the handshake step waits for it
 * (`c.opening`) before admitting, and a refused connection is closed.
 */
function createSharedAccepting(parts: AcceptingParts, shared: SharedConnectionGates): Accepting {
  const { observe, connections } = parts;
  return {
    accept(socket) {
      const c = connections.accept(socket);
      let closed = false;
      const close = () => {
        c.gated = true;
        socket.destroy();
      };
      c.acceptedAt = observe.accepted();
      connections.opened(c);
      socket.once("close", () => {
        closed = true;
        c.ticket?.release();
      });
      c.opening = shared.open(socket.remoteAddress ?? "unknown", {
        peer: c.peer,
        received: () => socket.bytesRead,
        close() {
          // Made room for a newer connection (the gates logged it): counted here.
          observe.counted("rate_limited");
          close();
        },
      }).then((t) => {
        if ("reason" in t) {
          if (t.logged) observe.counted(t.reason);
          else observe.refused(c.peer, t.reason, t.detail);
          close();
          return false;
        }
        c.ticket = t;
        if (closed) t.release();
        return !closed;
      });
    },
    close() {},
  };
}
