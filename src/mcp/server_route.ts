/**
 * The way of one HTTP request through the MCP server, after its connection
 * was admitted: host and origin check, path, the policy hook's verdict, the
 * caller's permissions, the body (size, JSON, params, denied tool calls,
 * resource reads and subscriptions, prompts and completions),
 * then the SDK by way of a session or a stateless server. Every request is
 * counted when its response closes; an unexpected error answers 500.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
// The SDK's types by their path without ".js": see tests/publish/types_test.ts.
// @ts-types="@modelcontextprotocol/sdk/server/auth/types"
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import { refuseToken } from "../auth/refuse.ts";
import type { VerifiedToken } from "../auth/token.ts";
import { isMtlsError } from "../errors.ts";
import type { ServerMetrics } from "../log/metrics.ts";
import type { Authorizer, ToolPermission } from "../policy/authorization.ts";
import { identityLabel } from "../policy/identity.ts";
import type { PeerState } from "../tls/server/listener.ts";
import type { HostGuard } from "./server_hosts.ts";
import { accessOf, firstDenied } from "../gateway/access.ts";
import { jsonRpcMessages, readBody, sendJsonRpcError } from "./server_http.ts";
import { lingerOnClose } from "./server_linger.ts";
import type { ResolvedServeOptions } from "./server_options.ts";
import { invalidParams } from "./server_params.ts";
import { DENIED, type RequestRefusals } from "./server_refusals.ts";
import type { SessionStore } from "./server_sessions.ts";

/** One decoder for every body (`decode` without `stream` keeps no state between calls). */
const UTF8 = new TextDecoder();

/**
 * What {@link createRequestRouter} needs.
 *
 * @example
 * ```ts ignore
 * const router = createRequestRouter({ o, hosts, authorize, refusals, handler: sessions, metrics });
 * ```
 */
export interface RouterParts {
  /** The endpoint path, the body limit and the logger. */
  o: Pick<ResolvedServeOptions, "path" | "maxBodyBytes" | "logger" | "auth">;
  /** DNS-rebinding protection. */
  hosts: Pick<HostGuard, "check">;
  /** The compiled authorization (tools, resources and prompts). */
  authorize: Authorizer;
  /** Logs, answers and remembers refusals. */
  refusals: RequestRefusals;
  /** The session store, or the stateless handler. */
  handler: Pick<SessionStore, "handle">;
  /** Counts each request by status and refusal reason. */
  metrics: Pick<ServerMetrics, "request">;
}

/**
 * Gives the request the caller's identity where the SDK passes it to tool
 * handlers (`req.auth` becomes `extra.authInfo`).
 *
 * @example
 * ```ts ignore
 * attachAuthInfo(req, state);
 * await transport.handleRequest(req, res, body);
 * ```
 */
export function attachAuthInfo(req: IncomingMessage, state: PeerState): void {
  (req as IncomingMessage & { auth?: AuthInfo }).auth = {
    token: "",
    clientId: state.identity ? identityLabel(state.identity) : "anonymous",
    scopes: [],
    extra: { identity: state.identity, trusted: state.trusted, peer: state.peer },
  };
}

/**
 * The router of one server.
 *
 * @example
 * ```ts ignore
 * await listenMtls({ ...options, onRequest: router.onRequest });
 * await router.settled();
 * ```
 */
export interface RequestRouter {
  /** Handles one request of an admitted connection (the listener's `onRequest`). */
  onRequest(req: IncomingMessage, res: ServerResponse, state: PeerState): void;
  /** Resolves once every request in progress has been handled. */
  settled(): Promise<void>;
}

/**
 * Makes the router.
 *
 * @example
 * ```ts ignore
 * const router = createRequestRouter(parts);
 * ```
 */
