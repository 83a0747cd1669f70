/**
 * The SDK server of a session (or of one stateless request), built by the
 * user's factory for the caller's identity, with the tools, resources and
 * prompts it may not use hidden from the list answers.
 *
 * @module
 */

// The SDK's types by their path without ".js": see tests/publish/types_test.ts.
// @ts-types="@modelcontextprotocol/sdk/server/mcp"
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Logger } from "../log/logger.ts";
import type { ToolPermission } from "../policy/authorization.ts";
import type { PeerState } from "../tls/server/listener.ts";
import type { McpServerFactory } from "./server_options.ts";
import { accessOf } from "../gateway/access.ts";
import { filterListAnswers } from "./server_lists.ts";
import { hideDeniedTools } from "./server_tools.ts";

/**
 * Builds the server of one session.
 *
 * @example
 * ```ts ignore
 * const server = await buildServer(state, mayCall);
 * ```
 */
export type ServerBuilder = (state: PeerState, mayCall: ToolPermission) => Promise<McpServer>;

/**
 * Makes the builder. When the SDK's tool or handler table cannot be found,
 * it says once (at warn) which lists are not filtered; the calls, reads and
 * prompts themselves still are, at the HTTP layer.
 *
 * @example
 * ```ts ignore
 * const buildServer = createServerBuilder(factory, logger);
 * ```
 */
export function createServerBuilder(factory: McpServerFactory, logger: Logger): ServerBuilder {
  let warnedNoToolTable = false;
  let warnedNoHandlerTable = false;
  return async (state, mayCall) => {
    const server = await factory({ identity: state.identity, mayCall });
    // A bridged stdio session (createStdioBridge) is no McpServer: it filters its lists itself.
    const isSdkServer = typeof (server as Partial<McpServer>).registerTool === "function";
    if (!isSdkServer) return server;
    if (hideDeniedTools(server, mayCall) === undefined && !warnedNoToolTable) {
      warnedNoToolTable = true;
      logger.warn(
        "Cannot find the SDK tool table: tools/list is not filtered (tools/call still is)",
      );
    }
    if (!filterListAnswers(server, accessOf(mayCall)) && !warnedNoHandlerTable) {
      warnedNoHandlerTable = true;
      logger.warn(
        "Cannot find the SDK request handler table: resources/list, resources/templates/list and prompts/list are not filtered (reads and prompts/get still are)",
      );
    }
    return server;
  };
}
