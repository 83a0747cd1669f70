/**
 * One connection as the listener knows it: a record made once, when the TCP
 * connection is accepted, that each step (accept, handshake and admission,
 * requests, re-admission, close) reads and fills in; and the table that finds
 * it from either of its sockets and lists the open ones.
 *
 * @module
 */

import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import type { AcceptTicket } from "./accept.ts";
import type { PeerState } from "./admit.ts";
import type { CertificateKey } from "./identity_gate.ts";
import { adoptProxiedPeer, proxiedUnder } from "./proxied_socket.ts";
import type { ConnectionClock } from "./timeouts.ts";

/**
 * The socket the server's "connection" event saw for a TLS socket: Deno and
 * Node.js wrap it (`_parent`), Bun emits the TLS socket itself (measured on
 * Bun 1.4.4), so the record keyed by it is found on all three.
 *
 * @example
 * ```ts ignore
 * const tcp = connectionOf(tlsSocket);
 * ```
 */
export function connectionOf(s: TLSSocket | undefined): Socket | undefined {
  // A connection that came through a PROXY protocol balancer runs over a stream of ours,
  // which answers what is read of a TCP socket here (address, bytesRead, destroy, close).
  return (s as unknown as { _parent?: Socket } | undefined)?._parent ??
    (proxiedUnder(s) as unknown as Socket | undefined) ?? s;
}

/**
 * `host:port` of a socket's peer (`[v6]:port` for IPv6), or `"unknown"`.
 *
 * @example
 * ```ts ignore
 * logger.warn("connection refused", { peer: peerOf(socket), reason, detail });
 * ```
 */
export function peerOf(socket: Socket | undefined): string {
  if (!socket?.remoteAddress) return "unknown";
  const host = socket.remoteAddress.includes(":")
    ? `[${socket.remoteAddress}]`
    : socket.remoteAddress;
  return `${host}:${socket.remotePort}`;
}

/**
 * Everything the listener keeps about one connection. Fields fill in as the
 * connection gets further; none is ever read before the step that sets it.
 *
 * @example
 * ```ts ignore
 * const c = connections.accept(tcpSocket);
 * c.ticket = gate.admit(address, conn) ?? undefined;
 * ```
 */
export class Connection {
  /** The TCP socket the server's "connection" event saw. */
  readonly tcp: Socket;
  /** `host:port`, read once at accept: a closed socket no longer knows it. */
  readonly peer: string;
  /** The accept gate's ticket (the address's budget); none when the gate refused it or never saw it. */
  ticket: AcceptTicket | undefined = undefined;
  /** Closed by the accept gate, which logged it: `node:tls` still reports its aborted handshake. */
  gated: boolean = false;
  /**
   * With limits shared by several listeners: the accept gate's answer, true
   * when it was let in (`ticket` set then). Admission waits for it.
   */
  opening: Promise<boolean> | undefined = undefined;
  /** When it was accepted (`performance.now()`), for the detailed handshake line only. */
  acceptedAt: number | undefined = undefined;
  /** The TLS socket, once its handshake completed. */
  tls: TLSSocket | undefined = undefined;
  /** The certificate it presented, as the identity gate keys it. */
  key: CertificateKey | undefined = undefined;
  /** The admission verdict while it is being fetched (revocation): requests wait for it. */
  pending: Promise<PeerState | undefined> | undefined = undefined;
  /** What admission found; set once admitted. */
  state: PeerState | undefined = undefined;
  /** The idle and request clocks; set once admitted. */
  clock: ConnectionClock | undefined = undefined;

  /**
   * A record for the connection of `tcp`, whose peer is `peer`.
   *
   * @example
   * ```ts ignore
   * const c = new Connection(tcpSocket, peerOf(tcpSocket));
   * ```
   */
  constructor(tcp: Socket, peer: string) {
    this.tcp = tcp;
    this.peer = peer;
  }
}

/**
 * The listener's connections: each record found from its TCP or its TLS
 * socket (weakly held: a closed socket takes its record with it), and two
 * lists of open ones, for re-admission and for closing the server.
 *
 * @example
 * ```ts ignore
 * const connections = new ConnectionTable();
 * server.on("connection", (tcp) => connections.opened(connections.accept(tcp)));
 * ```
 */
export class ConnectionTable {
  readonly #bySocket = new WeakMap<object, Connection>();
  /** TCP connections the accept gate let in, until their socket closes. */
  readonly #accepted = new Set<Connection>();
  /** TLS connections admitted or being admitted, until their TLS socket closes. */
  readonly #admitting = new Set<Connection>();

  /**
   * Makes the record of a TCP connection just accepted.
   *
   * @example
   * ```ts ignore
   * const c = connections.accept(tcpSocket);
   * ```
   */
  accept(tcp: Socket): Connection {
    const c = new Connection(tcp, peerOf(tcp));
    this.#bySocket.set(tcp, c);
    return c;
  }

  /**
   * Lists `c` among the open TCP connections until its socket closes.
   *
   * @example
   * ```ts ignore
   * connections.opened(c);
   * ```
   */
  opened(c: Connection): void {
    this.#accepted.add(c);
    c.tcp.once("close", () => this.#accepted.delete(c));
  }

  /**
   * The record of the connection under TLS socket `s` (found through its TCP
   * socket), or `undefined` when the accept step never saw it.
   *
   * @example
   * ```ts ignore
   * if (connections.under(tlsSocket)?.gated) return;
   * ```
   */
  under(s: TLSSocket | undefined): Connection | undefined {
    const tcp = connectionOf(s);
    return tcp && this.#bySocket.get(tcp);
  }

  /**
   * The record of a TLS socket whose handshake completed, made now (with
   * `peer`) when the accept step never saw its TCP socket; from now on it is
   * found from `s` too, as `req.socket` is.
   *
   * @example
   * ```ts ignore
   * const c = connections.secured(tlsSocket);
   * ```
   */
  secured(s: TLSSocket): Connection {
    const c = this.under(s) ?? new Connection(connectionOf(s) ?? s, peerOf(s));
    const proxied = proxiedUnder(s);
    if (proxied) adoptProxiedPeer(s, proxied);
    c.tls = s;
    this.#bySocket.set(s, c);
    return c;
  }

  /**
   * The record a request's socket belongs to.
   *
   * @example
   * ```ts ignore
   * const state = connections.of(req.socket)?.state;
   * ```
   */
  of(socket: Socket): Connection | undefined {
    return this.#bySocket.get(socket);
  }

  /**
   * Lists `c` among the connections admitted or being admitted until its TLS
   * socket closes.
   *
   * @example
   * ```ts ignore
   * connections.admitting(c);
   * ```
   */
  admitting(c: Connection): void {
    const s = c.tls!;
    this.#admitting.add(c);
    s.once("close", () => this.#admitting.delete(c));
  }

  /**
   * The connections admitted or being admitted, still open.
   *
   * @example
   * ```ts ignore
   * for (const c of connections.admitted()) if (c.state?.identity) recheck(c);
   * ```
   */
  admitted(): Iterable<Connection> {
    return this.#admitting;
  }

  /**
   * Destroys every open connection: the admitted ones first, then every TCP
   * connection (those still in their handshake among them).
   *
   * @example
   * ```ts ignore
   * connections.destroyAll();
   * ```
   */
  destroyAll(): void {
    for (const c of this.#admitting) c.tls?.destroy();
    for (const c of this.#accepted) c.tcp.destroy();
  }
}