export function createRequestRouter(parts: RouterParts): RequestRouter {
  const { o, hosts, authorize, refusals, handler, metrics } = parts;
  const { logger } = o;
  const permissions = new WeakMap<PeerState, ToolPermission>();
  // With tokens, a permission depends on the token too: the last one per connection is kept.
  const tokenPermissions = new WeakMap<
    PeerState,
    { token: VerifiedToken; mayCall: ToolPermission }
  >();
  const inFlight = new Set<Promise<void>>();

  /** The body of a POST, parsed and checked, or `undefined` when refused (answered already). */
  async function readCall(
    req: IncomingMessage,
    res: ServerResponse,
    state: PeerState,
    mayCall: ToolPermission,
  ): Promise<{ body: unknown } | undefined> {
    const bytes = await readBody(req, o.maxBodyBytes);
    if (!bytes) {
      logger.warn("request refused", {
        peer: state.peer,
        reason: "rate_limited",
        detail: `Request body larger than ${o.maxBodyBytes} bytes`,
      });
      refusals.mark(res, "rate_limited");
      lingerOnClose(req.socket);
      sendJsonRpcError(res, 413, -32600, `Request body larger than ${o.maxBodyBytes} bytes`, {
        close: true,
      });
      return undefined;
    }
    let body: unknown;
    try {
      body = JSON.parse(UTF8.decode(bytes));
    } catch {
      sendJsonRpcError(res, 400, -32700, "Parse error: request body is not JSON");
      return undefined;
    }
    // The params read below (tool name) and by the session store (initialize) must be
    // well formed first: a malformed one is the client's error (400), never a 500.
    const invalid = invalidParams(body);
    if (invalid) {
      sendJsonRpcError(res, 400, -32602, invalid.message, { id: invalid.id });
      return undefined;
    }
    // Checked here, before the SDK sees the request, so a denied one is refused with
    // identity_denied even for a name the SDK would report as unknown; the same rules
    // as the gateway and the stdio bridge (../gateway/access.ts).
    const denied = firstDenied(jsonRpcMessages(body), accessOf(mayCall));
    const scopes = denied?.kind && denied.name !== undefined
      ? mayCall.scopesFor?.(denied.kind, denied.name)
      : undefined;
    if (denied && scopes && o.auth) {
      const description = `${denied.what} needs scope ${scopes.map((s) => `"${s}"`).join(", ")}`;
      const refusal = {
        status: 403,
        reason: "insufficient_scope",
        description,
        scope: scopes.join(" "),
      } as const;
      refuseToken(res, state, o.auth, refusals, refusal, denied.id);
      return undefined;
    }
    if (denied) {
      const who = state.identity ? identityLabel(state.identity) : "an anonymous client";
      const detail = `${denied.what} is not allowed for ${who}`;
      refusals.refuse(res, state, 403, "identity_denied", detail, denied.id);
      return undefined;
    }
    return { body };
  }

  async function handle(req: IncomingMessage, res: ServerResponse, state: PeerState) {
    // First, on every path: a rebound browser request learns nothing, not even a 404.
    const misdirected = hosts.check(req.rawHeaders);
    if (misdirected) {
      refusals.refuse(res, state, 403, "origin_denied", misdirected.message);
      return;
    }
    const path = (req.url ?? "/").split("?")[0];
    const metadata = o.auth?.isMetadataPath(path) ?? false;
    if (path !== o.path && !metadata) {
      sendJsonRpcError(res, 404, -32000, `Not found: "${path}"; the MCP endpoint is "${o.path}"`);
      return;
    }
    const hookRefusal = await state.verdict;
    if (hookRefusal) {
      if (!state.refusalLogged) {
        state.refusalLogged = true;
        logger.warn("request refused", {
          peer: state.peer,
          reason: hookRefusal.reason,
          detail: hookRefusal.message,
        });
      }
      refusals.mark(res, hookRefusal.reason);
      sendJsonRpcError(res, 403, DENIED, hookRefusal.message, { reason: hookRefusal.reason });
      return;
    }
    if (metadata) return o.auth!.sendMetadata(req, res);
    let token: VerifiedToken | undefined;
    let mayCall: ToolPermission | undefined;
    if (o.auth) {
      const verdict = await o.auth.check(req.headers.authorization, state);
      if ("reason" in verdict) return refuseToken(res, state, o.auth, refusals, verdict);
      token = verdict;
      const last = tokenPermissions.get(state);
      if (last?.token === token) mayCall = last.mayCall;
      else {
        mayCall = authorize(state.identity, state.trusted, token);
        tokenPermissions.set(state, { token, mayCall });
      }
    } else {
      mayCall = permissions.get(state);
      if (!mayCall) {
        mayCall = authorize(state.identity, state.trusted);
        permissions.set(state, mayCall);
      }
    }
    let body: unknown;
    if (req.method === "POST") {
      const call = await readCall(req, res, state, mayCall);
      if (!call) return;
      body = call.body;
    }
    if (token) (req as IncomingMessage & { auth?: AuthInfo }).auth = o.auth!.authInfo(token, state);
    else attachAuthInfo(req, state);
    return await handler.handle(req, res, state, mayCall, body);
  }

  return {
    onRequest(req, res, state) {
      res.once("close", () => metrics.request(res.statusCode, refusals.reasonOf(res)));
      const p = handle(req, res, state).catch((cause) => {
        // The listener answered 408 and logged the refusal; the body read failed with it.
        if (isMtlsError(cause, "request_timeout")) return;
        logger.error("request failed", { peer: state.peer, error: String(cause) });
        sendJsonRpcError(res, 500, -32603, "Internal error");
      });
      inFlight.add(p);
      p.finally(() => inFlight.delete(p));
    },
    async settled() {
      await Promise.allSettled([...inFlight]);
    },
  };
}
