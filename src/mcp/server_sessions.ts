/**
 * Stateful MCP sessions: one SDK transport and `McpServer` per session, each
 * bound to the client certificate (fingerprint) that opened it, counted per
 * identity, per connection and overall ({@link createSessionLedger}), and
 * closed when idle for too long. A session is idle only while none of its
 * requests is in flight: an open GET stream keeps it alive.
 *
 * @module
 */

import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
// The SDK's types by their path without ".js": see tests/publish/types_test.ts.
// @ts-types="@modelcontextprotocol/sdk/server/mcp"
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
// @ts-types="@modelcontextprotocol/sdk/server/streamableHttp"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { Logger } from "../log/logger.ts";
import type { ToolPermission } from "../policy/authorization.ts";
import { identityLabel } from "../policy/identity.ts";
import type { PeerState } from "../tls/server/listener.ts";
import { jsonRpcMessages, sendJsonRpcError } from "./server_http.ts";
import { createSessionLedger, type SessionLimit, type SessionSlot } from "./session_ledger.ts";
import type { SessionCounter, SessionRouter } from "./session_seams.ts";

export type { SessionCounter, SessionRouter } from "./session_seams.ts";

interface Session {
  transport: StreamableHTTPServerTransport;
  server: McpServer;
  fingerprint?: string;
  slot: SessionSlot;
}

/** Options of {@link createSessionStore}. */
export interface SessionStoreOptions {
  /** False in stateless mode: no sweep timer is started. */
  enabled: boolean;
  /** Most open sessions; at the cap an idle session of the biggest holder gives way, else 503 `rate_limited`. */
  maxSessions: number;
  /** Most open sessions of one identity; at the cap its least recently used idle one gives way, else 429 `rate_limited`. */
  maxSessionsPerIdentity: number;
  /** Most open sessions opened on one connection; more are refused (429 `rate_limited`). */
  maxSessionsPerConnection: number;
  /** Idle time (no request in flight, no GET stream) after which a session is closed. */
  sessionIdleMs: number;
  /** Answer POSTed requests with one JSON body instead of an SSE stream (`enableJsonResponse`). */
  jsonResponse: boolean;
  /** Logger. */
  logger: Logger;
  /** Builds the SDK server of a new session (tools already filtered). */
  buildServer(state: PeerState, mayCall: ToolPermission): Promise<McpServer>;
  /**
   * Prefix of every session id this store makes, so that with
   * `serve --workers N` a session id says which worker holds it. @default {""}
   */
  idPrefix?: string;
  /**
   * Counts the sessions instead of a ledger of this store's own: with
   * `serve --workers N`, one shared by every worker, so the limits hold
   * across them. It calls `evict` when it closes a session to make room
   * (`limit`) or because it was idle too long (`"idle"`).
   * @default {a `createSessionLedger` of this store}
   */
  counter?(evict: (slot: SessionSlot, why: SessionLimit | "idle") => void): SessionCounter;
  /**
   * Where a request for a session id this store does not hold goes (another
   * worker's session); without it, such a request is answered 404.
   * @default {none}
   */
  router?: SessionRouter;
  /** Logs a refusal once and answers it. */
  refuse(
    res: ServerResponse,
    state: PeerState,
    status: number,
    reason: string,
    detail: string,
    id?: unknown,
  ): void;
}

/** The open sessions. */
export interface SessionStore {
  /** Number of open sessions. */
  readonly size: number;
  /** Routes one request: to its session, or opens one on `initialize`. */
  handle(
    req: IncomingMessage,
    res: ServerResponse,
    state: PeerState,
    mayCall: ToolPermission,
    body: unknown,
  ): Promise<void>;
  /**
   * Like `handle`, for a request another worker forwarded here (its session
   * id names this store): never forwarded again, 404 when not held here.
   */
  handleOwned(
    req: IncomingMessage,
    res: ServerResponse,
    state: PeerState,
    mayCall: ToolPermission,
    body: unknown,
  ): Promise<void>;
  /** Closes every session and stops the sweep timer. */
  close(): Promise<void>;
}

/**
 * Whose sessions these are, for the limits. A trusted certificate: its
 * fingerprint, the same key a session is bound to, so a certificate can
 * only ever displace sessions that it alone could use (and each instance
 * with its own certificate, as SPIFFE issues them, has its own quota). An
 * anonymous peer, or a certificate no trusted CA vouches for (demo policy:
 * anyone can mint more), proves nothing: it shares the quota of its address,
 * as the connection limits do. `label` names the owner in messages and logs.
 */
function ownerOf(state: PeerState): { key: string; label: string } {
  if (state.identity && state.trusted) {
    return { key: `sha256:${state.identity.fingerprint}`, label: identityLabel(state.identity) };
  }
  const colon = state.peer.lastIndexOf(":");
  const address = colon > 0 ? state.peer.slice(0, colon) : state.peer;
  return { key: `address:${address}`, label: `address ${address}` };
}

/**
 * Creates the session store.
 *
 * @example
 * ```ts ignore
 * const sessions = createSessionStore({
 *   enabled: true, maxSessions: 1000, maxSessionsPerIdentity: 16, maxSessionsPerConnection: 16,
 *   sessionIdleMs: 600_000, jsonResponse: false, logger, buildServer, refuse,
 * });
 * ```
 */
