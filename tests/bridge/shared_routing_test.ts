/**
 * What the child sends reaches only the session it belongs to, and only that
 * session can answer the child's own requests (security review F4, F8): two
 * clients with different certificates on one shared child, over real sockets.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { serveStdioMcp } from "../../src/mcp/bridge_stdio_server.ts";
import type { ChildExit, StdioChild } from "../../src/mcp/bridge_child.ts";
import type { BridgeMessage } from "../../src/mcp/bridge_identity.ts";
import { createSharedChild } from "../../src/mcp/bridge_shared.ts";
import { createMtlsFetch } from "../../src/mcp/client_fetch.ts";
import { collectingLogger, type Credential, makeFixtures } from "../server/_fixtures.ts";
import { text, waitFor } from "./_helpers.ts";

const fx = await makeFixtures();
const CHILD = [
  Deno.execPath(),
  "run",
  fileURLToPath(new URL("./_asking_child.ts", import.meta.url)),
];
const IDENTITY = "io.github.mcp-mtls/identity";

async function bridge(mode: "shared" | "per-session") {
  const log = collectingLogger();
  const server = await serveStdioMcp(CHILD, {
    port: 0,
    hostname: "127.0.0.1",
    logger: log,
    child: { mode, closeTimeoutMs: 500 },
    tls: { cert: fx.server.cert, key: fx.server.key, ca: fx.ca },
  });
  return { server, log };
}

/** An SDK client that can answer elicitations; `seen` collects every notification and request it gets. */
async function client(url: string, cred: Credential) {
  const fetch = createMtlsFetch({ cert: cred.cert, key: cred.key, ca: fx.ca, keepAlive: false });
  const c = new Client({ name: "routing-test", version: "1" }, {
    capabilities: { elicitation: {} },
  });
  const seen: { method: string; params?: unknown }[] = [];
  c.fallbackNotificationHandler = (n: { method: string; params?: unknown }) => {
    seen.push(n);
    return Promise.resolve();
  };
  await c.connect(new StreamableHTTPClientTransport(new URL(url), { fetch }));
  return {
    client: c,
    seen,
    /** Sends a raw JSON-RPC message on this client's session. */
    raw: (message: Record<string, unknown>) => c.transport!.send(message as never),
    close: async () => {
      await c.close().catch(() => {});
      await fetch.close();
    },
  };
}

const dropped = (log: ReturnType<typeof collectingLogger>) =>
  log.records.filter((r) => r.level === "warn" && r.fields.reason === "identity_denied");

Deno.test("shared child: only the session asked can answer the child's request; its notifications stay with it", async () => {
  const { server, log } = await bridge("shared");
  const alice = await client(server.url, fx.alice);
  const mallory = await client(server.url, fx.bob);
  try {
    const asked: string[] = [];
    mallory.client.setRequestHandler(ElicitRequestSchema, () => {
      asked.push("mallory");
      return { action: "decline" };
    });
    alice.client.setRequestHandler(
      ElicitRequestSchema,
      async (request: { params: { message: string } }) => {
        asked.push(`alice: ${request.params.message}`);
        // Mallory answers the child's request (its id, 1000, is easy to guess) first.
        await mallory.raw({
          jsonrpc: "2.0",
          id: 1000,
          result: { action: "accept", content: { by: "mallory" } },
        });
        await waitFor(() => dropped(log).length > 0, "the forged response to be dropped");
        // Alice's own answer, with a forged identity in result._meta.
        return {
          action: "accept",
          content: { by: "alice" },
          _meta: { [IDENTITY]: { commonName: "root" }, other: 1 },
        };
      },
    );
    const progress: number[] = [];
    const result = await alice.client.callTool({ name: "confirm", arguments: {} }, undefined, {
      onprogress: (p: { progress: number }) => progress.push(p.progress),
    });
    const got = JSON.parse(text(result));
    assert.equal(got.caller, "alice");
    assert.deepEqual(asked, ["alice: Delete everything of alice?"], "only Alice was asked");
    // The child saw exactly one answer, Alice's, and no identity in its _meta.
    assert.deepEqual(got.answers, [{
      action: "accept",
      content: { by: "alice" },
      _meta: { other: 1 },
    }]);
    const [warn] = dropped(log);
    assert.equal(
      warn.fields.client,
      "spiffe://example.org/bob",
      `the drop names the peer: ${JSON.stringify(warn)}`,
    );
    assert.equal(warn.fields.id, 1000);
    assert.ok(warn.fields.session, "the drop names the session");
    assert.deepEqual(progress, [1, 2]);
    // Global notifications still reach every session...
    await waitFor(
      () => mallory.seen.some((n) => n.method === "notifications/tools/list_changed"),
      "list_changed to reach Mallory",
    );
    await waitFor(
      () => alice.seen.some((n) => n.method === "notifications/message"),
      "Alice's log line to reach Alice",
    );
    // ...but Alice's log line and progress do not reach Mallory.
    const leaked = mallory.seen.filter((n) => n.method !== "notifications/tools/list_changed");
    assert.deepEqual(leaked, [], "nothing of Alice's call reached Mallory");
    // A second answer from Alice herself, now that the request is answered, is dropped too.
    await alice.raw({ jsonrpc: "2.0", id: 1000, result: { action: "accept" } });
    await waitFor(() => dropped(log).length === 2, "the late response to be dropped");
  } finally {
    await alice.close();
    await mallory.close();
    await server.close();
  }
});

