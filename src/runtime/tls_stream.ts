/**
 * The JavaScript stream a server TLS socket runs TLS over, when the TLS
 * server was handed a plain `Duplex` instead of a TCP socket (the PROXY
 * protocol's screened connections, src/tls/server/proxied_socket.ts). No
 * runtime exposes it, so this reads each one's internals, measured:
 *
 * - Deno 2.9.6 and Node.js 20 wrap the stream in a `JSStreamSocket` whose
 *   `stream` it is, kept as `ssl._parentWrap`, else under an owner symbol of
 *   `ssl._parent`, or of the `res` symbol's `_parent` once the socket is
 *   destroyed;
 * - Bun 1.4.4 keeps the stream it upgraded under a symbol of the TLS socket
 *   itself (`kupgraded`).
 *
 * Kept here, beside the other runtime differences, so that a runtime that
 * moves it breaks one file (tests/portable/proxy_protocol.test.ts notices).
 *
 * @module
 */

import type { TLSSocket } from "node:tls";

type Loose = Record<string | symbol, unknown>;

function symbolValues(o: unknown): unknown[] {
  if (!o || typeof o !== "object") return [];
  return Object.getOwnPropertySymbols(o).map((k) => (o as Loose)[k]);
}

/**
 * The stream under TLS socket `s` that `is` recognises, or `undefined`.
 *
 * @example
 * ```ts ignore
 * const mine = streamUnderTls(tlsSocket, (x): x is MyStream => x instanceof MyStream);
 * ```
 */
export function streamUnderTls<T>(s: TLSSocket, is: (x: unknown) => x is T): T | undefined {
  const o = s as unknown as Loose;
  for (const v of symbolValues(o)) if (is(v)) return v;
  const res = Object.getOwnPropertySymbols(o).filter((k) => k.description === "res");
  for (const root of [o.ssl, ...res.map((k) => o[k])]) {
    if (!root || typeof root !== "object") continue;
    const r = root as Loose;
    for (const wrap of [r._parentWrap, ...symbolValues(r._parent)]) {
      const stream = (wrap as Loose | undefined)?.stream;
      if (is(stream)) return stream;
    }
  }
  return undefined;
}
