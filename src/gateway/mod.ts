/**
 * An MCP-aware mutual-TLS gateway in front of any Streamable HTTP MCP server
 * (Python FastMCP, Go, Java, C#, TypeScript): what `mcp-mtls serve
 * --upstream URL` runs.
 *
 * The gateway admits callers exactly as `serveMcp` does, binds each upstream
 * session to the certificate that opened it, filters `tools/list`,
 * `resources/list`, `resources/templates/list` and `prompts/list` by the
 * `authorization` rules and refuses denied calls, reads and prompts before
 * they reach the upstream, and tells the upstream who is calling:
 *
 * - `params._meta["io.github.mcp-mtls/identity"]` on every request (the
 *   same key and shape as the stdio bridge);
 * - `Client-Cert` and `Client-Cert-Chain` (RFC 9440 byte sequences of the
 *   DER) and `Mcp-Mtls-Identity` (the identity label) headers.
 *
 * Any copy of those a client sent is removed first. An upstream must accept
 * them only from the gateway: listen on loopback (a plain `http:` upstream
 * must be on loopback) or a private socket, or require mutual TLS from the
 * gateway (`upstream.cert`/`key` for an `https:` upstream).
 *
 * Upstream failures reach the caller as JSON-RPC errors whose `data.reason`
 * is `upstream_unavailable` or `upstream_timeout`.
 *
 * @example In front of a local MCP server on port 3000
 * ```ts ignore
 * import { serveGateway } from "@mtls/mcp/gateway";
 *
 * const gateway = await serveGateway("http://127.0.0.1:3000/mcp", {
 *   tls: {
 *     cert: await Deno.readTextFile("certs/server.crt"),
 *     key: await Deno.readTextFile("certs/server.key"),
 *     ca: await Deno.readTextFile("certs/ca.crt"),
 *   },
 *   port: 8443,
 * });
 * console.log(gateway.url); // https://127.0.0.1:8443/mcp
 * await gateway.close();
 * ```
 *
 * @module
 */

export { type GatewayOptions, serveGateway } from "./serve_gateway.ts";
export { resolveUpstreamOptions, type UpstreamOptions } from "./upstream_options.ts";
export type { ResolvedUpstreamOptions } from "./upstream_options.ts";
export {
  CLIENT_CERT_CHAIN_HEADER,
  CLIENT_CERT_HEADER,
  GATEWAY_HEADERS,
  IDENTITY_HEADER,
} from "./identity_headers.ts";
export { type Access, accessOf, deniedRequest, filterListResult } from "./access.ts";
export type { DeniedRequest, McpMessageLike } from "./access.ts";
export type { McpMtlsServer, ObservableMcpServer } from "../mcp/server_types.ts";
export type { PemInput } from "../tls/client/options.ts";
export type { CertificateExpiry, MetricsSnapshot } from "../log/metrics.ts";
export type { TlsMaterial } from "../mcp/server_reload.ts";
export type { ToolPermission } from "../policy/authorization.ts";
