/**
 * `serveMcp`: an MCP Streamable HTTP server over mutual TLS.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { AuthInfo } from "@modelcontextprotocol/sdk/server/auth/types.js";
import { ConfigError, isMtlsError } from "../errors.ts";
import { compileAuthorization, type ToolPermission } from "../policy/authorization.ts";
import { identityLabel } from "../policy/identity.ts";
import { createMetrics } from "../log/metrics.ts";
import { compilePolicy } from "../policy/policy.ts";
import { assertSupportedRuntime } from "../tls/runtime_check.ts";
import { listenMtls, type PeerState } from "../tls/server/listener.ts";
import { createServerAdmission } from "../tls/server/admission.ts";
import { resolveTlsServerOptions } from "../tls/server/options.ts";
import { deniedToolCall, readBody, sendJsonRpcError } from "./server_http.ts";
import { invalidParams } from "./server_params.ts";
import {
  type McpServerFactory,
  resolveServeOptions,
  type ServeMcpOptions,
} from "./server_options.ts";
import { startServerOps } from "./server_ops.ts";
import { compileHostCheck } from "./host_check.ts";
import type { ObservableMcpServer } from "./server_types.ts";
import { hideDeniedTools } from "./server_tools.ts";
import { createSessionStore } from "./server_sessions.ts";
import { STDIO_BRIDGE } from "./bridge_session.ts";

export type { McpMtlsServer, ObservableMcpServer } from "./server_types.ts";

const DENIED = -32001;

/** How long a refused upload may go on after its 413, so the client reads the 413 first. */
const LINGER_MS = 500;

/**
 * Makes the HTTP server's close of `socket` (after a 413 with `connection:
 * close`) a lingering close: half-close, drop whatever the client is still
 * uploading for up to {@link LINGER_MS}, then destroy. Destroying at once
 * while a client still uploads resets the connection, and the reset can reach
 * the client before it has read the 413 (measured: curl without `Expect`
 * then sees "Send failure: Broken pipe" and no status, 1 run in 6 under load).
 */
