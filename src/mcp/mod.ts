/**
 * MCP over mutual TLS: the client side ({@link createMtlsFetch} for the SDK's
 * `StreamableHTTPClientTransport`, {@link connectMcpClient} for a connected
 * SDK `Client`) and the server side.
 *
 * @example Connect, call a tool, close
 * ```ts ignore
 * import { connectMcpClient } from "@mtls/mcp/mcp";
 *
 * const client = await connectMcpClient("https://127.0.0.1:8443/mcp", {
 *   cert: await Deno.readTextFile("certs/client.crt"),
 *   key: await Deno.readTextFile("certs/client.key"),
 *   ca: await Deno.readTextFile("certs/ca.crt"),
 * });
 * console.log(await client.callTool({ name: "whoami", arguments: {} }));
 * await client.close();
 * ```
 *
 * @module
 */
export { createMtlsFetch } from "./client_fetch.ts";
export type { MtlsFetch, MtlsFetchOptions } from "./client_fetch.ts";
export { connectMcpClient } from "./client_connect.ts";
export type { ConnectMcpClientOptions } from "./client_connect.ts";
export { serveMcp } from "./server.ts";
export type { McpMtlsServer } from "./server.ts";
export type {
  McpServerFactory,
  ServeMcpOptions,
  ServerLimits,
  SessionContext,
} from "./server_options.ts";
export { hideDeniedTools } from "./server_tools.ts";
export { demoServerFactory, registerDemoTools } from "./demo_tools.ts";
export { lazyJsonSchemaValidator } from "./lazy_validator.ts";
export type { LazyJsonSchemaValidator } from "./lazy_validator.ts";
export { createStdioBridge, serveStdioMcp } from "./bridge_stdio_server.ts";
export type { ServeStdioOptions, StdioBridge, StdioChildSettings } from "./bridge_stdio_server.ts";
export { bridgeStdioToMcp, isFatalBridgeError } from "./bridge_connect.ts";
export type { StdioToMcpOptions } from "./bridge_connect.ts";
export { IDENTITY_META_KEY, identityEnv } from "./bridge_identity.ts";
export type { McpConnectable, SessionTransport } from "./bridge_session.ts";
export type { ObservableMcpServer } from "./server.ts";
export type { TlsMaterial } from "./server_reload.ts";
export type { HealthOptions } from "./health.ts";
export type { ProxyProtocolOptions } from "../tls/server/proxy_accept.ts";
