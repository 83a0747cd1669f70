/**
 * The way of one admitted request through the gateway, after `serveMcp`'s
 * router has checked Host and Origin, the policy hook, the body (size, JSON,
 * params) and denied `tools/call`s:
 *
 * 1. Requests for resources and prompts the caller may not use are refused
 *    (`identity_denied`) before anything leaves.
 * 2. The session: one the caller's certificate does not hold is refused
 *    (`identity_denied`, or 404 when unknown); an `initialize` is counted
 *    against the session limits (`rate_limited`).
 * 3. The body goes up with the caller's identity in `params._meta` (any
 *    client copy removed), the headers with the identity headers (client
 *    copies removed) and without hop-by-hop ones.
 * 4. The answer comes back as it arrives: SSE event by event (list results
 *    filtered, answered requests noted), JSON as is (read whole only when it
 *    holds a list result to filter).
 *
 * Upstream failures answer each request with a JSON-RPC error carrying
 * `upstream_unavailable` or `upstream_timeout`, logged once at warn.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
// undici's own declarations need @types/node in Deno: undici_types.d.ts says why.
// @ts-types="../tls/client/undici_types.d.ts"
import type { Dispatcher } from "undici";
import type { Logger } from "../log/logger.ts";
import type { ToolPermission } from "../policy/authorization.ts";
import { identityLabel, type PeerIdentity } from "../policy/identity.ts";
import type { PeerState } from "../tls/server/listener.ts";
import { type BridgeMessage, withIdentityMeta } from "../mcp/bridge_identity.ts";
import type { RequestRefusals } from "../mcp/server_refusals.ts";
import type { ForwardedCaller } from "../mcp/session_seams.ts";
import { type JsonRpcLike, jsonRpcMessages, sendJsonRpcError } from "../mcp/server_http.ts";
import { type Access, accessOf, filterListResult, firstDenied, LIST_FIELDS } from "./access.ts";
import { answerFailure, failureEvents } from "./failure_answer.ts";
import { clientResponseHeaders, upstreamRequestHeaders } from "./forward_headers.ts";
import { identityHeaders } from "./identity_headers.ts";
import { readAll, type RelayEnd, relayRaw, relaySse } from "./relay.ts";
import type { SessionBindings } from "./session_bindings.ts";
import { UpstreamAbort, type UpstreamClient } from "./upstream_client.ts";
import {
  classifyUpstreamError,
  serverErrorFailure,
  type UpstreamFailure,
} from "./upstream_errors.ts";
import type { UpstreamHealth } from "./upstream_health.ts";

/** How long a POST's SSE response headers wait for the first event before they are sent alone. */
const HEADERS_HOLD_MS = 20;

/** Largest JSON answer read whole to filter a list result (bigger: refused as unavailable). */
const MAX_FILTERED_BYTES = 16 * 1024 * 1024;

/**
 * What {@link createGatewayHandler} needs.
 *
 * @example
 * ```ts ignore
 * const handler = createGatewayHandler({ upstream, extraHeaders, bindings, health, refusals, logger });
 * ```
 */
export interface GatewayParts {
  /** The connection pool to the upstream. */
  upstream: UpstreamClient;
  /** The operator's extra headers for the upstream. */
  extraHeaders: Readonly<Record<string, string>>;
  /** Sessions bound to certificates. */
  bindings: SessionBindings;
  /** The upstream's health. */
  health: UpstreamHealth;
  /** Logs, answers and counts refusals. */
  refusals: RequestRefusals;
  /** Logger. */
  logger: Logger;
  /**
   * Drop the client's `Authorization` header: set when the gateway checks
   * bearer tokens itself (`auth`) and `auth.forwardAuthorization` is off,
   * so a token issued for the gateway is not replayed to the upstream.
   * @default {false}
   */
  dropAuthorization?: boolean;
}

/**
 * The gateway's request handler: what `serveMcp`'s router hands each
 * admitted request to, in place of its session store.
 *
 * @example
 * ```ts ignore
 * const router = createRequestRouter({ o, hosts, authorize, refusals, metrics, handler });
 * ```
 */
export interface GatewayHandler {
  /**
   * Proxies one request; `caller` for one another worker forwarded (its
   * identity headers and address, which this request's socket cannot give).
   */
  handle(
    req: IncomingMessage,
    res: ServerResponse,
    state: PeerState,
    mayCall: ToolPermission,
    body: unknown,
    caller?: ForwardedCaller,
  ): Promise<void>;
}

function header(headers: Record<string, unknown>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? String(v[0]) : typeof v === "string" ? v : undefined;
}

