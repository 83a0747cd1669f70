/**
 * Built-in demo tools served by `mcp-mtls serve`: `whoami`, `echo` and `time`.
 *
 * @module
 */

// The SDK's types by their path without ".js": see tests/publish/types_test.ts.
// @ts-types="@modelcontextprotocol/sdk/server/mcp"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
// @ts-types="@modelcontextprotocol/sdk/shared/protocol"
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import type { ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";
import { lazyJsonSchemaValidator } from "./lazy_validator.ts";

// Explicit callback types: with TypeScript 6 the SDK's registerTool generics no longer infer them.
type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

// Built once, not per server: zod schemas are immutable, and with `sessions: "stateless"`
// a server (so a schema) would otherwise be built for every request.
const ECHO_INPUT = z.object({ text: z.string().max(65_536) });

/**
 * Registers the demo tools on `server`:
 * - `whoami`: the caller's certificate identity as JSON text (and, with
 *   bound tokens, the token's `sub`, scopes, expiry and binding),
 * - `echo`: returns `text`,
 * - `time`: the server's current time, ISO 8601.
 *
 * @example Adding the demo tools to a server
 * ```ts
 * import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
 * import { registerDemoTools } from "@mtls/mcp/mcp";
 * const server = registerDemoTools(new McpServer({ name: "demo", version: "1.0.0" }));
 * ```
 */
export function registerDemoTools(
  server: McpServer,
  now: () => Date = () => new Date(),
): McpServer {
  server.registerTool(
    "whoami",
    {
      title: "Who am I",
      description: "Returns the identity from your client certificate, as the server sees it.",
    },
    (extra: Extra) => {
      const info = extra.authInfo;
      const identity = info?.extra?.identity ?? null;
      // With bound tokens (`auth`), what the token says beside the certificate; never the token itself.
      const token = info?.token
        ? {
          sub: info.extra?.sub,
          scopes: info.scopes,
          expiresAt: info.expiresAt,
          bound: info.extra?.bound,
        }
        : undefined;
      const payload = {
        clientId: info?.clientId ?? "anonymous",
        identity,
        ...(token ? { token } : {}),
      };
      return { content: [{ type: "text", text: JSON.stringify(payload, null, 2) }] };
    },
  );
  server.registerTool(
    "echo",
    {
      title: "Echo",
      description: "Returns the text you send.",
      inputSchema: ECHO_INPUT,
    },
    ({ text }: { text: string }, _extra: Extra) => ({ content: [{ type: "text", text }] }),
  );
  server.registerTool(
    "time",
    { title: "Time", description: "Returns the server's current time (ISO 8601)." },
    () => ({ content: [{ type: "text", text: now().toISOString() }] }),
  );
  return server;
}

/**
 * An {@link McpServer} factory serving only the demo tools.
 *
 * @example
 * ```ts
 * import { demoServerFactory } from "@mtls/mcp/mcp";
 * const server = demoServerFactory();
 * ```
 */
export function demoServerFactory(): McpServer {
  return registerDemoTools(
    new McpServer({ name: "mcp-mtls-demo", version: "0.1.0" }, {
      // The SDK's validator type is `any` under Deno and exact under Node.js.
      jsonSchemaValidator: lazyJsonSchemaValidator() as never,
    }),
  );
}
