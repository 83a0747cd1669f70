/**
 * `serveGateway`: mutual TLS and MCP-aware authorization in front of any
 * Streamable HTTP MCP server. It is `serveMcp` with the per-session SDK
 * servers replaced by a proxy to the upstream: the same admission (chain
 * policy, pins, revocation, connection limits), the same router (Host and
 * Origin checks, the policy hook, body limits, denied tool calls), the same
 * session limits, metrics, health listener, TLS reload and close.
 *
 * As one worker of `serve --workers N` (a `ClusterMember` on the options),
 * its sessions are counted by the coordinator, and requests for sessions
 * bound on another worker go there (session_route.ts says why).
 *
 * @module
 */

import { ConfigError } from "../errors.ts";
import { createMetrics } from "../log/metrics.ts";
import { type HealthServer, startHealthServer } from "../mcp/health.ts";
import { createHostGuard } from "../mcp/server_hosts.ts";
import { listenForMcp } from "../mcp/server_listen.ts";
import type { ServeMcpOptions } from "../mcp/server_options.ts";
import { type ServerOps, startServerOps } from "../mcp/server_ops.ts";
import { createRequestRefusals } from "../mcp/server_refusals.ts";
import { createRequestRouter } from "../mcp/server_route.ts";
import { runningServer } from "../mcp/server_running.ts";
import { clusterMemberOf } from "../mcp/session_seams.ts";
import { setUpServer } from "../mcp/server_setup.ts";
import type { ObservableMcpServer } from "../mcp/server_types.ts";
import { createGatewayHandler } from "./proxy.ts";
import { createSessionBindings } from "./session_bindings.ts";
import { routeToOwner } from "./session_route.ts";
import { createUpstreamClient, type UpstreamClient } from "./upstream_client.ts";
import { createUpstreamHealth } from "./upstream_health.ts";
import { resolveUpstreamOptions, type UpstreamOptions } from "./upstream_options.ts";

/**
 * Options of {@link serveGateway}: those of `serveMcp`. `sessions` and
 * `jsonResponse` may only keep their defaults: the upstream decides both.
 *
 * @example
 * ```ts ignore
 * const options: GatewayOptions = { tls: { cert, key, ca }, port: 8443 };
 * ```
 */
export type GatewayOptions = ServeMcpOptions;

/** A factory `setUpServer` checks; the gateway builds no SDK server. */
const NO_FACTORY = () => {
  throw new Error("the gateway builds no MCP server");
};

/** Ms a session's DELETE at the upstream may take when the gateway ends it. */
const END_SESSION_MS = 2_000;

/**
 * Serves MCP over mutual TLS in front of the Streamable HTTP MCP server at
 * `upstream` (see {@link UpstreamOptions}). Callers are admitted exactly as
 * by `serveMcp`; each upstream session is bound to the certificate that
 * opened it; `authorization` rules filter tools, resources and prompts; the
 * upstream learns the caller from `params._meta["io.github.mcp-mtls/identity"]`
 * and the `Client-Cert`, `Client-Cert-Chain` and `Mcp-Mtls-Identity` headers.
 * With `health`, `/healthz` also reports the upstream (503 `degraded` while
 * it is unreachable).
 *
 * @throws {ConfigError} for bad options (naming the key), `RuntimeError` on Deno older than 2.9
 *
 * @example In front of a local MCP server
 * ```ts ignore
 * import { serveGateway } from "@mtls/mcp/gateway";
 * const gateway = await serveGateway("http://127.0.0.1:3000/mcp", {
 *   tls: { cert, key, ca },
 *   port: 8443,
 *   authorization: { rules: [{ identity: "cn:alice", tools: ["*"], resources: ["*"], prompts: ["*"] }] },
 * });
 * console.log(gateway.url);
 * await gateway.close();
 * ```
 */
