/**
 * Fewer, larger socket writes per response. A Node-style response is written
 * in pieces (headers, each chunk, the chunked-encoding end), and Node corks
 * the socket only within one tick, so an MCP answer streamed as server-sent
 * events leaves as two or three TLS records and system calls. Corking from
 * the first write until the event loop's next turn sends everything written
 * in that turn at once; a stream that writes later (progress notifications,
 * an open GET stream) is still flushed within one turn of each write.
 *
 * @module
 */

import type { ServerResponse } from "node:http";
import type { Socket } from "node:net";

/**
 * Makes `res` cork its socket at its first write of an event-loop turn and
 * uncork it at the next turn (`setImmediate`), so that writes made meanwhile
 * go out together.
 *
 * @example
 * ```ts ignore
 * server.on("request", (req, res) => {
 *   coalesceWrites(res, req.socket);
 *   res.writeHead(200).end("ok");
 * });
 * ```
 */
export function coalesceWrites(res: ServerResponse, socket: Socket): void {
  // Per request only a socket reference and three shared functions are stored: no closures
  // (this runs for every request of every connection).
  const r = res as Coalesced;
  if (Object.hasOwn(r, "write") || Object.hasOwn(r, "end") || Object.hasOwn(r, "flushHeaders")) {
    wrapOwn(r, socket); // someone wrapped these already: keep their versions in the chain
    return;
  }
  r[SOCKET] = socket;
  r.flushHeaders = flushHeadersCorked;
  r.write = writeCorked as ServerResponse["write"];
  r.end = endCorked as ServerResponse["end"];
}

const SOCKET = Symbol("coalesceWrites.socket");
const CORKED = Symbol("coalesceWrites.corked");
type Coalesced = ServerResponse & { [SOCKET]?: Socket };
type Corkable = Socket & { [CORKED]?: boolean };
/** The class's own method (a subclass's included), which the wrappers below stand in front of. */
const proto = (res: ServerResponse): ServerResponse => Object.getPrototypeOf(res);

function uncork(socket: Corkable): void {
  socket[CORKED] = false;
  socket.uncork();
}

function cork(socket: Corkable | undefined): void {
  if (!socket || socket[CORKED] || socket.destroyed) return;
  socket[CORKED] = true;
  socket.cork();
  setImmediate(uncork, socket);
}

function flushHeadersCorked(this: Coalesced): void {
  cork(this[SOCKET]);
  proto(this).flushHeaders.call(this);
}

function writeCorked(this: Coalesced, ...args: unknown[]): boolean {
  cork(this[SOCKET]);
  return (proto(this).write as (...a: unknown[]) => boolean).apply(this, args);
}

function endCorked(this: Coalesced, ...args: unknown[]): ServerResponse {
  cork(this[SOCKET]);
  return (proto(this).end as (...a: unknown[]) => ServerResponse).apply(this, args);
}

/** The general case: wraps whatever `res` has now. */
function wrapOwn(res: ServerResponse, socket: Socket): void {
  const { write, end, flushHeaders } = res;
  res.flushHeaders = function (this: ServerResponse) {
    cork(socket);
    flushHeaders.call(this);
  };
  res.write = function (this: ServerResponse, ...args: unknown[]) {
    cork(socket);
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as ServerResponse["write"];
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    cork(socket);
    return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse["end"];
}
