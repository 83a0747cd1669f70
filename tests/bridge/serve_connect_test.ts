/**
 * serve -- STDIO_SERVER, reached through `mcp-mtls connect` by the SDK Client
 * over stdio: real processes, real mTLS on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { makeFixtures } from "../server/_fixtures.ts";
import { startBridge, stdioClient, text, waitFor } from "./_helpers.ts";

const fx = await makeFixtures();

Deno.test("a stdio server behind serve is reached through connect: tools/list, tools/call, identity", async () => {
  const { server, log } = await startBridge(fx);
  try {
    const { client, stderr } = await stdioClient(fx, server.url, fx.alice);
    try {
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t: { name: string }) => t.name).sort(), [
        "count",
        "crash",
        "echo",
        "whoami",
      ]);
      assert.equal(text(await client.callTool({ name: "echo", arguments: { text: "hi" } })), "hi");
      // A client cannot forge the identity: the bridge replaces the _meta key.
      const who = JSON.parse(text(
        await client.callTool({
          name: "whoami",
          arguments: {},
          _meta: { "io.github.mcp-mtls/identity": { commonName: "root" } },
        }),
      ));
      assert.equal(who.fromMeta.commonName, "alice");
      assert.equal(who.fromMeta.spiffeId, "spiffe://example.org/agent");
      assert.equal(who.fromEnv.commonName, "alice");
      assert.equal(who.fromEnv.spiffeId, "spiffe://example.org/agent");
      assert.equal(who.fromEnv.label, "spiffe://example.org/agent");
      assert.equal(who.fromEnv.fingerprint, who.fromMeta.fingerprint);
      assert.match(who.fromMeta.fingerprint, /^[0-9a-f]{64}$/);
      assert.equal(stderr(), "", "connect is quiet when all is well");
    } finally {
      await client.close();
    }
    // Closing the client ends the connect process, which ends the session and its child.
    await waitFor(() => server.sessionCount === 0, "the session to close");
    assert.ok(log.records.some((r) => r.msg === "session closed"));
  } finally {
    await server.close();
  }
});

Deno.test("through the bridge a client sees only the tools it may call and is refused the others", async () => {
  const { server, log } = await startBridge(fx, {
    authorization: { rules: [{ identity: "cn:bob", tools: ["echo"] }] },
  });
  try {
    const { client } = await stdioClient(fx, server.url, fx.bob);
    try {
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t: { name: string }) => t.name), ["echo"]);
      assert.equal(text(await client.callTool({ name: "echo", arguments: { text: "ok" } })), "ok");
      await assert.rejects(
        client.callTool({ name: "whoami", arguments: {} }),
        (e: { code?: number; data?: { reason?: string }; message: string }) => {
          assert.equal(e.data?.reason, "identity_denied");
          assert.match(e.message, /whoami/);
          return true;
        },
      );
      // Refused per request: the bridge keeps working afterwards.
      assert.equal(
        text(await client.callTool({ name: "echo", arguments: { text: "again" } })),
        "again",
      );
    } finally {
      await client.close();
    }
    assert.ok(log.reasons().includes("identity_denied"));
  } finally {
    await server.close();
  }
});

Deno.test("a crashing stdio server fails its request, is logged, and the next session gets a fresh child", async () => {
  const { server, log } = await startBridge(fx);
  try {
    const first = await stdioClient(fx, server.url, fx.alice);
    try {
      await assert.rejects(
        first.client.callTool({ name: "crash", arguments: {} }),
        /exited with code 3/,
      );
    } finally {
      await first.client.close();
    }
    const exit = log.records.find((r) => r.msg === "stdio server exited");
    assert.ok(exit, "the exit is logged");
    assert.equal(exit.level, "error");
    assert.equal(exit.fields.code, 3);
    assert.match(String(exit.fields.stderr), /exiting with code 3/, "the log says why");
    // The child's stderr went to the log (debug), not to the client.
    assert.ok(
      log.records.some((r) =>
        r.level === "debug" && String(r.fields.line).includes("exiting with code 3")
      ),
    );
    assert.ok(!first.stderr().includes("exiting with code 3"));

    const second = await stdioClient(fx, server.url, fx.bob);
    try {
      const who = JSON.parse(text(await second.client.callTool({ name: "whoami", arguments: {} })));
      assert.equal(who.fromEnv.commonName, "bob");
    } finally {
      await second.client.close();
    }
  } finally {
    await server.close();
  }
});
