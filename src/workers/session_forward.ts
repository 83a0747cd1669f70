/**
 * The `SessionRouter` of `serve --workers N`: a request for a session held by
 * another worker goes to that worker over its private Unix socket (in a 0700
 * directory of the primary's), with the caller's verified identity, and its
 * answer comes back as it arrives, SSE streams included.
 *
 * The coordinator says which worker holds the session and for which
 * certificate; a caller with another certificate is refused here
 * (`identity_denied`) before anything leaves, and the owner checks again.
 * The headers and the relay are the gateway's (src/gateway/): the same
 * hop-by-hop rules and backpressure.
 *
 * @module
 */

import http from "node:http";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Buffer } from "node:buffer";
import { clientResponseHeaders, upstreamRequestHeaders } from "../gateway/forward_headers.ts";
import { relayRaw } from "../gateway/relay.ts";
import type { Logger } from "../log/logger.ts";
import type { ForwardedCaller, RouteRefusal, SessionRouter } from "../mcp/session_seams.ts";
import type { PeerState } from "../tls/server/listener.ts";
import { LruMap } from "../limits/lru.ts";
import type { CoordinatorAnswer } from "./messages.ts";
import type { WorkerLink } from "./worker_link.ts";

type Located = Extract<CoordinatorAnswer, { socket: string }>;

/** The header carrying the verified caller to the owner (set by the forwarding worker only). */
export const FORWARDED_PEER = "x-mcp-mtls-forwarded-peer";

/**
 * The caller as the forwarding worker verified it (and, for the gateway,
 * the identity headers its TLS connection gives).
 *
 * @example
 * ```ts
 * import type { ForwardedPeer } from "./session_forward.ts";
 * const p: ForwardedPeer = { peer: "127.0.0.1:50000", trusted: true };
 * ```
 */
export type ForwardedPeer = Pick<PeerState, "peer" | "identity" | "trusted"> & {
  caller?: ForwardedCaller;
};

/**
 * The router, plus `close()` for its connection pool.
 *
 * @example
 * ```ts ignore
 * const router = createForwardingRouter(link, logger);
 * ```
 */
export interface ForwardingRouter extends SessionRouter {
  /** Closes the pooled connections to the other workers. */
  close(): void;
}

/**
 * Makes the router of one worker.
 *
 * @example
 * ```ts ignore
 * import { createForwardingRouter } from "./session_forward.ts";
 * const router = createForwardingRouter(link, logger);
 * ```
 */
export function createForwardingRouter(
  link: Pick<WorkerLink, "ask">,
  logger: Logger,
): ForwardingRouter {
  const agent = new http.Agent({ keepAlive: true });
  // Where a session lives and whose it is never change while its id exists, and
  // ids are never reused: an answer can be kept. A session closed since is answered
  // 404 by its worker (or by the worker now holding its number, after a crash).
  const located = new LruMap<Located>({ max: 10_000 });
  return {
    async forward(sid, req, res, state, body, caller) {
      let a: CoordinatorAnswer | undefined = located.get(sid);
      if (a === undefined) {
        a = await link.ask({ op: "locate", sid });
        if (a === undefined) return unavailable("The session coordinator did not answer");
        if ("missing" in a) return "missing";
        if (!("socket" in a)) throw new TypeError("Unexpected answer to locate");
        located.set(sid, a);
      }
      if (!("socket" in a)) throw new TypeError("Unexpected answer to locate");
      if (a.fingerprint !== state.identity?.fingerprint) {
        return {
          status: 403,
          reason: "identity_denied",
          detail: `Session "${sid}" belongs to another client certificate`,
        };
      }
      return await relay(agent, a.socket, req, res, state, body, logger, a.worker, caller);
    },
    close: () => agent.destroy(),
  };
}

function unavailable(detail: string): RouteRefusal {
  return { status: 503, reason: "worker_unavailable", detail };
}

function relay(
  agent: http.Agent,
  socketPath: string,
  req: IncomingMessage,
  res: ServerResponse,
  state: PeerState,
  body: unknown,
  logger: Logger,
  worker: number,
  caller: ForwardedCaller | undefined,
): Promise<undefined | RouteRefusal> {
  const peer: ForwardedPeer = {
    peer: state.peer,
    identity: state.identity,
    trusted: state.trusted,
    ...(caller ? { caller } : {}),
  };
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  const colon = state.peer.lastIndexOf(":");
  const headers = upstreamRequestHeaders(
    req.headers,
    {},
    { [FORWARDED_PEER]: JSON.stringify(peer) },
    colon > 0 ? state.peer.slice(0, colon) : state.peer,
  );
  if (payload) headers["content-length"] = String(payload.length);
  return new Promise((resolve) => {
    let answered = false;
    const up = http.request({
      socketPath,
      agent,
      method: req.method,
      path: req.url,
      headers,
    }, (answer) => {
      answered = true;
      res.writeHead(answer.statusCode ?? 502, clientResponseHeaders(answer.headers));
      // An SSE stream's headers go out at once, before its first event.
      res.flushHeaders();
      relayRaw(answer, res).then((end) => {
        if (end.kind === "upstream_failed") {
          logger.warn("forwarded session stream cut off", {
            peer: state.peer,
            worker,
            error: String(end.error),
          });
          res.destroy();
        } else res.end();
        resolve(undefined);
      });
    });
    // The caller went away: so does the request to the owner (a GET stream ends there too).
    res.once("close", () => up.destroy());
    up.on("error", (e) => {
      if (answered) return;
      logger.warn("cannot reach the worker holding the session", {
        peer: state.peer,
        worker,
        error: e.message,
      });
      resolve(unavailable(`The worker holding the session did not answer`));
    });
    up.end(payload);
  });
}
