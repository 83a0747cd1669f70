/**
 * Filters the list answers of an SDK `McpServer` (`tools/list`,
 * `resources/list`, `resources/templates/list`, `prompts/list`) per caller,
 * with the same rules as the gateway and the stdio bridge
 * (`../gateway/access.ts`).
 *
 * The SDK has no public hook around its own list handlers; its protocol
 * layer looks each one up in `Server._requestHandlers` (SDK 1.x), a `Map`,
 * at the time a request arrives. Overriding that map's `get` filters what
 * any list handler answers, including one registered after the factory
 * returned. Reads, subscriptions, prompts and completions are refused at the
 * HTTP layer before the SDK sees them, so authorization never depends on
 * this field: only what the lists show does.
 *
 * @module
 */

// The SDK's types by their path without ".js": see tests/publish/types_test.ts.
// @ts-types="@modelcontextprotocol/sdk/server/mcp"
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { type Access, filterListResult, LIST_FIELDS } from "../gateway/access.ts";

type Handler = (request: unknown, extra: unknown) => Promise<unknown> | unknown;

/**
 * Makes `server` answer its list requests with only what `access` allows;
 * returns false when the SDK's handler table cannot be found.
 *
 * @example
 * ```ts
 * import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
 * import { filterListAnswers } from "./server_lists.ts";
 * const server = new McpServer({ name: "x", version: "1.0.0" });
 * const access = { tool: () => true, resource: (u: string) => u.startsWith("file:///public/"), prompt: () => true };
 * filterListAnswers(server, access); // true
 * ```
 */
export function filterListAnswers(server: McpServer, access: Access): boolean {
  const handlers = (server as unknown as { server?: { _requestHandlers?: unknown } }).server
    ?._requestHandlers;
  if (!(handlers instanceof Map)) return false;
  const table = handlers as Map<string, Handler>;
  const get = table.get.bind(table);
  table.get = (method: string) => {
    const handler = get(method);
    if (handler === undefined || LIST_FIELDS[method] === undefined) return handler;
    return async (request: unknown, extra: unknown) =>
      filterListResult(method, await handler(request, extra), access);
  };
  return true;
}
