/**
 * `child.mode: "shared"`: one stdio server for every session, with ids and
 * progress tokens rewritten, identity per request, and crash recovery.
 */
import assert from "node:assert/strict";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { connectMcpClient } from "../../src/mcp/client_connect.ts";
import { type Credential, makeFixtures } from "../server/_fixtures.ts";
import { startBridge, text } from "./_helpers.ts";

const fx = await makeFixtures();

function client(url: string, cred: Credential): Promise<Client> {
  return connectMcpClient(url, { cert: cred.cert, key: cred.key, ca: fx.ca, keepAlive: false });
}

async function whoami(c: Client) {
  return JSON.parse(text(await c.callTool({ name: "whoami", arguments: {} })));
}

Deno.test("a shared stdio server serves every session, each with its own identity in _meta", async () => {
  const { server } = await startBridge(fx, {
    child: { mode: "shared", closeTimeoutMs: 500 },
    authorization: {
      rules: [{ identity: "cn:alice", tools: ["*"] }, {
        identity: "cn:bob",
        tools: ["echo", "whoami"],
      }],
    },
  });
  const alice = await client(server.url, fx.alice);
  const bob = await client(server.url, fx.bob);
  try {
    const [a, b] = await Promise.all([whoami(alice), whoami(bob)]);
    assert.equal(a.pid, b.pid, "one process serves both sessions");
    assert.equal(a.fromMeta.commonName, "alice");
    assert.equal(b.fromMeta.commonName, "bob");
    assert.equal(a.fromEnv, null, "a shared child's environment names no client");
    // Both SDK clients number their requests from 0: concurrent calls must not cross.
    const calls = [];
    for (let i = 0; i < 10; i++) {
      calls.push(alice.callTool({ name: "echo", arguments: { text: `alice ${i}` } }));
      calls.push(bob.callTool({ name: "echo", arguments: { text: `bob ${i}` } }));
    }
    const texts = (await Promise.all(calls)).map(text);
    for (let i = 0; i < 10; i++) {
      assert.equal(texts[2 * i], `alice ${i}`);
      assert.equal(texts[2 * i + 1], `bob ${i}`);
    }
    // tools/list is still filtered per session.
    assert.deepEqual((await bob.listTools()).tools.map((t: { name: string }) => t.name).sort(), [
      "echo",
      "whoami",
    ]);
    assert.equal((await alice.listTools()).tools.length, 4);
  } finally {
    await alice.close();
    await bob.close();
    await server.close();
  }
});

for (const mode of ["per-session", "shared"] as const) {
  Deno.test(`progress notifications reach the session that asked for them (${mode})`, async () => {
    const { server } = await startBridge(fx, { child: { mode, closeTimeoutMs: 500 } });
    const alice = await client(server.url, fx.alice);
    const bob = await client(server.url, fx.bob);
    try {
      const seen: Record<string, number[]> = { alice: [], bob: [] };
      const count = (c: Client, who: string, to: number) =>
        c.callTool({ name: "count", arguments: { to } }, undefined, {
          onprogress: (p: { progress: number }) => seen[who].push(p.progress),
        });
      const [a, b] = await Promise.all([count(alice, "alice", 3), count(bob, "bob", 5)]);
      assert.equal(text(a), "3");
      assert.equal(text(b), "5");
      assert.deepEqual(seen.alice, [1, 2, 3]);
      assert.deepEqual(seen.bob, [1, 2, 3, 4, 5]);
    } finally {
      await alice.close();
      await bob.close();
      await server.close();
    }
  });
}

Deno.test("per-session mode gives each session its own process", async () => {
  const { server } = await startBridge(fx);
  const alice = await client(server.url, fx.alice);
  const bob = await client(server.url, fx.bob);
  try {
    const [a, b] = await Promise.all([whoami(alice), whoami(bob)]);
    assert.notEqual(a.pid, b.pid);
  } finally {
    await alice.close();
    await bob.close();
    await server.close();
  }
});

Deno.test("when a shared stdio server crashes every session is closed and the next one gets a fresh child", async () => {
  const { server, log } = await startBridge(fx, { child: { mode: "shared", closeTimeoutMs: 500 } });
  const alice = await client(server.url, fx.alice);
  const bob = await client(server.url, fx.bob);
  try {
    const before = await whoami(bob);
    await assert.rejects(alice.callTool({ name: "crash", arguments: {} }), /exited with code 3/);
    await assert.rejects(whoami(bob), "bob's session went with the child");
    const shared = log.records.find((r) => r.msg === "shared stdio server exited");
    assert.equal(shared?.fields.code, 3);
    const carol = await client(server.url, fx.alice);
    try {
      const after = await whoami(carol);
      assert.notEqual(after.pid, before.pid);
      assert.equal(after.fromMeta.commonName, "alice");
    } finally {
      await carol.close();
    }
  } finally {
    await alice.close();
    await bob.close();
    await server.close();
  }
});

Deno.test("stateless sessions work with a shared stdio server", async () => {
  const { server } = await startBridge(fx, {
    sessions: "stateless",
    child: { mode: "shared", closeTimeoutMs: 500 },
  });
  const alice = await client(server.url, fx.alice);
  try {
    assert.equal((await alice.listTools()).tools.length, 4);
    assert.equal(text(await alice.callTool({ name: "echo", arguments: { text: "x" } })), "x");
    assert.equal((await whoami(alice)).fromMeta.commonName, "alice");
  } finally {
    await alice.close();
    await server.close();
  }
});
