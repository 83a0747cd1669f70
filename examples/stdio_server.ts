/**
 * A small stdio MCP server written with the SDK, which knows nothing about
 * TLS. Put mutual TLS in front of it with the bridge:
 *
 *   deno task cli serve --certs certs -- deno run -A examples/stdio_server.ts
 *
 * Tools:
 * - `whoami`: the caller's certificate identity as the bridge passes it: from
 *   `_meta["io.github.mcp-mtls/identity"]` on the request (always) and from the
 *   `MCP_MTLS_PEER_*` environment (set when the child serves one session),
 *   with this process's pid (to see whether sessions share it).
 * - `echo`: returns its text.
 * - `count`: counts to a number, sending progress notifications.
 * - `crash`: exits the process with code 3 (to show what a crash looks like
 *   from the client: an error, and the server keeps running).
 *
 * Only JSON-RPC goes to stdout; the line below goes to stderr, which the
 * bridge logs at debug level.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import type { ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

const IDENTITY_META_KEY = "io.github.mcp-mtls/identity";

const server = new McpServer({ name: "stdio-example", version: "1.0.0" });
server.registerTool(
  "whoami",
  { description: "Returns the caller's certificate identity, as the mTLS bridge passed it." },
  (extra: Extra) => {
    const fromMeta = extra._meta?.[IDENTITY_META_KEY] ?? null;
    const envJson = Deno.env.get("MCP_MTLS_PEER_IDENTITY");
    const payload = {
      pid: Deno.pid,
      fromMeta,
      fromEnv: envJson
        ? {
          label: Deno.env.get("MCP_MTLS_PEER_LABEL"),
          commonName: Deno.env.get("MCP_MTLS_PEER_CN"),
          spiffeId: Deno.env.get("MCP_MTLS_PEER_SPIFFE_ID"),
          fingerprint: Deno.env.get("MCP_MTLS_PEER_FINGERPRINT"),
          identity: JSON.parse(envJson),
        }
        : null,
    };
    return { content: [{ type: "text", text: JSON.stringify(payload) }] };
  },
);
server.registerTool(
  "echo",
  { description: "Returns the text you send.", inputSchema: { text: z.string() } },
  ({ text }: { text: string }, _extra: Extra) => ({ content: [{ type: "text", text }] }),
);
server.registerTool(
  "count",
  {
    description: "Counts to `to`, reporting each step as progress when the caller asks for it.",
    inputSchema: { to: z.number().int().min(1).max(100) },
  },
  async ({ to }: { to: number }, extra: Extra) => {
    const progressToken = extra._meta?.progressToken;
    for (let i = 1; i <= to; i++) {
      if (progressToken !== undefined) {
        await extra.sendNotification({
          method: "notifications/progress",
          params: { progressToken, progress: i, total: to },
        });
      }
    }
    return { content: [{ type: "text", text: String(to) }] };
  },
);
server.registerTool(
  "crash",
  { description: "Exits this server process with code 3." },
  (_extra: Extra) => {
    console.error("crash tool called: exiting with code 3");
    Deno.exit(3);
  },
);

await server.connect(new StdioServerTransport());
console.error(`stdio-example ready (pid ${Deno.pid})`);
