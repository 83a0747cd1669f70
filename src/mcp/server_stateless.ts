/**
 * Stateless mode: each request gets its own SDK server and transport, closed
 * with its response; no session outlives a request.
 *
 * @module
 */

// The SDK's types by their path without ".js": see tests/publish/types_test.ts.
// @ts-types="@modelcontextprotocol/sdk/server/streamableHttp"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import type { ServerBuilder } from "./server_build.ts";
import type { SessionStore } from "./server_sessions.ts";

/**
 * Makes the stateless request handler, in the shape of the session store's.
 *
 * @example
 * ```ts ignore
 * const handler = o.sessions === "stateless"
 *   ? createStatelessHandler(buildServer, o.jsonResponse)
 *   : sessions;
 * await handler.handle(req, res, state, mayCall, body);
 * ```
 */
export function createStatelessHandler(
  buildServer: ServerBuilder,
  jsonResponse: boolean,
): Pick<SessionStore, "handle"> {
  return {
    async handle(req, res, state, mayCall, body) {
      const server = await buildServer(state, mayCall);
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: undefined,
        enableJsonResponse: jsonResponse,
      });
      res.on("close", () => {
        transport.close().catch(() => {});
        server.close().catch(() => {});
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, body);
    },
  };
}
