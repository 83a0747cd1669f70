/**
 * The gateway as one worker of `serve --workers N`: a request naming an
 * upstream session that another worker bound goes to that worker, which
 * proxies it (`SessionRouter`, `../workers/session_forward.ts`).
 *
 * Why forward to the owner rather than proxy to the upstream from here
 * once the binding is checked: the owner keeps the session's idle clock
 * (requests in flight, GET streams) and ends the session at the upstream
 * with a DELETE when it gives way or idles. A request proxied from another
 * worker would be invisible to that clock, so the owner could DELETE a
 * session in use elsewhere. One hop over a Unix socket buys one place that
 * knows whether a session is busy, as `serveMcp`'s own sessions do.
 *
 * Upstream session ids name no worker (the upstream chose them), so every
 * id this worker does not hold is asked of the coordinator (answers are
 * cached by the router); no answer is a 503 `worker_unavailable` (fail
 * closed), a session of another certificate a 403 `identity_denied` before
 * anything leaves, an id no worker holds the usual 404.
 *
 * @module
 */

import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import type { RequestRefusals } from "../mcp/server_refusals.ts";
import type { ForwardedCaller, SessionRouter } from "../mcp/session_seams.ts";
import type { PeerState } from "../tls/server/listener.ts";
import { identityHeaders } from "./identity_headers.ts";
import type { GatewayHandler } from "./proxy.ts";
import type { SessionBindings } from "./session_bindings.ts";

/**
 * What the owner needs to tell the upstream who the caller is: the
 * identity headers of the caller's TLS connection (here, not there) and
 * its address.
 *
 * @example
 * ```ts ignore
 * const caller = callerOf(req, state);
 * ```
 */
export function callerOf(req: IncomingMessage, state: PeerState): ForwardedCaller {
  return {
    address: req.socket.remoteAddress ?? "",
    identityHeaders: identityHeaders(req.socket as TLSSocket, state.identity),
  };
}

/**
 * Wraps the gateway's handler so that requests for sessions bound on
 * another worker are forwarded there.
 *
 * @example
 * ```ts ignore
 * const routed = routeToOwner(handler, bindings, cluster.router, refusals);
 * const router = createRequestRouter({ o, hosts, authorize, refusals, metrics, handler: routed });
 * ```
 */
export function routeToOwner(
  handler: GatewayHandler,
  bindings: Pick<SessionBindings, "holds">,
  router: SessionRouter,
  refusals: Pick<RequestRefusals, "refuse">,
): GatewayHandler {
  return {
    async handle(req, res, state, mayCall, body, caller) {
      const raw = req.headers["mcp-session-id"];
      const sid = Array.isArray(raw) ? raw[0] : raw;
      if (sid !== undefined && caller === undefined && !bindings.holds(sid)) {
        const routed = await router.forward(sid, req, res, state, body, callerOf(req, state));
        if (routed === undefined) return;
        if (routed !== "missing") {
          refusals.refuse(res, state, routed.status, routed.reason, routed.detail);
          return;
        }
        // No worker holds it: the handler answers 404 as with one worker.
      }
      return await handler.handle(req, res, state, mayCall, body, caller);
    },
  };
}
