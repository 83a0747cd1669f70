/**
 * `jsonResponse`: POSTed requests answered with one application/json body
 * instead of an SSE stream, over real mTLS sockets with the real SDK client.
 */
import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { RequestHandlerExtra } from "@modelcontextprotocol/sdk/shared/protocol.js";
import {
  ListRootsRequestSchema,
  ListRootsResultSchema,
  type ServerNotification,
  type ServerRequest,
} from "@modelcontextprotocol/sdk/types.js";
import { ConfigError } from "../../src/errors.ts";
import { connectMcpClient } from "../../src/mcp/client_connect.ts";
import { createStdioBridge, serveStdioMcp } from "../../src/mcp/bridge_stdio_server.ts";
import { serveMcp } from "../../src/mcp/server.ts";
import type { McpMtlsServer } from "../../src/mcp/server.ts";
import {
  clientFetch,
  collectingLogger,
  type Fixtures,
  INITIALIZE,
  makeFixtures,
  rawPost,
  startServer,
} from "./_fixtures.ts";

const fx: Fixtures = await makeFixtures();

const CALL_WHOAMI = {
  jsonrpc: "2.0",
  id: 2,
  method: "tools/call",
  params: { name: "whoami", arguments: {} },
};

/** POSTs `tools/call whoami` as a raw client would: after `initialize` when stateful. */
async function rawToolsCall(server: McpMtlsServer, stateful: boolean) {
  const headers: Record<string, string> = { "mcp-protocol-version": "2025-06-18" };
  if (stateful) {
    const init = await rawPost(fx, server.url, fx.alice, INITIALIZE);
    assert.equal(init.status, 200);
    headers["mcp-session-id"] = init.headers.get("mcp-session-id")!;
    assert.ok(headers["mcp-session-id"], "initialize returned a session id");
  }
  return await rawPost(fx, server.url, fx.alice, CALL_WHOAMI, headers);
}

for (const sessions of ["stateful", "stateless"] as const) {
  Deno.test(`jsonResponse (${sessions}): a POSTed tools/call gets one application/json JSON-RPC body`, async () => {
    const { server } = await startServer(fx, { sessions, jsonResponse: true });
    try {
      const res = await rawToolsCall(server, sessions === "stateful");
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "application/json");
      // The whole body is one JSON-RPC response: no SSE framing ("event:", "data:").
      const body = JSON.parse(res.text);
      assert.equal(body.jsonrpc, "2.0");
      assert.equal(body.id, 2);
      const who = JSON.parse(body.result.content[0].text);
      assert.equal(who.identity.commonName, "alice");
    } finally {
      await server.close();
    }
  });

  Deno.test(`default (${sessions}): a POSTed tools/call still gets a text/event-stream`, async () => {
    const { server } = await startServer(fx, { sessions });
    try {
      const res = await rawToolsCall(server, sessions === "stateful");
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "text/event-stream");
      assert.throws(() => JSON.parse(res.text), SyntaxError);
      assert.match(res.text, /^data: \{.*"id":2/m);
    } finally {
      await server.close();
    }
  });

  Deno.test(`jsonResponse (${sessions}): connectMcpClient lists tools and calls whoami end to end`, async () => {
    const { server } = await startServer(fx, { sessions, jsonResponse: true });
    const client = await connectMcpClient(server.url, {
      cert: fx.bob.cert,
      key: fx.bob.key,
      ca: fx.ca,
    });
    try {
      const tools = (await client.listTools()).tools.map((t: { name: string }) => t.name).sort();
      assert.deepEqual(tools, ["echo", "time", "whoami"]);
      const result = await client.callTool({ name: "whoami", arguments: {} });
      const text = (result as { content: { text: string }[] }).content[0].text;
      assert.equal(JSON.parse(text).clientId, "spiffe://example.org/bob");
      const echo = await client.callTool({ name: "echo", arguments: { text: "hi" } });
      assert.equal((echo as { content: { text: string }[] }).content[0].text, "hi");
    } finally {
      await client.close();
      await server.close();
    }
  });
}

