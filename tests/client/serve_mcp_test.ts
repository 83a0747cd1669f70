// The client against the project's own server (serveMcp with the demo tools):
// the full SDK round trip, and each way the server refuses us, typed.
import assert from "node:assert/strict";
import { connectMcpClient, demoServerFactory, serveMcp } from "../../src/mcp/mod.ts";
import { PeerRejectedError } from "../../src/errors.ts";
import { silentLogger } from "../../src/log/mod.ts";
import { fixtures, recordingLogger } from "./_helpers.ts";

type TextContent = { content: { type: string; text: string }[] };

async function withServer(
  run: (url: string) => Promise<void>,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const f = await fixtures();
  const server = await serveMcp(demoServerFactory, {
    port: 0,
    tls: { ...f.server, ca: f.ca },
    logger: silentLogger,
    ...extra,
  });
  try {
    await run(server.url);
  } finally {
    await server.close();
  }
}

Deno.test("connectMcpClient() against serveMcp: initialize, tools/list, whoami returns our identity", async () => {
  const f = await fixtures();
  await withServer(async (url) => {
    const client = await connectMcpClient(url, { ...f.client, ca: f.ca });
    try {
      const names = (await client.listTools()).tools.map((t: { name: string }) => t.name);
      assert.ok(names.includes("whoami") && names.includes("echo"), names.join());
      const who = await client.callTool({ name: "whoami", arguments: {} }) as TextContent;
      const payload = JSON.parse(who.content[0].text);
      assert.match(JSON.stringify(payload), /agent-1/);
      const echo = await client.callTool({
        name: "echo",
        arguments: { text: "over mTLS" },
      }) as TextContent;
      assert.equal(echo.content[0].text, "over mTLS");
    } finally {
      await client.close();
    }
  });
});

Deno.test("connectMcpClient() without a certificate is refused by serveMcp with no_client_cert", async () => {
  const f = await fixtures();
  await withServer(async (url) => {
    await assert.rejects(connectMcpClient(url, { ca: f.ca }), (e: unknown) => {
      assert.ok(e instanceof PeerRejectedError, String(e));
      assert.equal(e.code, "no_client_cert");
      return true;
    });
  });
});

Deno.test("connectMcpClient() with a certificate from another CA is refused by serveMcp with unknown_ca", async () => {
  const f = await fixtures();
  await withServer(async (url) => {
    await assert.rejects(connectMcpClient(url, { ...f.otherClient, ca: f.ca }), (e: unknown) => {
      assert.ok(e instanceof PeerRejectedError, String(e));
      assert.equal(e.code, "unknown_ca");
      return true;
    });
  });
});

Deno.test("a tool call serveMcp denies for our identity rejects with identity_denied", async () => {
  const f = await fixtures();
  await withServer(async (url) => {
    const client = await connectMcpClient(url, { ...f.client, ca: f.ca });
    try {
      await assert.rejects(
        client.callTool({ name: "echo", arguments: { text: "x" } }),
        (e: unknown) => {
          assert.ok(e instanceof PeerRejectedError, String(e));
          assert.equal(e.code, "identity_denied");
          assert.match(e.message, /HTTP 403: Tool "echo" is not allowed/);
          return true;
        },
      );
    } finally {
      await client.close();
    }
  }, { authorization: { rules: [{ identity: "cn:agent-1", tools: ["whoami"] }] } });
});

Deno.test("over TLS 1.2, serveMcp hanging up mid-handshake is told apart from a version mismatch", async () => {
  const f = await fixtures();
  await withServer(async (url) => {
    const tls12 = { ca: f.ca, maxVersion: "TLSv1.2" as const };
    await assert.rejects(connectMcpClient(url, tls12), {
      name: "PeerRejectedError",
      code: "no_client_cert",
    });
    await assert.rejects(connectMcpClient(url, { ...tls12, ...f.otherClient }), {
      name: "PeerRejectedError",
      code: "unknown_ca",
    });
    const client = await connectMcpClient(url, { ...tls12, ...f.client });
    await client.close();
  });
});

Deno.test("an SDK session against serveMcp reuses its connections across 20 tool calls", async () => {
  const f = await fixtures();
  await withServer(async (url) => {
    const logger = recordingLogger();
    const client = await connectMcpClient(url, { ...f.client, ca: f.ca, logger });
    try {
      for (let i = 0; i < 20; i++) {
        await client.callTool({ name: "echo", arguments: { text: String(i) } });
      }
      const opened = logger.records.filter((r) => r.msg === "tls connection established");
      // one for POSTs, at most one more for the SDK's server-sent-events GET stream
      assert.ok(opened.length >= 1 && opened.length <= 2, `opened ${opened.length} connections`);
    } finally {
      await client.close();
    }
  });
});
