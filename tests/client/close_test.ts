import assert from "node:assert/strict";
import { connectMcpClient } from "../../src/mcp/client_connect.ts";
import { makeFixtures, startServer } from "../server/_fixtures.ts";

const fx = await makeFixtures();

Deno.test("connectMcpClient().close() ends the MCP session on the server at once", async () => {
  const { server } = await startServer(fx);
  try {
    const client = await connectMcpClient(server.url, {
      cert: fx.alice.cert,
      key: fx.alice.key,
      ca: fx.ca,
    });
    await client.callTool({ name: "echo", arguments: { text: "hi" } });
    assert.equal(server.sessionCount, 1);
    await client.close();
    // The DELETE has been answered before close() resolves: no idle timeout involved.
    assert.equal(server.sessionCount, 0);
  } finally {
    await server.close();
  }
});

Deno.test("connectMcpClient().close() does not hang when the server is already gone", async () => {
  const { server } = await startServer(fx);
  const client = await connectMcpClient(server.url, {
    cert: fx.alice.cert,
    key: fx.alice.key,
    ca: fx.ca,
  });
  await server.close();
  // Liveness, not speed: close() must settle rather than wait on a dead server forever.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const settled = await Promise.race([
    client.close().then(() => "closed"),
    new Promise((r) => (timer = setTimeout(() => r("hung"), 10_000))),
  ]);
  clearTimeout(timer);
  assert.equal(settled, "closed");
});