Deno.test("jsonResponse: a batch of two requests gets one JSON array", async () => {
  const { server } = await startServer(fx, { sessions: "stateless", jsonResponse: true });
  try {
    const res = await rawPost(fx, server.url, fx.alice, [
      CALL_WHOAMI,
      { ...CALL_WHOAMI, id: 3, params: { name: "echo", arguments: { text: "x" } } },
    ], { "mcp-protocol-version": "2025-06-18" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    const body = JSON.parse(res.text);
    assert.ok(Array.isArray(body));
    assert.deepEqual(body.map((m: { id: number }) => m.id).sort(), [2, 3]);
  } finally {
    await server.close();
  }
});

Deno.test("jsonResponse: one info line at start says so; none without it", async () => {
  const on = await startServer(fx, { jsonResponse: true });
  const off = await startServer(fx);
  try {
    const lines = (log: typeof on.log) => log.records.filter((r) => r.fields.jsonResponse === true);
    assert.deepEqual(lines(on.log).map((r) => [r.level, r.msg]), [[
      "info",
      "JSON responses: each POSTed request is answered with one application/json body; notifications and requests sent during a call are dropped",
    ]]);
    assert.ok(!on.log.records.some((r) => r.level === "warn"), "no warning: not a weakening");
    assert.deepEqual(lines(off.log), []);
  } finally {
    await on.server.close();
    await off.server.close();
  }
});

/**
 * A server with one tool that, during its call, sends a progress notification
 * and asks the client for its roots (a server → client request), then says
 * what came back.
 */
function chattyFactory() {
  const mcp = new McpServer({ name: "chatty", version: "1.0.0" });
  mcp.registerTool(
    "chatty",
    {},
    async (extra: RequestHandlerExtra<ServerRequest, ServerNotification>) => {
      const token = extra._meta?.progressToken;
      if (token !== undefined) {
        await extra.sendNotification({
          method: "notifications/progress",
          params: { progressToken: token, progress: 1, total: 2 },
        });
      }
      let roots: string;
      try {
        const r = await extra.sendRequest({ method: "roots/list" }, ListRootsResultSchema, {
          timeout: 500,
        });
        roots = `answered: ${r.roots.map((x: { uri: string }) => x.uri).join(",")}`;
      } catch (e) {
        roots = `unanswered: ${(e as Error).message}`;
      }
      return { content: [{ type: "text" as const, text: roots }] };
    },
  );
  return mcp;
}

async function callChatty(server: McpMtlsServer) {
  const fetch = clientFetch(fx, fx.alice);
  const client = new Client({ name: "t", version: "1.0.0" }, { capabilities: { roots: {} } });
  client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: [{ uri: "file:///r" }] }));
  await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { fetch }));
  try {
    let progress = 0;
    const result = await client.callTool({ name: "chatty", arguments: {} }, undefined, {
      onprogress: () => void progress++,
    });
    return { progress, text: (result as { content: { text: string }[] }).content[0].text };
  } finally {
    await client.close();
    await fetch.close();
  }
}

Deno.test("jsonResponse: progress sent during a call is dropped, and a request to the client goes unanswered", async () => {
  const { server } = await startServer(fx, { jsonResponse: true }, chattyFactory);
  try {
    const seen = await callChatty(server);
    assert.equal(seen.progress, 0);
    assert.match(seen.text, /^unanswered: .*timed out/i);
  } finally {
    await server.close();
  }
});

Deno.test("default SSE: the same call streams its progress and gets the client's answer", async () => {
  const { server } = await startServer(fx, {}, chattyFactory);
  try {
    const seen = await callChatty(server);
    assert.equal(seen.progress, 1);
    assert.equal(seen.text, "answered: file:///r");
  } finally {
    await server.close();
  }
});

const STDIO_REFUSED =
  'Option "jsonResponse" cannot be true with a stdio bridge: the SDK would drop the notifications and requests (progress, logs, sampling, elicitation) the child sends during a call';
const STDIO_COMMAND = [Deno.execPath(), "run", "examples/stdio_server.ts"];

Deno.test("serveStdioMcp refuses jsonResponse with a ConfigError naming the key", async () => {
  await assert.rejects(
    serveStdioMcp(STDIO_COMMAND, {
      tls: { cert: fx.server.cert, key: fx.server.key, ca: fx.ca },
      port: 0,
      logger: collectingLogger(),
      jsonResponse: true,
      child: { mode: "shared" },
    }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.message, STDIO_REFUSED);
      assert.equal(e.key, "jsonResponse");
      return true;
    },
  );
});

Deno.test("serveMcp refuses jsonResponse with a createStdioBridge factory", async () => {
  const bridge = createStdioBridge(STDIO_COMMAND, { logger: collectingLogger() });
  try {
    await assert.rejects(
      serveMcp(bridge.factory, {
        tls: { cert: fx.server.cert, key: fx.server.key, ca: fx.ca },
        port: 0,
        logger: collectingLogger(),
        jsonResponse: true,
      }),
      { name: "ConfigError", message: STDIO_REFUSED },
    );
    assert.equal(bridge.childCount, 0);
  } finally {
    await bridge.close();
  }
});

Deno.test("serveMcp refuses a jsonResponse that is not a boolean", async () => {
  await assert.rejects(
    startServer(fx, { jsonResponse: "yes" as unknown as boolean }),
    { name: "ConfigError", message: 'Option "jsonResponse" must be true or false, got "yes"' },
  );
});
