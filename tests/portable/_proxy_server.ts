/**
 * The server side of the portable PROXY protocol tests (Deno, Node.js, Bun):
 * `serveMcp` with the demo tools plus a `peer` tool (the caller's address as
 * a tool handler sees it), and one MCP session through a balancer's
 * connection: `initialize`, `initialized`, `tools/call` of `whoami` and
 * `peer`, on one kept-alive mTLS connection.
 */
import assert from "node:assert/strict";
// @ts-types="@modelcontextprotocol/sdk/shared/protocol"
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
// @ts-types="@modelcontextprotocol/sdk/types"
import type { ServerNotification, ServerRequest } from "@modelcontextprotocol/sdk/types.js";
import type tls from "node:tls";
import { demoServerFactory } from "../../src/mcp/demo_tools.ts";
import type { McpServerFactory } from "../../src/mcp/server_options.ts";
import { mcpOver } from "./_proxy_peer.ts";
import { INITIALIZE, type RunningServer } from "./_server_fixtures.ts";

type Extra = RequestHandlerExtra<ServerRequest, ServerNotification>;

/** The demo tools plus `peer`: the caller's address as a tool handler sees it. */
export const peerFactory: McpServerFactory = () => {
  const s = demoServerFactory();
  s.registerTool("peer", { description: "caller address" }, (extra: Extra) => ({
    content: [{ type: "text" as const, text: String(extra.authInfo?.extra?.peer) }],
  }));
  return s;
};

/** A JSON-RPC `tools/call` of `name` without arguments. */
export const call = (id: number, name: string): Record<string, unknown> => ({
  jsonrpc: "2.0",
  id,
  method: "tools/call",
  params: { name, arguments: {} },
});

/** The text of a `tools/call` result. */
export function toolText(json: unknown): string {
  const r = json as { result?: { content: { text: string }[] } };
  assert.ok(r.result, `no result: ${JSON.stringify(json)}`);
  return r.result.content[0].text;
}

/**
 * Over `sock` (mTLS as alice, closed afterwards): `initialize`, the
 * `initialized` notification, `tools/call` of `whoami` (alice's identity)
 * and of `peer`. Returns the address the `peer` tool saw.
 */
export async function mcpSession(sock: tls.TLSSocket): Promise<string> {
  try {
    const init = await mcpOver(sock, INITIALIZE);
    assert.equal(init.status, 200);
    assert.match(JSON.stringify(init.json), /"serverInfo":\{"name":"mcp-mtls-demo"/);
    const session = init.headers["mcp-session-id"];
    assert.ok(session, `no session id: ${JSON.stringify(init.headers)}`);
    const h = { "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" };
    const note = await mcpOver(sock, { jsonrpc: "2.0", method: "notifications/initialized" }, h);
    assert.equal(note.status, 202);
    const who = await mcpOver(sock, call(2, "whoami"), h);
    assert.equal(JSON.parse(toolText(who.json)).clientId, "spiffe://example.org/agent");
    return toolText((await mcpOver(sock, call(3, "peer"), h)).json);
  } finally {
    sock.destroy();
  }
}

/** The peers of the server's "client admitted" lines. */
export const admitted = (s: RunningServer): unknown[] =>
  s.lines.filter((l) => l.msg === "client admitted").map((l) => l.peer);
