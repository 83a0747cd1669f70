/**
 * A TCP connection whose first bytes (a PROXY protocol header, or the bytes
 * read to check for one) were consumed by the server, handed to the TLS
 * server so that TLS starts at the right byte and the connection reports the
 * client's address.
 *
 * Two ways, by what the server must do with the first bytes:
 *
 * - A balancer's connection (`proxiedTcp`, proxied_tcp.ts): the header is read with
 *   the socket flowing, then the socket is paused, the bytes after the
 *   header are `unshift`ed back, and the TCP socket itself goes to the TLS
 *   server, which reads the unshifted bytes first and then runs TLS on the
 *   socket's own handle (public stream API only; measured on Deno 2.9.6,
 *   Node.js 20 and Bun 1.4.4, header alone, in pieces, or in the same
 *   segment as the ClientHello; not paused, the unshifted bytes are lost).
 *   The socket's own properties then give the client's address.
 * - A connection from anywhere else ({@link ProxiedSocket}) is handed on at
 *   once, so the accept gate counts it while it is silent, and its first
 *   bytes are screened for a PROXY header on their way to the TLS layer: a
 *   plain `Duplex` the TLS server runs TLS over (Deno, Node.js and Bun all
 *   do), found again from the TLS socket by {@link proxiedUnder}, which
 *   reads runtime internals to do so (src/runtime/tls_stream.ts).
 *
 * @module
 */

import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { streamUnderTls } from "../../runtime/tls_stream.ts";
import { isProxiedTcp, type ProxiedPeer } from "./proxied_tcp.ts";

/**
 * The stream the TLS server reads instead of the TCP socket of a connection
 * from an address that is not a balancer, so that its first bytes can be
 * screened. It answers the questions the listener asks of a TCP socket
 * (`remoteAddress`, `remotePort`, `bytesRead`, `destroy`, `close`).
 *
 * @example
 * ```ts ignore
 * const s = new ProxiedSocket(tcp, { address: tcp.remoteAddress, port: tcp.remotePort }, screen);
 * tlsServer.emit("connection", s);
 * ```
 */
export class ProxiedSocket extends Duplex {
  /** The TCP connection from the client. */
  readonly tcp: Socket;
  /** The client's address. */
  readonly remoteAddress: string | undefined;
  /** The client's port. */
  readonly remotePort: number | undefined;
  /** `IPv4` or `IPv6`. */
  readonly remoteFamily: string | undefined;
  #received = 0;

  /**
   * Wraps `tcp`. With `screen`, the first bytes received are shown to it
   * before the TLS layer sees them: `"yes"` closes the connection (the
   * caller logged why), `"maybe"` waits for more.
   *
   * @example
   * ```ts ignore
   * const s = new ProxiedSocket(tcp, { address: "::1", port: 1, family: "IPv6" });
   * ```
   */
  constructor(
    tcp: Socket,
    peer: ProxiedPeer,
    screen?: (first: Uint8Array) => "yes" | "no" | "maybe",
  ) {
    super({ allowHalfOpen: false });
    anyMade = true;
    this.tcp = tcp;
    this.remoteAddress = peer.address;
    this.remotePort = peer.port;
    this.remoteFamily = peer.family;
    // Screening holds the first bytes (at most a PROXY signature's 12) until they tell.
    let held: Uint8Array | undefined = screen ? new Uint8Array(0) : undefined;
    tcp.on("data", (d: Uint8Array) => {
      if (held !== undefined) {
        this.#received += d.length;
        const first: Uint8Array = new Uint8Array(held.length + d.length);
        first.set(held);
        first.set(d, held.length);
        const verdict = screen!(first);
        if (verdict === "maybe") return void (held = first);
        held = undefined;
        if (verdict === "yes") return void tcp.destroy();
        this.#received -= first.length;
        d = first;
      }
      if (!this.#push(d)) tcp.pause();
    });
    tcp.once("end", () => this.push(null));
    // The caller already listens for "error" on tcp; a reset then closes it, and this with it.
    tcp.once("close", () => this.destroy());
  }

  /** Bytes handed to the TLS layer (the header not counted): 0 means no TLS work was done. */
  get bytesRead(): number {
    return this.#received;
  }

  /** The server's own address of the connection. */
  get localAddress(): string | undefined {
    return this.tcp.localAddress;
  }

  /** The server's own port of the connection. */
  get localPort(): number | undefined {
    return this.tcp.localPort;
  }

  #push(d: Uint8Array): boolean {
    this.#received += d.length;
    return this.push(d);
  }

