/**
 * `serveMcp`: an MCP Streamable HTTP server over mutual TLS.
 *
 * The steps, each in its own file: options, TLS and policy (server_setup.ts);
 * accepted hosts (server_hosts.ts); per-session SDK servers (server_build.ts,
 * server_sessions.ts, server_stateless.ts); the way of a request
 * (server_route.ts); the listener and admission (server_listen.ts); expiry,
 * reload and health (server_ops.ts); the running server, its reload and
 * close (server_running.ts).
 *
 * @module
 */

import { createMetrics } from "../log/metrics.ts";
import { createServerBuilder } from "./server_build.ts";
import { createHostGuard } from "./server_hosts.ts";
import { listenForMcp } from "./server_listen.ts";
import type { McpServerFactory, ServeMcpOptions } from "./server_options.ts";
import { type ServerOps, startServerOps } from "./server_ops.ts";
import { createRequestRefusals } from "./server_refusals.ts";
import { attachAuthInfo, createRequestRouter } from "./server_route.ts";
import { runningServer } from "./server_running.ts";
import { createSessionStore } from "./server_sessions.ts";
import { clusterMemberOf } from "./session_seams.ts";
import { setUpServer } from "./server_setup.ts";
import { createStatelessHandler } from "./server_stateless.ts";
import type { ObservableMcpServer } from "./server_types.ts";

export type { McpMtlsServer, ObservableMcpServer } from "./server_types.ts";

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
  const { o, tls, policyContext, policy, authorize } = setUpServer(factory, options);
  const { logger } = o;
  const buildServer = createServerBuilder(factory, logger);
  const refusals = createRequestRefusals(logger);
  const cluster = clusterMemberOf(options);
  const sessions = createSessionStore({
    enabled: o.sessions === "stateful",
    ...(cluster
      ? { idPrefix: cluster.sessionIdPrefix, counter: cluster.counter, router: cluster.router }
      : {}),
    maxSessions: o.maxSessions,
    maxSessionsPerIdentity: o.maxSessionsPerIdentity,
    maxSessionsPerConnection: o.maxSessionsPerConnection,
    sessionIdleMs: o.sessionIdleMs,
    jsonResponse: o.jsonResponse,
    logger,
    buildServer,
    refuse: refusals.refuse,
  });
  const hosts = createHostGuard(o, options.tls.cert);
  const metrics = createMetrics({ sessions: () => sessions.size, now: o.now });
  const router = createRequestRouter({
    o,
    hosts,
    authorize,
    refusals,
    metrics,
    handler: o.sessions === "stateless"
      ? createStatelessHandler(buildServer, o.jsonResponse)
      : sessions,
  });

  let listening;
  try {
    listening = await listenForMcp({
      o,
      tls,
      policy,
      pins: options.pins,
      revocation: options.revocation,
      metrics,
      reusePort: cluster?.reusePort,
      gates: cluster?.connections,
      onRequest: router.onRequest,
    });
    // Requests other workers forward to this one's sessions: checked again here.
    await cluster?.attach({
      handle(req, res, state, body) {
        attachAuthInfo(req, state);
        return sessions.handleOwned(
          req,
          res,
          state,
          authorize(state.identity, state.trusted),
          body,
        );
      },
    });
  } catch (e) {
    // The session store's idle sweep is already running: a failed start must not keep the process alive.
    await listening?.listener.close();
    listening?.admission?.close();
    await sessions.close();
    throw e;
  }
  const { listener, admission } = listening;
  hosts.bound(listener.address.port);
  let ops: ServerOps;
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
    await sessions.close();
    throw e;
  }
  return runningServer({
    o,
    tls,
    policy,
    hosts,
    listener,
    admission,
    sessions,
    router,
    metrics,
    ops,
  });
}
