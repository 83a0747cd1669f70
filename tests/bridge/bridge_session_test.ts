/**
 * createBridgeSession without processes or sockets: a fake transport on the
 * client side and a fake link on the child side.
 */
import assert from "node:assert/strict";
import type { BridgeMessage } from "../../src/mcp/bridge_identity.ts";
import { IDENTITY_META_KEY } from "../../src/mcp/bridge_identity.ts";
import { type ChildLink, createBridgeSession } from "../../src/mcp/bridge_session.ts";
import type { PeerIdentity } from "../../src/policy/identity.ts";
import { collectingLogger } from "../server/_fixtures.ts";

const alice = {
  commonName: "alice",
  subject: "CN=alice",
  fingerprint: "ab".repeat(32),
} as unknown as PeerIdentity;

function harness(mayCall: (tool: string) => boolean = () => true) {
  const toClient: { message: BridgeMessage; related?: unknown }[] = [];
  const toChild: BridgeMessage[] = [];
  let closed = 0;
  const transport = {
    sessionId: "s1",
    start: () => Promise.resolve(),
    send: (message: never, options?: { relatedRequestId?: string | number }) => {
      toClient.push({ message, related: options?.relatedRequestId });
      return Promise.resolve();
    },
    close: () => {
      closed++;
      transport.onclose?.();
      return Promise.resolve();
    },
    onclose: undefined as undefined | (() => void),
    onmessage: undefined as undefined | ((m: never) => void),
  };
  const link: ChildLink = {
    send: (m) => {
      toChild.push(m);
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
  const log = collectingLogger();
  const session = createBridgeSession({ identity: alice, mayCall }, () => link, { logger: log });
  return {
    session,
    transport,
    link,
    log,
    toClient,
    toChild,
    closed: () => closed,
    fromClient: (m: object) => transport.onmessage?.(m as never),
  };
}

Deno.test("the bridge replaces a client's identity _meta with the verified one on requests and drops it on notifications", async () => {
  const h = harness();
  await h.session.connect(h.transport);
  h.fromClient({
    jsonrpc: "2.0",
    id: 1,
    method: "tools/call",
    params: { name: "x", _meta: { [IDENTITY_META_KEY]: "forged", progressToken: 7 } },
  });
  h.fromClient({
    jsonrpc: "2.0",
    method: "notifications/x",
    params: { _meta: { [IDENTITY_META_KEY]: "forged" } },
  });
  const [request, notification] = h.toChild;
  assert.deepEqual(request.params?._meta, { progressToken: 7, [IDENTITY_META_KEY]: alice });
  assert.deepEqual(notification.params?._meta, {});
});

Deno.test("the bridge filters tools/list answers and refuses denied tools/call without reaching the child", async () => {
  const h = harness((tool) => tool === "echo");
  await h.session.connect(h.transport);
  h.fromClient({ jsonrpc: "2.0", id: 1, method: "tools/list" });
  h.link.onmessage?.({
    jsonrpc: "2.0",
    id: 1,
    result: { tools: [{ name: "echo" }, { name: "rm" }], nextCursor: "c" },
  });
  assert.deepEqual(h.toClient[0].message.result, { tools: [{ name: "echo" }], nextCursor: "c" });

  h.fromClient({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "rm" } });
  assert.equal(h.toChild.length, 1, "only tools/list reached the child");
  assert.deepEqual(h.toClient[1].message.error?.data, { reason: "identity_denied" });
  assert.equal(h.toClient[1].message.id, 2);
});

Deno.test("progress from the child goes with its request; other child messages with the only request in flight", async () => {
  const h = harness();
  await h.session.connect(h.transport);
  h.fromClient({
    jsonrpc: "2.0",
    id: 5,
    method: "tools/call",
    params: { name: "a", _meta: { progressToken: "t" } },
  });
  h.link.onmessage?.({
    jsonrpc: "2.0",
    method: "notifications/progress",
    params: { progressToken: "t", progress: 1 },
  });
  h.link.onmessage?.({
    jsonrpc: "2.0",
    method: "notifications/message",
    params: { level: "info" },
  });
  assert.equal(h.toClient[0].related, 5);
  assert.equal(h.toClient[1].related, 5);
  h.link.onmessage?.({ jsonrpc: "2.0", id: 5, result: {} });
  h.link.onmessage?.({ jsonrpc: "2.0", method: "notifications/tools/list_changed" });
  assert.equal(h.toClient[3].related, undefined, "nothing in flight: the standalone stream");
});

Deno.test("when the child exits, each unanswered request gets an error, the exit is logged, and the session closes", async () => {
  const h = harness();
  await h.session.connect(h.transport);
  h.fromClient({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "a" } });
  h.fromClient({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "b" } });
  h.link.onmessage?.({ jsonrpc: "2.0", id: 1, result: {} });
  h.link.onexit?.({ code: 137, signal: "SIGKILL", stderrTail: ["secret detail"] });
  const errors = h.toClient.filter((m) => m.message.error);
  assert.deepEqual(errors.map((m) => m.message.id), [2]);
  assert.match(errors[0].message.error!.message, /was killed by SIGKILL/);
  assert.ok(!JSON.stringify(errors).includes("secret detail"), "stderr stays in the log");
  const logged = h.log.records.find((r) => r.msg === "stdio server exited");
  assert.equal(logged?.fields.signal, "SIGKILL");
  assert.equal(logged?.fields.stderr, "secret detail");
  assert.equal(h.closed(), 1);
});
