/**
 * Answers a request whose token was refused: the `WWW-Authenticate`
 * challenge of RFC 6750 §3 / RFC 9728 §5.1 and a JSON-RPC error carrying the
 * reason code, logged once at warn like every request refusal (with the
 * underlying cause of an `auth_unavailable`, which the client is not told).
 *
 * @module
 */
import type { ServerResponse } from "node:http";
import type { RequestRefusals } from "../mcp/server_refusals.ts";
import type { PeerState } from "../tls/server/listener.ts";
import type { ServerAuth } from "./server_auth.ts";
import type { TokenRefusal } from "./token.ts";

/**
 * Sends the refusal of `refusal` on `res`.
 *
 * @example
 * ```ts ignore
 * refuseToken(res, state, auth, refusals, { status: 401, reason: "token_missing", description: "A bearer token is required" });
 * ```
 */
export function refuseToken(
  res: ServerResponse,
  state: PeerState,
  auth: Pick<ServerAuth, "challenge" | "logger">,
  refusals: RequestRefusals,
  refusal: TokenRefusal,
  id?: unknown,
): void {
  const challenge = auth.challenge(refusal);
  if (challenge !== undefined && !res.headersSent) res.setHeader("www-authenticate", challenge);
  if (refusal.cause !== undefined) {
    auth.logger.warn("token check failed", {
      peer: state.peer,
      reason: refusal.reason,
      cause: refusal.cause,
    });
  }
  refusals.refuse(res, state, refusal.status, refusal.reason, refusal.description, id);
}
