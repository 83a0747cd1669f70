/**
 * The last step of a diagnosis: a real MCP `initialize` over mutual TLS,
 * through the library's client stack (`createMtlsFetch` under the SDK
 * client, as `connectMcpClient` does), so a pass means a real client gets in.
 *
 * @module
 */
import { MtlsError } from "../errors.ts";
import { silentLogger } from "../log/logger.ts";
// The SDK's types by their path without ".js": see tests/publish/types_test.ts.
// @ts-types="@modelcontextprotocol/sdk/client/index"
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
// @ts-types="@modelcontextprotocol/sdk/client/streamableHttp"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { createMtlsFetch, type MtlsFetch } from "../mcp/client_fetch.ts";
import type { DiagnosisStep } from "./report.ts";

/**
 * Inputs of {@link mcpStep}: the URL and what the client presents and trusts.
 *
 * @example
 * ```ts
 * import type { McpStepInput } from "./mcp.ts";
 * const input: McpStepInput = { url: "https://127.0.0.1:8443/mcp", pins: [], timeout: 5000 };
 * ```
 */
export interface McpStepInput {
  url: string;
  cert?: string;
  key?: string;
  /** Trusted CAs, PEM; absent: the system roots. */
  ca?: string[];
  pins: string[];
  /** Milliseconds for connect plus `initialize`. */
  timeout: number;
  /** Bearer token to send. */
  token?: string;
}

/**
 * Connects with the library's mTLS fetch and the SDK client, runs `initialize`, reports the
 * server's name and version, and closes.
 *
 * @example
 * ```ts ignore
 * import { mcpStep } from "./mcp.ts";
 * const step = await mcpStep({ url: "https://127.0.0.1:8443/mcp", cert, key, ca: [ca], pins: [], timeout: 5000 });
 * console.log(step.summary); // initialize answered by "mcp-mtls demo" 0.1.0
 * ```
 */
export async function mcpStep(input: McpStepInput): Promise<DiagnosisStep> {
  const name = "MCP";
  // Not connectMcpClient: a diagnosis needs its own timeout on initialize, and
  // closing the transport on timeout aborts the request still hanging on the server.
  let fetch: MtlsFetch | undefined;
  const client = new Client({ name: "mcp-mtls-doctor", version: "0.1.0" });
  try {
    fetch = createMtlsFetch({
      cert: input.cert,
      key: input.key,
      ca: input.ca,
      pins: input.pins,
      logger: silentLogger,
      keepAlive: false,
      connectTimeout: input.timeout,
      token: input.token,
    });
    const transport = new StreamableHTTPClientTransport(new URL(input.url), { fetch });
    await client.connect(transport, { timeout: input.timeout });
    const server = client.getServerVersion();
    return {
      name,
      status: "pass",
      summary: `initialize answered by "${server?.name ?? "unnamed"}" ${server?.version ?? ""}`
        .trimEnd(),
    };
  } catch (error) {
    const code = error instanceof MtlsError ? error.code : "mcp_error";
    const message = (error as Error)?.message ?? String(error);
    const timedOut = /timed out/i.test(message);
    return {
      name,
      status: "fail",
      code,
      summary: timedOut
        ? `no answer to initialize within ${input.timeout} ms`
        : `initialize failed: ${message.split("\n")[0]}`,
      fix: timedOut || /\b40[45]\b/.test(message)
        ? "check the path in the URL: it must be the server's MCP endpoint (usually /mcp)"
        : "check that the URL is an MCP Streamable HTTP endpoint and look in the server's log",
    };
  } finally {
    await client.close().catch(() => {});
    await fetch?.close().catch(() => {});
  }
}