  /** Stream plumbing: the TLS layer wants more. */
  override _read(): void {
    this.tcp.resume();
  }

  /** Stream plumbing: the TLS layer writes. */
  override _write(chunk: Uint8Array, _enc: string, cb: (e?: Error | null) => void): void {
    if (this.tcp.write(chunk)) cb();
    else this.#whenDrained(cb);
  }

  /** Stream plumbing: several writes at once (a corked TLS record flight). */
  override _writev(
    chunks: { chunk: Uint8Array }[],
    cb: (e?: Error | null) => void,
  ): void {
    let ok = true;
    this.tcp.cork();
    for (const { chunk } of chunks) ok = this.tcp.write(chunk);
    this.tcp.uncork();
    if (ok) cb();
    else this.#whenDrained(cb);
  }

  #whenDrained(cb: (e?: Error | null) => void): void {
    const done = () => {
      this.tcp.off("drain", done);
      this.tcp.off("close", done);
      cb();
    };
    this.tcp.once("drain", done);
    this.tcp.once("close", done);
  }

  /** Stream plumbing: the TLS layer ended its side. */
  override _final(cb: (e?: Error | null) => void): void {
    this.tcp.end();
    cb();
  }

  /** Stream plumbing: closing this closes the TCP connection. */
  override _destroy(err: Error | null, cb: (e: Error | null) => void): void {
    this.tcp.destroy();
    cb(err);
  }

  /** Passed to the TCP socket (the HTTP server asks the TLS socket, which may ask its stream). */
  setNoDelay(noDelay?: boolean): this {
    this.tcp.setNoDelay(noDelay);
    return this;
  }

  /** Passed to the TCP socket. */
  setKeepAlive(enable?: boolean, delay?: number): this {
    this.tcp.setKeepAlive(enable, delay);
    return this;
  }
}

/**
 * The connection under a TLS socket that came through the PROXY step, or
 * `undefined`: the TCP socket from `proxiedTcp` (the TLS socket's
 * `_parent` on Deno, Node.js and Bun, as for any TCP connection), else the
 * {@link ProxiedSocket} it runs over, found through each runtime's
 * internals (src/runtime/tls_stream.ts) and remembered per TLS socket.
 *
 * @example
 * ```ts ignore
 * const proxied = proxiedUnder(tlsSocket);
 * ```
 */
export function proxiedUnder(s: TLSSocket | undefined): ProxiedSocket | Socket | undefined {
  if (!s) return undefined;
  const parent = (s as unknown as { _parent?: Socket })._parent;
  if (parent && isProxiedTcp(parent)) return parent;
  // Without PROXY protocol there is nothing to find: no search on every lookup.
  if (!anyMade) return undefined;
  let found = LINKS.get(s);
  if (found === undefined) {
    found = streamUnderTls(s, isProxied) ?? null;
    // A socket that has not found its stream may find it later; only a hit is final.
    if (found) LINKS.set(s, found);
  }
  return found ?? undefined;
}

const LINKS = new WeakMap<object, ProxiedSocket | null>();

/** Whether a {@link ProxiedSocket} was ever made in this process. */
let anyMade = false;

const isProxied = (x: unknown): x is ProxiedSocket => x instanceof ProxiedSocket;

/**
 * Makes TLS socket `s`, which runs over `p`, report the client's address as
 * its own (`remoteAddress`, `remotePort`, `remoteFamily`), so code reading
 * `req.socket.remoteAddress` sees the client, not `undefined`.
 *
 * @example
 * ```ts ignore
 * const p = proxiedUnder(tlsSocket);
 * if (p) adoptProxiedPeer(tlsSocket, p);
 * ```
 */
export function adoptProxiedPeer(
  s: TLSSocket,
  p: Pick<Socket, "remoteAddress" | "remotePort" | "remoteFamily">,
): void {
  const peer = {
    remoteAddress: p.remoteAddress,
    remotePort: p.remotePort,
    remoteFamily: p.remoteFamily,
  };
  for (const [key, value] of Object.entries(peer)) {
    Object.defineProperty(s, key, { value, configurable: true });
  }
}
