/**
 * mcp-mtls: mutual TLS for the Model Context Protocol.
 *
 * Serve an MCP server (built with the official SDK) over HTTPS that admits
 * only clients whose certificates verify, tell every tool handler who is
 * calling, and connect MCP clients with their own certificate. Every refusal
 * carries a stable reason code ({@link REASON_CODES}).
 *
 * Entry points: `@mtls/mcp/pki` (certificates in-process), `@mtls/mcp/mcp`
 * (server and client), `@mtls/mcp/policy`, `@mtls/mcp/pins`,
 * `@mtls/mcp/revocation`, `@mtls/mcp/limits`, `@mtls/mcp/tls`,
 * `@mtls/mcp/config`, `@mtls/mcp/log`, `@mtls/mcp/errors`, `@mtls/mcp/cli`.
 *
 * @example Serve the demo tools over mTLS and call `whoami` with a client certificate
 * ```ts
 * import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
 * import { connectMcpClient, registerDemoTools, serveMcp } from "@mtls/mcp";
 * import { createRootCa, issueCertificate } from "@mtls/mcp/pki";
 *
 * const ca = await createRootCa();
 * const server = await issueCertificate(ca, "server", {
 *   subjectAltNames: "dns:localhost,ip:127.0.0.1",
 *   exportable: true,
 * });
 * const agent = await issueCertificate(ca, "client", {
 *   commonName: "agent",
 *   subjectAltNames: "uri:spiffe://example.org/agent",
 *   exportable: true,
 * });
 *
 * const mcp = await serveMcp(
 *   () => registerDemoTools(new McpServer({ name: "demo", version: "1.0.0" })),
 *   {
 *     port: 0,
 *     tls: { cert: server.certificatePem, key: server.privateKeyPem!, ca: ca.certificatePem },
 *   },
 * );
 * const client = await connectMcpClient(mcp.url, {
 *   cert: agent.certificatePem,
 *   key: agent.privateKeyPem!,
 *   ca: ca.certificatePem,
 * });
 * const result = await client.callTool({ name: "whoami", arguments: {} });
 * console.log(result.content);
 * await client.close();
 * await mcp.close();
 * ```
 *
 * @module
 */
export {
  CertificateError,
  ConfigError,
  FileError,
  isMtlsError,
  MtlsError,
  PeerRejectedError,
  REASON_CODES,
  RevocationError,
  RuntimeError,
} from "./src/errors.ts";
export type {
  ErrorCode,
  MtlsErrorOptions,
  PeerRejectionDetails,
  ReasonCode,
} from "./src/errors.ts";
export { createLogger, silentLogger } from "./src/log/mod.ts";
export type { CreateLoggerOptions, LogFields, Logger, LogLevel } from "./src/log/mod.ts";
export {
  connectMcpClient,
  createMtlsFetch,
  demoServerFactory,
  registerDemoTools,
  serveMcp,
} from "./src/mcp/mod.ts";
export type {
  ConnectMcpClientOptions,
  HealthOptions,
  McpMtlsServer,
  McpServerFactory,
  MtlsFetch,
  MtlsFetchOptions,
  ObservableMcpServer,
  ServeMcpOptions,
  ServerLimits,
  SessionContext,
  TlsMaterial,
} from "./src/mcp/mod.ts";
export type {
  AuthorizationOptions,
  AuthorizationRule,
  CertificateVerdict,
  CustomPolicy,
  PeerIdentity,
  PolicyContext,
  PolicyOption,
  Refusal,
  SubjectAltNames,
  ToolPermission,
} from "./src/policy/mod.ts";
export type {
  ClientAuthMode,
  ClientPolicy,
  MtlsClientOptions,
  PemInput,
  TlsClientVersion,
  TlsServerOptions,
} from "./src/tls/mod.ts";
