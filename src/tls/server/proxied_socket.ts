/**
 * A TCP connection whose first bytes (a PROXY protocol header, or the bytes
 * read to check for one) were consumed by the server, handed to the TLS
 * server as a stream that replays the rest and reports the client's address.
 *
 * Why a stream and not the TCP socket itself: measured on Deno 2.9.6, a TLS
 * server handed a `net.Socket` runs TLS on the socket's own handle, below
 * JavaScript, so bytes already read and `unshift`ed back are never seen and
 * the handshake stalls. Handed a plain `Duplex`, Deno and Node.js both run
 * TLS over it (keep-alive included, measured). They do not set the TLS
 * socket's `_parent` for a non-`net.Socket` stream, so {@link proxiedUnder}
 * finds the stream again.
 *
 * @module
 */

import type { Socket } from "node:net";
import { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";

/**
 * The stream the TLS server reads instead of the TCP socket. It answers the
 * questions the listener asks of a TCP socket (`remoteAddress`, `remotePort`,
 * `bytesRead`, `destroy`, `close`) with the client's address from the header.
 *
 * @example
 * ```ts ignore
 * const s = new ProxiedSocket(tcp, rest, { address: "203.0.113.7", port: 51000, family: "IPv4" });
 * tlsServer.emit("connection", s);
 * ```
 */
export class ProxiedSocket extends Duplex {
  /** The TCP connection from the balancer (or the client, when untrusted). */
  readonly tcp: Socket;
  /** The client's address: from the header, or the TCP peer's when the header names none. */
  readonly remoteAddress: string | undefined;
  /** The client's port. */
  readonly remotePort: number | undefined;
  /** `IPv4` or `IPv6`. */
  readonly remoteFamily: string | undefined;
  #received = 0;

  /**
   * Wraps `tcp`, whose next bytes are `rest` and then whatever it receives.
   * With `screen`, the first bytes received are shown to it before the TLS
   * layer sees them: `"yes"` closes the connection (the caller logged why),
   * `"maybe"` waits for more.
   *
   * @example
   * ```ts ignore
   * const s = new ProxiedSocket(tcp, Buffer.alloc(0), { address: "::1", port: 1, family: "IPv6" });
   * ```
   */
  constructor(
    tcp: Socket,
    rest: Uint8Array,
    peer: { address?: string; port?: number; family?: string },
    screen?: (first: Uint8Array) => "yes" | "no" | "maybe",
  ) {
    super({ allowHalfOpen: false });
    this.tcp = tcp;
    this.remoteAddress = peer.address;
    this.remotePort = peer.port;
    this.remoteFamily = peer.family;
    if (rest.length > 0) this.#push(rest);
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
 * The {@link ProxiedSocket} a TLS socket runs over, or `undefined`. The TLS
 * layer wraps a stream that is not a `net.Socket` in a `JSStreamSocket`
 * whose `stream` is ours; where it keeps that wrapper differs, and changes
 * once the socket is destroyed (measured on Deno 2.9.6 and Node.js 20:
 * `ssl._parentWrap`, else an owner symbol on `ssl._parent` or on the
 * `res` symbol's `_parent`). The answer is remembered per TLS socket.
 *
 * @example
 * ```ts ignore
 * const proxied = proxiedUnder(tlsSocket);
 * ```
 */
export function proxiedUnder(s: TLSSocket | undefined): ProxiedSocket | undefined {
  if (!s) return undefined;
  let found = LINKS.get(s);
  if (found === undefined) {
    found = searchProxied(s) ?? null;
    // A socket that has not found its stream may find it later; only a hit is final.
    if (found) LINKS.set(s, found);
  }
  return found ?? undefined;
}

const LINKS = new WeakMap<object, ProxiedSocket | null>();

type Loose = Record<string | symbol, unknown>;

function symbolValues(o: unknown): unknown[] {
  if (!o || typeof o !== "object") return [];
  return Object.getOwnPropertySymbols(o).map((k) => (o as Loose)[k]);
}

function searchProxied(s: TLSSocket): ProxiedSocket | undefined {
  const o = s as unknown as Loose;
  const res = Object.getOwnPropertySymbols(o).filter((k) => k.description === "res");
  for (const root of [o.ssl, ...res.map((k) => o[k])]) {
    if (!root || typeof root !== "object") continue;
    const r = root as Loose;
    for (const wrap of [r._parentWrap, ...symbolValues(r._parent)]) {
      const stream = (wrap as Loose | undefined)?.stream;
      if (stream instanceof ProxiedSocket) return stream;
    }
  }
  return undefined;
}

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
export function adoptProxiedPeer(s: TLSSocket, p: ProxiedSocket): void {
  const peer = {
    remoteAddress: p.remoteAddress,
    remotePort: p.remotePort,
    remoteFamily: p.remoteFamily,
  };
  for (const [key, value] of Object.entries(peer)) {
    Object.defineProperty(s, key, { value, configurable: true });
  }
}
