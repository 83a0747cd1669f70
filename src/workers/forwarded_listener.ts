/**
 * A worker's private listener for requests other workers forward to its
 * sessions: plain HTTP on a Unix socket in the primary's 0700 directory, so
 * only this user's processes can connect. The caller's identity comes from
 * the forwarding worker (it completed the mTLS handshake and admission);
 * the session store still checks that the session belongs to that
 * certificate, and authorization runs again.
 *
 * @module
 */

import http from "node:http";
import type { Socket } from "node:net";
import type { Logger } from "../log/logger.ts";
import { readBody, sendJsonRpcError } from "../mcp/server_http.ts";
import type { OwnedSessions } from "../mcp/session_seams.ts";
import type { PeerState } from "../tls/server/listener.ts";
import { FORWARDED_PEER, type ForwardedPeer } from "./session_forward.ts";

/**
 * The running listener.
 *
 * @example
 * ```ts ignore
 * const l = await listenForForwarded("/tmp/mcp-mtls-workers-x/w1.sock", owned, logger, 1_048_576);
 * await l.close();
 * ```
 */
export interface ForwardedListener {
  /** Stops listening and closes its connections. */
  close(): Promise<void>;
}

/**
 * Listens on `path` and hands each forwarded request to `owned`.
 *
 * @example
 * ```ts ignore
 * const l = await listenForForwarded(path, owned, logger, 1_048_576);
 * ```
 */
export async function listenForForwarded(
  path: string,
  owned: OwnedSessions,
  logger: Logger,
  maxBodyBytes: number,
): Promise<ForwardedListener> {
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      logger.error("forwarded request failed", { error: String(e) });
      sendJsonRpcError(res, 500, -32603, "Internal error");
    });
  });
  async function handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const raw = req.headers[FORWARDED_PEER];
    if (typeof raw !== "string") {
      sendJsonRpcError(res, 400, -32600, "Not a forwarded request");
      return;
    }
    const peer = JSON.parse(raw) as ForwardedPeer;
    // Ours alone: whatever the owner passes on (the gateway, to its upstream) must not carry it.
    delete req.headers[FORWARDED_PEER];
    const state: PeerState = {
      peer: peer.peer,
      identity: peer.identity,
      trusted: peer.trusted === true,
      verdict: Promise.resolve(undefined), // admitted by the forwarding worker
      refusalLogged: false,
    };
    let body: unknown;
    if (req.method === "POST") {
      const bytes = await readBody(req, maxBodyBytes);
      if (!bytes) {
        sendJsonRpcError(res, 413, -32600, `Request body larger than ${maxBodyBytes} bytes`);
        return;
      }
      body = JSON.parse(new TextDecoder().decode(bytes));
    }
    await owned.handle(req, res, state, body, peer.caller);
  }
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.once("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      server.off("error", reject);
      resolve();
    });
  });
  let closing: Promise<void> | undefined;
  return {
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return closing;
    },
  };
}
