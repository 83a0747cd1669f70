/**
 * Refused HTTP requests of the MCP server: each is logged once at warn with
 * the peer, answered with a JSON-RPC error carrying its reason code, and its
 * reason remembered for the request counters.
 *
 * @module
 */

import type { ServerResponse } from "node:http";
import type { Logger } from "../log/logger.ts";
import type { PeerState } from "../tls/server/listener.ts";
import { sendJsonRpcError } from "./server_http.ts";

/** JSON-RPC error code of a refused request. */
export const DENIED = -32001;

/**
 * The request refusals of one server.
 *
 * @example
 * ```ts ignore
 * refusals.refuse(res, state, 403, "identity_denied", `Tool "rm" is not allowed for alice`);
 * res.once("close", () => metrics.request(res.statusCode, refusals.reasonOf(res)));
 * ```
 */
export interface RequestRefusals {
  /** Logs the refusal at warn, remembers its reason and answers `status` with a JSON-RPC error. */
  refuse(
    res: ServerResponse,
    state: PeerState,
    status: number,
    reason: string,
    detail: string,
    id?: unknown,
  ): void;
  /** Remembers the reason of a refusal logged and answered elsewhere. */
  mark(res: ServerResponse, reason: string): void;
  /** The reason `res` was refused for, if it was. */
  reasonOf(res: ServerResponse): string | undefined;
}

/**
 * Makes the request refusals of one server.
 *
 * @example
 * ```ts ignore
 * const refusals = createRequestRefusals(logger);
 * ```
 */
export function createRequestRefusals(logger: Logger): RequestRefusals {
  const refusedBy = new WeakMap<ServerResponse, string>();
  return {
    refuse(res, state, status, reason, detail, id) {
      logger.warn("request refused", { peer: state.peer, reason, detail });
      refusedBy.set(res, reason);
      sendJsonRpcError(res, status, DENIED, detail, { reason, id });
    },
    mark(res, reason) {
      refusedBy.set(res, reason);
    },
    reasonOf: (res) => refusedBy.get(res),
  };
}
