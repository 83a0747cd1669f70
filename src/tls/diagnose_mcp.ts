/**
 * The last step of a diagnosis: a real MCP `initialize` over mutual TLS,
 * with the same client the library offers ({@link connectMcpClient}), so a
 * pass here means a real client will get in.
 *
 * @module
 */
import { MtlsError } from "../errors.ts";
import { silentLogger } from "../log/logger.ts";
import { connectMcpClient } from "../mcp/client_connect.ts";
import type { DiagnosisStep } from "./diagnose_report.ts";

/**
 * Inputs of {@link mcpStep}: the URL and what the client presents and trusts.
 *
 * @example
 * ```ts
 * import type { McpStepInput } from "./diagnose_mcp.ts";
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
}

/**
 * Connects with {@link connectMcpClient}, runs `initialize`, reports the
 * server's name and version, and closes.
 *
 * @example
 * ```ts ignore
 * import { mcpStep } from "./diagnose_mcp.ts";
 * const step = await mcpStep({ url: "https://127.0.0.1:8443/mcp", cert, key, ca: [ca], pins: [], timeout: 5000 });
 * console.log(step.summary); // initialize answered by "mcp-mtls demo" 0.1.0
 * ```
 */
export async function mcpStep(input: McpStepInput): Promise<DiagnosisStep> {
  const name = "MCP";
  const connecting = connectMcpClient(input.url, {
    cert: input.cert,
    key: input.key,
    ca: input.ca,
    pins: input.pins,
    logger: silentLogger,
    keepAlive: false,
    connectTimeout: input.timeout,
    clientInfo: { name: "mcp-mtls-doctor", version: "0.1.0" },
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), input.timeout);
  });
  try {
    const client = await Promise.race([connecting, timedOut]);
    if (client === "timeout") {
      connecting.then((c) => c.close()).catch(() => {});
      return {
        name,
        status: "fail",
        code: "mcp_error",
        summary: `no answer to initialize within ${input.timeout} ms`,
        fix: "check that the URL is the server's MCP endpoint (usually /mcp)",
      };
    }
    const server = client.getServerVersion();
    await client.close();
    return {
      name,
      status: "pass",
      summary: `initialize answered by "${server?.name ?? "unnamed"}" ${server?.version ?? ""}`
        .trimEnd(),
    };
  } catch (error) {
    const code = error instanceof MtlsError ? error.code : "mcp_error";
    const message = (error as Error)?.message ?? String(error);
    return {
      name,
      status: "fail",
      code,
      summary: `initialize failed: ${message.split("\n")[0]}`,
      fix: /\b404\b|\b405\b/.test(message)
        ? "check the path in the URL: the MCP endpoint is usually /mcp"
        : "check that the URL is an MCP Streamable HTTP endpoint and look in the server's log",
    };
  } finally {
    clearTimeout(timer);
  }
}