function lingerOnClose(socket: Socket): void {
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

/**
 * Serves MCP (Streamable HTTP) over HTTPS with client certificates. Each
 * session gets its own `McpServer` from `factory`; tool handlers see the
 * caller's certificate identity as `extra.authInfo.extra.identity`.
 *
 * Refuses to start on Deno older than 2.9 (`RuntimeError`) and on
 * contradictory options (`ConfigError` naming the key), among them
 * `jsonResponse: true` with a stdio bridge factory (`createStdioBridge`).
 *
 * @example A server with one tool
 * ```ts ignore
 * import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
 * import { serveMcp } from "@mtls/mcp/mcp";
 *
 * const server = await serveMcp(() => {
 *   const mcp = new McpServer({ name: "hello", version: "1.0.0" });
 *   mcp.registerTool("hello", {}, (_args, extra) => ({
 *     content: [{ type: "text", text: `hello ${extra.authInfo?.clientId}` }],
 *   }));
 *   return mcp;
 * }, { tls: { cert, key, ca }, port: 8443 });
 * console.log(server.url);
 * ```
 */
export async function serveMcp(
  factory: McpServerFactory,
  options: ServeMcpOptions,
): Promise<ObservableMcpServer> {
  assertSupportedRuntime();
  const o = resolveServeOptions(options);
  if (o.jsonResponse && (factory as { [STDIO_BRIDGE]?: boolean })[STDIO_BRIDGE]) {
    throw new ConfigError(
      'Option "jsonResponse" cannot be true with a stdio bridge: the SDK would drop the notifications and requests (progress, logs, sampling, elicitation) the child sends during a call',
      { key: "jsonResponse" },
    );
  }
  const tls = resolveTlsServerOptions(options.tls);
  const policyContext = {
    policy: options.policy ?? "strict",
    maxChainDepth: options.maxChainDepth,
    now: options.now,
  };
  const policy = compilePolicy(policyContext.policy, { ca: tls.ca, ...policyContext });
  const authorize = compileAuthorization(options.authorization);
  const { logger } = o;
  const permissions = new WeakMap<PeerState, ToolPermission>();
  const inFlight = new Set<Promise<void>>();
  let warnedNoToolTable = false;

  if (policy.acceptsUntrusted) {
    logger.warn(
      "DEMO POLICY IN EFFECT: self-signed and unknown-CA client certificates are ACCEPTED. Never use this in production.",
      { policy: "demo" },
    );
  }
  if (tls.clientAuth !== "require") {
    logger.warn(
      `Client authentication is "${tls.clientAuth}": clients without a certificate are admitted`,
      {
        clientAuth: tls.clientAuth,
      },
    );
  }

  const refuseRequest = (
    res: ServerResponse,
    state: PeerState,
    status: number,
    reason: string,
    detail: string,
    id?: unknown,
  ) => {
    logger.warn("request refused", { peer: state.peer, reason, detail });
    refusedBy.set(res, reason);
    sendJsonRpcError(res, status, DENIED, detail, { reason, id });
  };

  async function buildServer(state: PeerState, mayCall: ToolPermission): Promise<McpServer> {
    const server = await factory({ identity: state.identity, mayCall });
    // A bridged stdio session (createStdioBridge) is no McpServer: it filters tools/list itself.
    const isSdkServer = typeof (server as Partial<McpServer>).registerTool === "function";
    if (isSdkServer && hideDeniedTools(server, mayCall) === undefined && !warnedNoToolTable) {
      warnedNoToolTable = true;
      logger.warn(
        "Cannot find the SDK tool table: tools/list is not filtered (tools/call still is)",
      );
    }
    return server;
  }

  const refusedBy = new WeakMap<ServerResponse, string>();
  const sessions = createSessionStore({
    enabled: o.sessions === "stateful",
    maxSessions: o.maxSessions,
    maxSessionsPerIdentity: o.maxSessionsPerIdentity,
    maxSessionsPerConnection: o.maxSessionsPerConnection,
    sessionIdleMs: o.sessionIdleMs,
    jsonResponse: o.jsonResponse,
    logger,
    buildServer,
    refuse: refuseRequest,
  });

  // DNS-rebinding protection (host_check.ts). The port is the bound one once listening.
  let listenPort = o.port;
  const compileHosts = (cert: string) => {
    const { hostname, allowedHosts, allowedOrigins } = o;
    const check = compileHostCheck({
      hostname,
      port: () => listenPort,
      cert,
      allowedHosts,
      allowedOrigins,
    });
    for (const warning of check.warnings) logger.warn(warning, { allowedHosts, allowedOrigins });
    return check;
  };
  let hostCheck = compileHosts(options.tls.cert);

  async function handle(req: IncomingMessage, res: ServerResponse, state: PeerState) {
    // First, on every path: a rebound browser request learns nothing, not even a 404.
    const misdirected = hostCheck.check(req.rawHeaders);
    if (misdirected) {
      refuseRequest(res, state, 403, "origin_denied", misdirected.message);
      return;
    }
    const path = (req.url ?? "/").split("?")[0];
    if (path !== o.path) {
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
      refusedBy.set(res, hookRefusal.reason);
      sendJsonRpcError(res, 403, DENIED, hookRefusal.message, { reason: hookRefusal.reason });
      return;
    }
    let mayCall = permissions.get(state);
    if (!mayCall) {
      mayCall = authorize(state.identity, state.trusted);
      permissions.set(state, mayCall);
    }
    let body: unknown;
    if (req.method === "POST") {
      const bytes = await readBody(req, o.maxBodyBytes);
      if (!bytes) {
        logger.warn("request refused", {
          peer: state.peer,
          reason: "rate_limited",
          detail: `Request body larger than ${o.maxBodyBytes} bytes`,
        });
        refusedBy.set(res, "rate_limited");
        lingerOnClose(req.socket);
        sendJsonRpcError(res, 413, -32600, `Request body larger than ${o.maxBodyBytes} bytes`, {
          close: true,
        });
        return;
      }
      try {
        body = JSON.parse(new TextDecoder().decode(bytes));
      } catch {
        sendJsonRpcError(res, 400, -32700, "Parse error: request body is not JSON");
        return;
      }
      // The params read below (tool name) and by the session store (initialize) must be
      // well formed first: a malformed one is the client's error (400), never a 500.
      const invalid = invalidParams(body);
      if (invalid) {
        sendJsonRpcError(res, 400, -32602, invalid.message, { id: invalid.id });
        return;
      }
      // Checked here, before the SDK sees the call, so a denied call is refused with
      // identity_denied even for a tool the SDK would report as unknown.
      const denied = deniedToolCall(body, mayCall);
      if (denied) {
        const who = state.identity ? identityLabel(state.identity) : "an anonymous client";
        const detail = `Tool "${denied.params?.name}" is not allowed for ${who}`;
        refuseRequest(res, state, 403, "identity_denied", detail, denied.id);
        return;
      }
    }
    (req as IncomingMessage & { auth?: AuthInfo }).auth = {
      token: "",
      clientId: state.identity ? identityLabel(state.identity) : "anonymous",
      scopes: [],
      extra: { identity: state.identity, trusted: state.trusted, peer: state.peer },
    };
    if (o.sessions === "stateless") return await handleStateless(req, res, state, mayCall, body);
    return await sessions.handle(req, res, state, mayCall, body);
  }

  async function handleStateless(
    req: IncomingMessage,
    res: ServerResponse,
    state: PeerState,
    mayCall: ToolPermission,
    body: unknown,
  ) {
    const server = await buildServer(state, mayCall);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: o.jsonResponse,
    });
    res.on("close", () => {
      transport.close().catch(() => {});
      server.close().catch(() => {});
    });
    await server.connect(transport);
    await transport.handleRequest(req, res, body);
  }

  const metrics = createMetrics({ sessions: () => sessions.size, now: o.now });
  const admission = await createServerAdmission({
    pins: options.pins,
    revocation: options.revocation,
    ca: tls.ca,
    logger,
  });
  let listener;
  try {
    listener = await listenMtls({
      hostname: o.hostname,
      port: o.port,
      tls,
      policy,
      handshakeTimeoutMs: o.handshakeTimeoutMs,
      maxConnections: o.maxConnections,
      maxConnectionsPerAddress: o.maxConnectionsPerAddress,
      connectionsPerAddress: o.connectionsPerAddress,
      connectionsPerIdentity: o.connectionsPerIdentity,
      headersTimeoutMs: o.headersTimeoutMs,
      requestTimeoutMs: o.requestTimeoutMs,
      admission,
      idleTimeoutMs: o.idleTimeoutMs,
      logger,
      metrics,
      detailedTls: o.detailedTls,
      maxBodyBytes: o.maxBodyBytes,
      onRequest(req, res, state) {
        res.once("close", () => metrics.request(res.statusCode, refusedBy.get(res)));
        const p = handle(req, res, state).catch((cause) => {
          // The listener answered 408 and logged the refusal; the body read failed with it.
          if (isMtlsError(cause, "request_timeout")) return;
          logger.error("request failed", { peer: state.peer, error: String(cause) });
          sendJsonRpcError(res, 500, -32603, "Internal error");
        });
        inFlight.add(p);
        p.finally(() => inFlight.delete(p));
      },
    });
  } catch (e) {
    admission?.close();
    throw e;
  }
  listenPort = listener.address.port;
  let ops;
  try {
    ops = await startServerOps({
      options: o,
      tls: options.tls,
      context: policyContext,
      listener,
      metrics,
      revocation: options.revocation !== undefined,
    });
  } catch (e) {
    await listener.close();
    admission?.close();
    throw e;
  }
  const { port } = listener.address;
  const host = o.hostname.includes(":") ? `[${o.hostname}]` : o.hostname;
  const url = `https://${host}:${port}${o.path}`;
  if (o.jsonResponse) {
    // Not a weakening, so info: but operators should know notifications during a call are dropped.
    logger.info(
      "JSON responses: each POSTed request is answered with one application/json body; notifications and requests sent during a call are dropped",
      { jsonResponse: true },
    );
  }
  logger.info("listening", {
    url,
    policy: policy.name,
    clientAuth: tls.clientAuth,
    sessions: o.sessions,
    allowedHosts: hostCheck.hosts,
  });

  let closing: Promise<void> | undefined;
  return {
    address: listener.address,
    url,
    get sessionCount() {
      return sessions.size;
    },
    healthUrl: ops.healthUrl,
    metrics: () => metrics.snapshot(),
    async reloadTls(material) {
      await ops.reloadTls(material);
      // A new certificate may name new hosts (or drop some).
      if (material.cert !== undefined) hostCheck = compileHosts(material.cert);
    },
    close() {
      closing ??= (async () => {
        ops.draining();
        await sessions.close();
        await listener.close();
        admission?.close();
        await Promise.allSettled([...inFlight]);
        await ops.close();
      })();
      return closing;
    },
  };
}
