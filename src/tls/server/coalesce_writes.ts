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
  let corked = false;
  const flush = () => {
    corked = false;
    socket.uncork();
  };
  const cork = () => {
    if (corked || socket.destroyed) return;
    corked = true;
    socket.cork();
    setImmediate(flush);
  };
  const { write, end, flushHeaders } = res;
  res.flushHeaders = function (this: ServerResponse) {
    cork();
    flushHeaders.call(this);
  };
  res.write = function (this: ServerResponse, ...args: unknown[]) {
    cork();
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as ServerResponse["write"];
  res.end = function (this: ServerResponse, ...args: unknown[]) {
    cork();
    return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
  } as ServerResponse["end"];
}
