/**
 * Hides the tools a client may not call from an SDK `McpServer`, so
 * `tools/list` shows each client only what it may call.
 *
 * The SDK has no public way to enumerate registered tools; it keeps them in
 * `McpServer._registeredTools` (SDK 1.x), each with a public `disable()`.
 * The server also refuses denied `tools/call` requests at the HTTP layer
 * before the SDK sees them, so authorization never depends on this field.
 *
 * @module
 */

// The SDK's types by their path without ".js": see tests/publish/types_test.ts.
// @ts-types="@modelcontextprotocol/sdk/server/mcp"
import type { McpServer, RegisteredTool } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { ToolPermission } from "../policy/authorization.ts";

/**
 * Disables every registered tool `mayCall` refuses; returns how many, or
 * `undefined` when the SDK's tool table cannot be found.
 *
 * @example
 * ```ts
 * import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
 * import { hideDeniedTools } from "@mtls/mcp/mcp";
 * const server = new McpServer({ name: "x", version: "1.0.0" });
 * server.registerTool("secret", {}, () => ({ content: [] }));
 * hideDeniedTools(server, (name) => name !== "secret"); // 1
 * ```
 */
export function hideDeniedTools(server: McpServer, mayCall: ToolPermission): number | undefined {
  const tools = (server as unknown as { _registeredTools?: Record<string, RegisteredTool> })
    ._registeredTools;
  if (!tools || typeof tools !== "object") return undefined;
  let hidden = 0;
  for (const [name, tool] of Object.entries(tools)) {
    if (!mayCall(name) && tool.enabled) {
      tool.disable();
      hidden++;
    }
  }
  return hidden;
}
