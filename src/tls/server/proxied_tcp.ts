/**
 * A balancer's TCP connection whose PROXY protocol header was read, readied
 * for the TLS server: the bytes after the header put back with the public
 * stream API (pause, then `unshift`), and the client's address from the
 * header reported by the socket itself. The TLS server then runs TLS on the
 * socket's own handle, as for any connection. Why this way, and the other
 * way (for connections that are screened), in proxied_socket.ts.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { Socket } from "node:net";

/**
 * Where a connection comes from: the header's client, or the TCP peer.
 *
 * @example
 * ```ts
 * import type { ProxiedPeer } from "./proxied_tcp.ts";
 * const p: ProxiedPeer = { address: "203.0.113.7", port: 51000, family: "IPv4" };
 * ```
 */
export interface ProxiedPeer {
  /** The client's address. */
  address?: string;
  /** The client's port. */
  port?: number;
  /** `IPv4` or `IPv6`. */
  family?: string;
}

/** TCP sockets handed on by {@link proxiedTcp}. */
const PROXIED_TCP = new WeakSet<object>();

/**
 * Whether `s` is a TCP socket handed on by {@link proxiedTcp}.
 *
 * @example
 * ```ts ignore
 * if (isProxiedTcp(tlsSocket._parent)) adoptProxiedPeer(tlsSocket, tlsSocket._parent);
 * ```
 */
export function isProxiedTcp(s: object): boolean {
  return PROXIED_TCP.has(s);
}

/**
 * Readies balancer connection `tcp`, whose `headerBytes`-byte PROXY header
 * was read together with `rest` (the first bytes after it), for the TLS
 * server: pauses it, puts `rest` back, and makes it report `peer` as its
 * remote address (for the accept gate, the logs, and
 * `adoptProxiedPeer`) and count in `bytesRead` only what follows the
 * header. Call it in the "data" handler that read the header, after
 * removing that handler, and emit "connection" on the TLS server in the
 * same turn.
 *
 * @example
 * ```ts ignore
 * tlsServer.emit("connection", proxiedTcp(tcp, rest, 28, { address: "203.0.113.7", port: 51000, family: "IPv4" }));
 * ```
 */
export function proxiedTcp(
  tcp: Socket,
  rest: Uint8Array,
  headerBytes: number,
  peer: ProxiedPeer,
): Socket {
  // Paused first: a flowing socket would emit the unshifted bytes as "data" nobody reads.
  tcp.pause();
  if (rest.length > 0) tcp.unshift(Buffer.from(rest.buffer, rest.byteOffset, rest.length));
  // Accessors that ignore assignment: a runtime that sets these itself must not throw.
  const fixed = (value: unknown) => ({ get: () => value, set() {}, configurable: true });
  Object.defineProperties(tcp, {
    remoteAddress: fixed(peer.address),
    remotePort: fixed(peer.port),
    remoteFamily: fixed(peer.family),
    // The accept gate reads bytesRead to tell a silent connection: the header is not TLS work.
    bytesRead: headerExcluded(tcp, headerBytes),
  });
  PROXIED_TCP.add(tcp);
  return tcp;
}

/**
 * `bytesRead` of `tcp` less the header. Deno and Node.js have it as an
 * accessor of the prototype; Bun 1.4.4 as a plain property of the socket
 * that it assigns as it reads (measured), kept here behind the setter.
 */
function headerExcluded(tcp: Socket, headerBytes: number): PropertyDescriptor {
  const own = Object.getOwnPropertyDescriptor(tcp, "bytesRead");
  let assigned = Number(own?.value ?? 0);
  const read = own && "value" in own
    ? () => assigned
    : () => Number(Reflect.get(Object.getPrototypeOf(tcp), "bytesRead", tcp));
  return {
    get: () => Math.max(0, read() - headerBytes),
    set: (v: number) => void (assigned = v),
    configurable: true,
  };
}