export function createSessionStore(options: SessionStoreOptions): SessionStore {
  const { sessionIdleMs, jsonResponse, logger, buildServer, refuse } = options;
  const sessions = new Map<string, Session>();

  /** Forgets a session the ledger released and closes it (its onclose then finds nothing to do). */
  function drop(slot: SessionSlot, msg: string, fields: Record<string, unknown>) {
    const session = slot.id === undefined ? undefined : sessions.get(slot.id);
    if (!session) return;
    sessions.delete(slot.id!);
    logger.info(msg, { session: slot.id, client: slot.label, ...fields });
    session.transport.close().catch(() => {});
  }

  const { idPrefix = "", router } = options;
  const ledger: SessionCounter = options.counter
    ? options.counter((slot, why) =>
      why === "idle"
        ? drop(slot, "session expired", { idleMs: sessionIdleMs })
        : drop(slot, "session evicted", { limit: why })
    )
    : createSessionLedger({
      maxSessions: options.maxSessions,
      maxSessionsPerIdentity: options.maxSessionsPerIdentity,
      maxSessionsPerConnection: options.maxSessionsPerConnection,
      evict: (slot, limit) => drop(slot, "session evicted", { limit }),
    });
  const sweep = options.enabled
    ? setInterval(() => {
      for (const slot of ledger.idleSince(performance.now() - sessionIdleMs)) {
        ledger.release(slot);
        drop(slot, "session expired", { idleMs: sessionIdleMs });
      }
    }, Math.min(Math.max(sessionIdleMs / 2, 10), 60_000))
    : undefined;

  async function open(
    req: IncomingMessage,
    res: ServerResponse,
    state: PeerState,
    mayCall: ToolPermission,
    body: unknown,
    id: unknown,
  ) {
    const owner = ownerOf(state);
    const slot = await ledger.reserve(owner.key, req.socket, owner.label);
    if ("status" in slot) {
      refuse(res, state, slot.status, slot.reason ?? "rate_limited", slot.detail, id);
      return;
    }
    if (res.destroyed) {
      // The client left while a shared counter was being asked: no "close" is coming.
      ledger.release(slot);
      return;
    }
    // Set once built; the close handler below is registered first.
    const built: { session?: Session } = {};
    // Counted from now, so concurrent initializes cannot overshoot a limit while this one builds.
    res.once("close", () => {
      ledger.end(slot);
      // Refused by the SDK (or the client left) before the session existed: give the place back.
      if (slot.id === undefined && ledger.release(slot)) {
        built.session?.transport.close().catch(() => {});
      }
    });
    const server = await buildServer(state, mayCall);
    if (slot.released) {
      // The client went away while its server was being built.
      await server.close();
      return;
    }
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => idPrefix + randomUUID(),
      enableJsonResponse: jsonResponse,
      onsessioninitialized: (sid: string) => {
        if (slot.released) {
          // The client went away before the SDK got here.
          queueMicrotask(() => transport.close().catch(() => {}));
          return;
        }
        slot.id = sid;
        sessions.set(sid, session);
        ledger.named?.(slot, state.identity?.fingerprint);
        logger.info("session opened", {
          peer: state.peer,
          session: sid,
          client: state.identity ? identityLabel(state.identity) : "anonymous",
        });
      },
    });
    const session: Session = { transport, server, fingerprint: state.identity?.fingerprint, slot };
    built.session = session;
    let closed = false;
    transport.onclose = () => {
      if (closed) return;
      closed = true;
      const sid = transport.sessionId;
      ledger.release(slot);
      if (sid && sessions.get(sid) === session) {
        sessions.delete(sid);
        logger.info("session closed", { session: sid });
      }
      server.close().catch(() => {});
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    state: PeerState,
    mayCall: ToolPermission,
    body: unknown,
    forwarded: boolean,
  ) {
    const header = req.headers["mcp-session-id"];
    const sessionId = Array.isArray(header) ? header[0] : header;
    if (!sessionId) {
      const init = req.method === "POST"
        ? jsonRpcMessages(body).find((m) => m.method === "initialize")
        : undefined;
      if (init) return await open(req, res, state, mayCall, body, init.id);
      sendJsonRpcError(res, 400, -32000, "Bad Request: no valid session ID provided");
      return;
    }
    const session = sessions.get(sessionId);
    if (!session && router && !forwarded && !sessionId.startsWith(idPrefix)) {
      const routed = await router.forward(sessionId, req, res, state, body);
      if (routed === undefined) return;
      if (routed !== "missing") {
        refuse(res, state, routed.status, routed.reason, routed.detail);
        return;
      }
    }
    if (!session) {
      sendJsonRpcError(res, 404, -32001, "Session not found");
      return;
    }
    if (session.fingerprint !== state.identity?.fingerprint) {
      const detail = `Session "${sessionId}" belongs to another client certificate`;
      refuse(res, state, 403, "identity_denied", detail);
      return;
    }
    // Busy until the response ends: a GET stream keeps its session from being idle.
    ledger.begin(session.slot);
    res.once("close", () => ledger.end(session.slot));
    await session.transport.handleRequest(req, res, body);
  }

  return {
    get size() {
      return sessions.size;
    },
    handle: (req, res, state, mayCall, body) => handle(req, res, state, mayCall, body, false),
    handleOwned: (req, res, state, mayCall, body) => handle(req, res, state, mayCall, body, true),
    async close() {
      clearInterval(sweep);
      const open = [...sessions.values()];
      sessions.clear();
      await Promise.allSettled(open.map((s) => s.transport.close()));
      await Promise.allSettled(open.map((s) => s.server.close()));
    },
  };
}
