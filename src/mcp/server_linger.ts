/**
 * A lingering close for a connection whose upload the server refused (413):
 * the client keeps sending, so it must get time to read the answer before
 * the connection goes.
 *
 * @module
 */

import type { Socket } from "node:net";

/** How long a refused upload may go on after its 413, so the client reads the 413 first. */
const LINGER_MS = 500;

/**
 * Makes the HTTP server's close of `socket` (after a 413 with `connection:
 * close`) a lingering close: half-close, drop whatever the client is still
 * uploading for up to {@link LINGER_MS}, then destroy. Destroying at once
 * while a client still uploads resets the connection, and the reset can reach
 * the client before it has read the 413 (measured: curl without `Expect`
 * then sees "Send failure: Broken pipe" and no status, 1 run in 6 under load).
 *
 * @example
 * ```ts ignore
 * lingerOnClose(req.socket);
 * sendJsonRpcError(res, 413, -32600, "Request body too large", { close: true });
 * ```
 */
export function lingerOnClose(socket: Socket): void {
  const destroy = socket.destroy.bind(socket);
  let lingering = false;
  socket.destroy = ((error?: Error) => {
    if (error || lingering) return destroy(error);
    lingering = true;
    socket.end();
    socket.on("data", () => {});
    socket.resume();
    const timer = setTimeout(() => destroy(), LINGER_MS);
    socket.once("close", () => clearTimeout(timer));
    return socket;
  }) as Socket["destroy"];
}
