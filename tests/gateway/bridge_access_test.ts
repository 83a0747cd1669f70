/**
 * The stdio bridge applies the same resource and prompt rules as the
 * gateway (`src/gateway/access.ts`): denied reads, subscriptions and prompts
 * never reach the child, and list answers are filtered.
 */

import assert from "node:assert/strict";
import type { BridgeMessage } from "../../src/mcp/bridge_identity.ts";
import { type ChildLink, createBridgeSession } from "../../src/mcp/bridge_session.ts";
import { compileAuthorization } from "../../src/policy/authorization.ts";
import type { PeerIdentity } from "../../src/policy/identity.ts";
import { collectingLogger } from "../server/_fixtures.ts";

const alice = {
  commonName: "alice",
  subject: "CN=alice",
  subjectAltNames: { dns: [], ip: [], uri: [], email: [] },
  fingerprint: "ab".repeat(32),
} as unknown as PeerIdentity;

Deno.test("the stdio bridge refuses denied resources and prompts and filters their lists", async () => {
  const mayCall = compileAuthorization({
    rules: [{
      identity: "cn:alice",
      tools: ["*"],
      resources: ["file:///public/*"],
      prompts: ["ok"],
    }],
  })(alice);
  const toClient: BridgeMessage[] = [];
  const toChild: BridgeMessage[] = [];
  const transport = {
    sessionId: "s1",
    start: () => Promise.resolve(),
    send: (message: never) => {
      toClient.push(message);
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
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
  const session = createBridgeSession({ identity: alice, mayCall }, () => link, {
    logger: collectingLogger(),
  });
  await session.connect(transport);
  const send = (m: object) => transport.onmessage?.(m as never);
  send({ jsonrpc: "2.0", id: 1, method: "resources/read", params: { uri: "file:///etc/passwd" } });
  send({ jsonrpc: "2.0", id: 2, method: "prompts/get", params: { name: "secret" } });
  send({ jsonrpc: "2.0", id: 3, method: "resources/read", params: { uri: "file:///public/a" } });
  send({ jsonrpc: "2.0", id: 4, method: "prompts/list", params: {} });
  assert.deepEqual(toChild.map((m) => m.id), [3, 4]);
  assert.deepEqual(toClient.map((m) => m.error?.message), [
    'Resource "file:///etc/passwd" is not allowed for cn:alice',
    'Prompt "secret" is not allowed for cn:alice',
  ]);
  assert.deepEqual(toClient.map((m) => (m.error?.data as { reason: string }).reason), [
    "identity_denied",
    "identity_denied",
  ]);
  link.onmessage?.({
    jsonrpc: "2.0",
    id: 4,
    result: { prompts: [{ name: "ok" }, { name: "secret" }] },
  });
  assert.deepEqual(toClient[2].result, { prompts: [{ name: "ok" }] });
  await session.close();
});