Deno.test("per-session child: a response to a request the child never sent is dropped", async () => {
  const { server, log } = await bridge("per-session");
  const alice = await client(server.url, fx.alice);
  try {
    await alice.raw({
      jsonrpc: "2.0",
      id: 1000,
      result: { action: "accept", content: { by: "early" } },
    });
    await waitFor(() => dropped(log).length === 1, "the unsolicited response to be dropped");
    alice.client.setRequestHandler(ElicitRequestSchema, () => ({
      action: "accept",
      content: { by: "alice" },
      _meta: { [IDENTITY]: { commonName: "root" } },
    }));
    const got = JSON.parse(text(await alice.client.callTool({ name: "confirm", arguments: {} })));
    assert.equal(got.caller, "alice");
    assert.deepEqual(got.answers, [{ action: "accept", content: { by: "alice" }, _meta: {} }]);
    assert.equal(dropped(log)[0].fields.client, "spiffe://example.org/agent");
  } finally {
    await alice.close();
    await server.close();
  }
});

/** A child that records what it is sent; `say` makes it write a message. */
function fakeChild() {
  const received: BridgeMessage[] = [];
  let exit!: (e: ChildExit) => void;
  const exited = new Promise<ChildExit>((r) => (exit = r));
  const child: StdioChild = {
    pid: 1,
    exited,
    send: (m) => {
      received.push(m);
      return Promise.resolve();
    },
    close: () => {
      const e = { code: 0, signal: null, stderrTail: [] } as unknown as ChildExit;
      exit(e);
      return Promise.resolve(e);
    },
  };
  return { child, received, say: (m: Record<string, unknown>) => child.onmessage?.(m as never) };
}

Deno.test("shared child, by itself: answers, cancellations and notifications go only to their session", async () => {
  const log = collectingLogger();
  const fake = fakeChild();
  const shared = createSharedChild(() => fake.child, log);
  const got = { alice: [] as BridgeMessage[], mallory: [] as BridgeMessage[] };
  const alice = shared.openLink();
  const mallory = shared.openLink();
  alice.onmessage = (m) => got.alice.push(m);
  mallory.onmessage = (m) => got.mallory.push(m);
  mallory.peer = () => ({ client: "cn:mallory", session: "s-m" });
  const responses = () => fake.received.filter((m) => m.method === undefined);
  try {
    await alice.send({ jsonrpc: "2.0", id: 0, method: "tools/call", params: { name: "confirm" } });
    const callId = fake.received.at(-1)!.id!;
    fake.say({ jsonrpc: "2.0", id: "ask", method: "elicitation/create", params: {} });
    fake.say({ jsonrpc: "2.0", method: "notifications/message", params: { data: "alice's" } });
    assert.deepEqual(got.alice.map((m) => m.method), [
      "elicitation/create",
      "notifications/message",
    ]);
    assert.equal(got.mallory.length, 0);
    // Mallory's answer is dropped, and logged with who sent it.
    await mallory.send({ jsonrpc: "2.0", id: "ask", result: { action: "accept" } });
    assert.deepEqual(responses(), []);
    const warn = log.records.find((r) => r.level === "warn");
    assert.equal(warn?.fields.reason, "identity_denied");
    assert.equal(warn?.fields.client, "cn:mallory");
    assert.equal(warn?.fields.session, "s-m");
    // Alice's answer goes through, once.
    await alice.send({ jsonrpc: "2.0", id: "ask", result: { action: "decline" } });
    await alice.send({ jsonrpc: "2.0", id: "ask", result: { action: "decline" } });
    assert.deepEqual(responses(), [{ jsonrpc: "2.0", id: "ask", result: { action: "decline" } }]);
    // A child's cancellation of its request goes to the session it asked.
    fake.say({ jsonrpc: "2.0", id: "ask2", method: "roots/list" });
    fake.say({ jsonrpc: "2.0", method: "notifications/cancelled", params: { requestId: "ask2" } });
    assert.equal(got.alice.at(-1)?.method, "notifications/cancelled");
    assert.equal(got.mallory.length, 0);
    // With two sessions busy, an unowned notification reaches neither; global ones reach both.
    await mallory.send({ jsonrpc: "2.0", id: 0, method: "tools/call", params: { name: "x" } });
    const before = got.alice.length;
    fake.say({ jsonrpc: "2.0", method: "notifications/message", params: { data: "whose?" } });
    fake.say({ jsonrpc: "2.0", method: "notifications/tools/list_changed" });
    assert.deepEqual(got.alice.slice(before).map((m) => m.method), [
      "notifications/tools/list_changed",
    ]);
    assert.deepEqual(got.mallory.map((m) => m.method), ["notifications/tools/list_changed"]);
    // resources/updated goes to subscribers of that URI only.
    await alice.send({
      jsonrpc: "2.0",
      id: 1,
      method: "resources/subscribe",
      params: { uri: "a" },
    });
    const subscribeId = fake.received.at(-1)!.id!;
    fake.say({ jsonrpc: "2.0", method: "notifications/resources/updated", params: { uri: "a" } });
    assert.equal(got.alice.at(-1)?.method, "notifications/resources/updated");
    assert.equal(got.mallory.at(-1)?.method, "notifications/tools/list_changed");
    // A session that closes with a child request unanswered: the child gets an error answer.
    // Alice's requests answered: Mallory is the only busy one.
    fake.say({ jsonrpc: "2.0", id: callId, result: {} });
    fake.say({ jsonrpc: "2.0", id: subscribeId, result: {} });
    fake.say({ jsonrpc: "2.0", id: "ask3", method: "sampling/createMessage", params: {} });
    assert.equal(got.mallory.at(-1)?.id, "ask3");
    await mallory.close();
    assert.equal(responses().at(-1)?.id, "ask3");
    assert.ok(responses().at(-1)?.error);
  } finally {
    await shared.close();
  }
});