function who(identity: PeerIdentity | undefined): string {
  return identity ? identityLabel(identity) : "an anonymous client";
}

function withIdentity(body: unknown, identity: PeerIdentity | undefined): unknown {
  const one = (m: unknown) =>
    typeof m === "object" && m !== null && !Array.isArray(m)
      ? withIdentityMeta(m as BridgeMessage, identity)
      : m;
  return Array.isArray(body) ? body.map(one) : one(body);
}

/**
 * Makes the handler.
 *
 * @example
 * ```ts ignore
 * const handler = createGatewayHandler(parts);
 * ```
 */
export function createGatewayHandler(parts: GatewayParts): GatewayHandler {
  const { upstream, extraHeaders, bindings, health, refusals, logger, dropAuthorization } = parts;

  /** Logs an upstream failure once at warn, counts it, and marks the upstream down when it is. */
  function report(
    res: ServerResponse,
    state: PeerState,
    failure: UpstreamFailure,
    session: string | undefined,
    down: boolean,
  ) {
    logger.warn("upstream request failed", {
      peer: state.peer,
      reason: failure.reason,
      cause: failure.cause,
      detail: failure.detail,
      session,
    });
    refusals.mark(res, failure.reason);
    if (down) health.markDown(failure);
  }

  /** An upstream failure before any response header went out: reported and answered. */
  function failed(
    res: ServerResponse,
    state: PeerState,
    failure: UpstreamFailure,
    requests: JsonRpcLike[],
    batch: boolean,
    session: string | undefined,
    down: boolean,
  ) {
    report(res, state, failure, session, down);
    answerFailure(res, failure, requests.map((m) => m.id), batch);
  }

  async function relay(
    response: Dispatcher.ResponseData,
    res: ServerResponse,
    state: PeerState,
    access: Access,
    requests: JsonRpcLike[],
    session: string | undefined,
  ): Promise<void> {
    const headers = clientResponseHeaders(response.headers);
    const type = header(response.headers, "content-type") ?? "";
    // Requests whose answers hold a list to filter: id → method.
    const lists = new Map<unknown, string>();
    for (const m of requests) {
      if (LIST_FIELDS[String(m.method)] !== undefined) lists.set(m.id, String(m.method));
    }
    let end: RelayEnd;
    if (type.includes("text/event-stream")) {
      res.writeHead(response.statusCode, headers);
      const unanswered = new Set(requests.map((m) => m.id));
      const waiting = unanswered.size > 0;
      // A POST's stream: the headers wait for the first event (one write for both, not two),
      // or HEADERS_HOLD_MS when the answer takes longer, so the caller knows the stream is open.
      // No timer when the answer is here already (usually: it came with the headers).
      const hold = waiting && response.body.readableLength === 0
        ? setTimeout(() => res.headersSent || res.destroyed || res.flushHeaders(), HEADERS_HOLD_MS)
        : undefined;
      if (!waiting) res.flushHeaders();
      try {
        end = await relaySse(response.body, res, (m) => {
          if (m.method !== undefined || !("id" in m)) return undefined;
          unanswered.delete(m.id);
          const method = lists.get(m.id);
          if (method === undefined || m.result === undefined) return undefined;
          const result = filterListResult(method, m.result, access);
          return result === m.result ? undefined : { ...m, result };
        }, waiting ? () => unanswered.size === 0 : undefined);
      } finally {
        clearTimeout(hold);
      }
      if (end.kind === "upstream_failed" && unanswered.size > 0) {
        const failure = classifyUpstreamError(end.error);
        // The stream is under way: each unanswered request gets its error as an event.
        report(res, state, failure, session, true);
        res.write(failureEvents(unanswered, failure));
        res.end();
        return;
      }
    } else if (lists.size > 0 && type.includes("json")) {
      const text = await readAll(response.body, MAX_FILTERED_BYTES);
      let body: unknown;
      try {
        body = text === undefined ? undefined : JSON.parse(text);
      } catch {
        // not JSON after all: passed on as it came
      }
      const filtered = body === undefined ? text : JSON.stringify(
        Array.isArray(body)
          ? body.map((m) => filterOne(m, lists, access))
          : filterOne(body, lists, access),
      );
      if (filtered === undefined) {
        const failure = serverErrorFailure(502, "list result too large to filter");
        return failed(res, state, failure, requests, false, session, false);
      }
      res.writeHead(response.statusCode, headers);
      res.end(filtered);
      return;
    } else {
      const length = header(response.headers, "content-length");
      if (length !== undefined) headers["content-length"] = length;
      res.writeHead(response.statusCode, headers);
      end = await relayRaw(response.body, res);
    }
    if (end.kind === "client_gone") return;
    if (end.kind === "upstream_failed") {
      // A GET stream, or an SSE stream whose requests were all answered: the client reconnects.
      const failure = classifyUpstreamError(end.error);
      logger.warn("upstream stream dropped", {
        peer: state.peer,
        reason: failure.reason,
        cause: failure.cause,
        session,
      });
      health.markDown(failure);
      res.destroy();
      return;
    }
    res.end();
  }

  return {
    async handle(req, res, state, mayCall, body, caller) {
      const method = req.method;
      if (method !== "POST" && method !== "GET" && method !== "DELETE") {
        res.setHeader("allow", "GET, POST, DELETE");
        sendJsonRpcError(res, 405, -32000, `Method "${method}" is not allowed`);
        return;
      }
      const access = accessOf(mayCall);
      const messages = method === "POST" ? jsonRpcMessages(body) : [];
      const denied = firstDenied(messages, access);
      if (denied) {
        const detail = `${denied.what} is not allowed for ${who(state.identity)}`;
        refusals.refuse(res, state, 403, "identity_denied", detail, denied.id);
        return;
      }
      const session = header(req.headers, "mcp-session-id");
      const init = session === undefined
        ? messages.find((m) => m.method === "initialize")
        : undefined;
      let slot;
      if (session !== undefined) {
        const found = bindings.find(session, state);
        if ("status" in found) {
          if (found.reason) refusals.refuse(res, state, found.status, found.reason, found.detail);
          else sendJsonRpcError(res, found.status, -32001, found.detail);
          return;
        }
        res.once("close", bindings.begin(found));
      } else if (init) {
        const reserved = await bindings.reserve(state, req.socket);
        if ("status" in reserved) {
          refusals.refuse(res, state, reserved.status, reserved.reason!, reserved.detail, init.id);
          return;
        }
        if (res.destroyed) {
          // The client left while a shared counter (serve --workers) was asked: no "close" is coming.
          bindings.settle(reserved);
          return;
        }
        slot = reserved;
        res.once("close", () => bindings.settle(reserved));
      }
      const abort = new UpstreamAbort();
      res.once("close", () => {
        if (!res.writableFinished) abort.abort();
      });
      const requests = messages.filter((m) => typeof m.method === "string" && m.id !== undefined);
      const headers = upstreamRequestHeaders(
        // The operator's own extra Authorization header, if any, still goes up.
        dropAuthorization ? { ...req.headers, authorization: undefined } : req.headers,
        extraHeaders,
        caller?.identityHeaders ?? identityHeaders(req.socket as TLSSocket, state.identity),
        caller?.address ?? req.socket.remoteAddress ?? "",
      );
      let response: Dispatcher.ResponseData;
      try {
        response = await upstream.request({
          method,
          headers,
          body: method === "POST" ? JSON.stringify(withIdentity(body, state.identity)) : undefined,
          signal: abort,
        });
      } catch (error) {
        if (abort.aborted) return;
        const failure = classifyUpstreamError(error);
        // A slow answer is no sign of a dead upstream; a slow connect is.
        const down = failure.reason === "upstream_unavailable" ||
          failure.cause === "UND_ERR_CONNECT_TIMEOUT";
        return failed(res, state, failure, requests, Array.isArray(body), session, down);
      }
      const status = response.statusCode;
      if (status >= 500) {
        const text = await readAll(response.body, 4096).catch(() => "");
        const failure = serverErrorFailure(status, text ?? "");
        // 502-504 say the upstream (or a proxy before it) cannot serve; a 500 is one request's failure.
        const down = status >= 502 && status <= 504;
        return failed(res, state, failure, requests, Array.isArray(body), session, down);
      }
      health.markUp();
      const opened = header(response.headers, "mcp-session-id");
      if (slot && opened !== undefined && status < 300) bindings.bind(slot, opened, state);
      if (session !== undefined && (status === 404 || (method === "DELETE" && status < 300))) {
        bindings.forget(session);
      }
      await relay(response, res, state, access, requests, session);
    },
  };
}

function filterOne(message: unknown, lists: Map<unknown, string>, access: Access): unknown {
  if (typeof message !== "object" || message === null) return message;
  const m = message as Record<string, unknown>;
  const method = lists.get(m.id);
  if (method === undefined || m.result === undefined) return message;
  return { ...m, result: filterListResult(method, m.result, access) };
}
