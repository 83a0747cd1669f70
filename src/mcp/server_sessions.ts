/**
 * Stateful MCP sessions: one SDK transport and `McpServer` per session, each
 * bound to the client certificate (fingerprint) that opened it, closed when
 * idle for too long.
 *
 * @module
 */

import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { Logger } from "../log/logger.ts";
import type { ToolPermission } from "../policy/authorization.ts";
import { identityLabel } from "../policy/identity.ts";
import type { PeerState } from "../tls/server.ts";
import { jsonRpcMessages, sendJsonRpcError } from "./server_http.ts";

interface Session {
  transport: StreamableHTTPServerTransport;
  server: McpServer;
  fingerprint?: string;
  /** `performance.now()` when the last request in this session started. */
  lastSeen: number;
}

/** Options of {@link createSessionStore}. */
export interface SessionStoreOptions {
  /** False in stateless mode: no sweep timer is started. */
  enabled: boolean;
  /** Most open sessions; more are refused with `rate_limited`. */
  maxSessions: number;
  /** Idle time after which a session is closed. */
  sessionIdleMs: number;
  /** Answer POSTed requests with one JSON body instead of an SSE stream (`enableJsonResponse`). */
  jsonResponse: boolean;
  /** Logger. */
  logger: Logger;
  /** Builds the SDK server of a new session (tools already filtered). */
  buildServer(state: PeerState, mayCall: ToolPermission): Promise<McpServer>;
  /** Logs a refusal once and answers it. */
  refuse(
    res: ServerResponse,
    state: PeerState,
    status: number,
    reason: string,
    detail: string,
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
  /** Closes every session and stops the sweep timer. */
  close(): Promise<void>;
}

/**
 * Creates the session store.
 *
 * @example
 * ```ts ignore
 * const sessions = createSessionStore({ enabled: true, maxSessions: 1000, sessionIdleMs: 1_800_000, jsonResponse: false, logger, buildServer, refuse });
 * ```
 */
export function createSessionStore(options: SessionStoreOptions): SessionStore {
  const { maxSessions, sessionIdleMs, jsonResponse, logger, buildServer, refuse } = options;
  const sessions = new Map<string, Session>();
  const sweep = options.enabled
    ? setInterval(() => {
      const cutoff = performance.now() - sessionIdleMs;
      for (const [id, s] of sessions) {
        if (s.lastSeen < cutoff) {
          logger.info("session expired", { session: id, idleMs: sessionIdleMs });
          sessions.delete(id);
          s.transport.close().catch(() => {});
        }
      }
    }, Math.min(Math.max(sessionIdleMs / 2, 10), 60_000))
    : undefined;

  async function open(
    req: IncomingMessage,
    res: ServerResponse,
    state: PeerState,
    mayCall: ToolPermission,
    body: unknown,
  ) {
    if (sessions.size >= maxSessions) {
      refuse(res, state, 503, "rate_limited", `More than ${maxSessions} open sessions`);
      return;
    }
    const server = await buildServer(state, mayCall);
    const fingerprint = state.identity?.fingerprint;
    const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: jsonResponse,
      onsessioninitialized: (id: string) => {
        sessions.set(id, { transport, server, fingerprint, lastSeen: performance.now() });
        logger.info("session opened", {
          peer: state.peer,
          session: id,
          client: state.identity ? identityLabel(state.identity) : "anonymous",
        });
      },
    });
    let closed = false;
    transport.onclose = () => {
      if (closed) return;
      closed = true;
      const id = transport.sessionId;
      if (id && sessions.delete(id)) logger.info("session closed", { session: id });
      server.close().catch(() => {});
    };
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  return {
    get size() {
      return sessions.size;
    },
    async handle(req, res, state, mayCall, body) {
      const header = req.headers["mcp-session-id"];
      const sessionId = Array.isArray(header) ? header[0] : header;
      if (!sessionId) {
        const isInitialize = req.method === "POST" &&
          jsonRpcMessages(body).some((m) => m.method === "initialize");
        if (isInitialize) return await open(req, res, state, mayCall, body);
        sendJsonRpcError(res, 400, -32000, "Bad Request: no valid session ID provided");
        return;
      }
      const session = sessions.get(sessionId);
      if (!session) {
        sendJsonRpcError(res, 404, -32001, "Session not found");
        return;
      }
      if (session.fingerprint !== state.identity?.fingerprint) {
        const detail = `Session "${sessionId}" belongs to another client certificate`;
        refuse(res, state, 403, "identity_denied", detail);
        return;
      }
      session.lastSeen = performance.now();
      await session.transport.handleRequest(req, res, body);
    },
    async close() {
      clearInterval(sweep);
      const open = [...sessions.values()];
      sessions.clear();
      await Promise.allSettled(open.map((s) => s.transport.close()));
      await Promise.allSettled(open.map((s) => s.server.close()));
    },
  };
}