export async function serveGateway(
  upstream: UpstreamOptions | string,
  options: GatewayOptions,
): Promise<ObservableMcpServer> {
  // Their defaults are what a gateway does; anything else is the upstream's to decide.
  const given = options as ServeMcpOptions;
  if (given?.sessions === "stateless" || given?.jsonResponse === true) {
    const key = given.sessions === "stateless" ? "sessions" : "jsonResponse";
    throw new ConfigError(
      `Option "${key}" does not apply to a gateway: the upstream MCP server decides it`,
      { key },
    );
  }
  const { o, tls, policyContext, policy, authorize } = setUpServer(NO_FACTORY, options);
  const { logger } = o;
  const resolved = resolveUpstreamOptions(upstream);
  const client = createUpstreamClient(resolved, logger);
  const { headers: extraHeaders } = resolved;
  const health = createUpstreamHealth({
    url: client.url,
    logger,
    probe: () => probe(client, extraHeaders),
  });
  const cluster = clusterMemberOf(options);
  const bindings = createSessionBindings({
    ...(cluster ? { counter: cluster.counter } : {}),
    maxSessions: o.maxSessions,
    maxSessionsPerIdentity: o.maxSessionsPerIdentity,
    maxSessionsPerConnection: o.maxSessionsPerConnection,
    sessionIdleMs: o.sessionIdleMs,
    logger,
    endUpstream: (id) => endSession(client, extraHeaders, id),
  });
  const refusals = createRequestRefusals(logger);
  const hosts = createHostGuard(o, options.tls.cert);
  const metrics = createMetrics({ sessions: () => bindings.size, now: o.now });
  const handler = createGatewayHandler({
    upstream: client,
    extraHeaders,
    bindings,
    health,
    refusals,
    logger,
    dropAuthorization: o.auth !== undefined && !o.auth.options.forwardAuthorization,
  });
  const router = createRequestRouter({
    o,
    hosts,
    authorize,
    refusals,
    metrics,
    handler: cluster ? routeToOwner(handler, bindings, cluster.router, refusals) : handler,
  });
  const stopUpstream = async () => {
    health.close();
    await bindings.close();
    await client.close();
  };

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
    // Requests other workers forward to this one's sessions: authorized again, never forwarded again.
    await cluster?.attach({
      handle: (req, res, state, body, caller) =>
        handler.handle(req, res, state, authorize(state.identity, state.trusted), body, caller),
    });
  } catch (e) {
    await listening?.listener.close();
    listening?.admission?.close();
    await stopUpstream();
    throw e;
  }
  const { listener, admission } = listening;
  hosts.bound(listener.address.port);
  let ops: ServerOps;
  let healthServer: HealthServer | undefined;
  try {
    // The health listener is the gateway's own: it also reports the upstream.
    ops = await startServerOps({
      options: { ...o, health: undefined },
      tls: options.tls,
      context: policyContext,
      listener,
      metrics,
      revocation: options.revocation !== undefined,
    });
    if (o.health) {
      healthServer = await startHealthServer(
        o.health,
        () => metrics.snapshot(),
        logger,
        health.detail,
      ).catch(async (e) => {
        await ops.close();
        throw e;
      });
    }
  } catch (e) {
    await listener.close();
    admission?.close();
    await stopUpstream();
    throw e;
  }
  logger.info("proxying to the upstream MCP server", {
    upstream: client.url,
    tls: resolved.tls,
    pinned: resolved.pins !== undefined,
  });
  return runningServer({
    o: { ...o, sessions: "stateful" },
    tls,
    policy,
    hosts,
    listener,
    admission,
    sessions: bindings,
    router,
    metrics,
    ops: {
      reloadTls: ops.reloadTls,
      healthUrl: healthServer?.url,
      draining() {
        ops.draining();
        healthServer?.draining();
      },
      async close() {
        await ops.close();
        await healthServer?.close();
        health.close();
        await client.close();
      },
    },
  });
}

/** Resolves when the upstream answers at all (anything but 502-504). */
async function probe(client: UpstreamClient, extra: Record<string, string>): Promise<void> {
  const response = await client.request({
    method: "GET",
    headers: { ...extra, accept: "text/event-stream" },
    headersTimeoutMs: 5_000,
  });
  response.body.destroy();
  if (response.statusCode >= 502 && response.statusCode <= 504) {
    throw new Error(`HTTP ${response.statusCode}`);
  }
}

/** Ends a session at the upstream (DELETE); failures are left to the upstream's own expiry. */
async function endSession(
  client: UpstreamClient,
  extra: Record<string, string>,
  id: string,
): Promise<void> {
  try {
    const response = await client.request({
      method: "DELETE",
      headers: { ...extra, "mcp-session-id": id },
      headersTimeoutMs: END_SESSION_MS,
    });
    await response.body.dump();
  } catch {
    // the upstream is gone or slow: its own idle timeout ends the session
  }
}
