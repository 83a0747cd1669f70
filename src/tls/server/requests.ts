/**
 * The listener's hooks on each HTTP request of an admitted connection: the
 * `Expect: 100-continue` answer, the wait for a verdict still pending, then
 * the connection's request clock, write coalescing and the caller's handler.
 * A request on a connection that is not (or no longer) admitted closes it.
 *
 * @module
 */

import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { coalesceWrites } from "./coalesce_writes.ts";
import type { ConnectionTable } from "./connection.ts";
import type { ListenMtlsOptions } from "./listener.ts";

/**
 * Registers the request hooks on the HTTP side of the listener.
 *
 * @example
 * ```ts ignore
 * handleRequests(both.http, connections, options);
 * ```
 */
export function handleRequests(
  web: Server,
  connections: ConnectionTable,
  options: Pick<ListenMtlsOptions, "maxBodyBytes" | "onRequest">,
): void {
  const { onRequest } = options;

  // Without this, Node-style servers answer "100 Continue" to every request, and
  // a client then uploads a too-large body that is refused mid-stream: the close
  // with unread data resets the connection and the 413 can be lost on the way.
  web.on("checkContinue", (req: IncomingMessage, res: ServerResponse) => {
    const declared = Number(req.headers["content-length"]);
    if (!(declared > (options.maxBodyBytes ?? Infinity))) res.writeContinue();
    web.emit("request", req, res);
  });

  web.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const waiting = connections.of(req.socket)?.pending;
    if (waiting) {
      waiting.then(() => handle(req, res));
      return;
    }
    handle(req, res);
  });

  function handle(req: IncomingMessage, res: ServerResponse) {
    const c = connections.of(req.socket);
    const state = c?.state;
    const clock = c?.clock;
    if (!state || !clock || req.socket.destroyed) {
      req.socket.destroy();
      return;
    }
    clock.requestStarted(req, res);
    coalesceWrites(res, req.socket);
    onRequest(req, res, state);
  }
}
