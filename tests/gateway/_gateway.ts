/**
 * Helpers of the gateway tests: a gateway with a collecting logger in front
 * of an upstream, and raw POSTs that show the wire.
 */

import { serveGateway } from "../../src/gateway/serve_gateway.ts";
import type { GatewayOptions } from "../../src/gateway/serve_gateway.ts";
import type { UpstreamOptions } from "../../src/gateway/upstream_options.ts";
import type { ObservableMcpServer } from "../../src/mcp/server_types.ts";
import type { TlsServerOptions } from "../../src/tls/server/options.ts";
import {
  collectingLogger,
  type Credential,
  type Fixtures,
  INITIALIZE,
  rawPost,
} from "../server/_fixtures.ts";

/** Starts a gateway on an ephemeral port in front of `upstream`. */
export async function startGateway(
  fx: Fixtures,
  upstream: UpstreamOptions | string,
  options: Omit<Partial<GatewayOptions>, "tls"> & { tls?: Partial<TlsServerOptions> } = {},
): Promise<{ gateway: ObservableMcpServer; log: ReturnType<typeof collectingLogger> }> {
  const log = collectingLogger();
  const gateway = await serveGateway(upstream, {
    port: 0,
    logger: log,
    ...options,
    tls: { cert: fx.server.cert, key: fx.server.key, ca: fx.ca, ...options.tls },
  });
  return { gateway, log };
}

/** JSON-RPC messages of a response body: JSON (one or a batch) or SSE `data:` lines. */
export function messagesOf(text: string): Record<string, unknown>[] {
  const t = text.trim();
  if (t === "") return [];
  if (t.startsWith("{") || t.startsWith("[")) {
    const v = JSON.parse(t);
    return Array.isArray(v) ? v : [v];
  }
  return t.split("\n").filter((l) => l.startsWith("data: ") && l.length > 6)
    .flatMap((l) => {
      const v = JSON.parse(l.slice(6));
      return Array.isArray(v) ? v : [v];
    });
}

/** A POST through the gateway presenting `cred`: status, headers and the JSON-RPC messages. */
export async function post(
  fx: Fixtures,
  url: string,
  cred: Credential | undefined,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; messages: Record<string, unknown>[] }> {
  const r = await rawPost(fx, url, cred, body, headers);
  return { status: r.status, headers: r.headers, messages: messagesOf(r.text) };
}

/** Opens a session as `cred` (initialize + initialized); returns its id. */
export async function openSession(fx: Fixtures, url: string, cred: Credential): Promise<string> {
  const r = await post(fx, url, cred, INITIALIZE);
  const id = r.headers.get("mcp-session-id");
  if (r.status !== 200 || !id) {
    throw new Error(`initialize failed: ${r.status} ${JSON.stringify(r.messages)}`);
  }
  const session = { "mcp-session-id": id, "mcp-protocol-version": "2025-06-18" };
  await post(fx, url, cred, { jsonrpc: "2.0", method: "notifications/initialized" }, session);
  return id;
}

/** Headers naming a session. */
export function inSession(id: string): Record<string, string> {
  return { "mcp-session-id": id, "mcp-protocol-version": "2025-06-18" };
}

/** A JSON-RPC request body. */
export function call(id: number, method: string, params: Record<string, unknown> = {}) {
  return { jsonrpc: "2.0", id, method, params };
}
