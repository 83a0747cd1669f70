/**
 * One test body, run twice against the same SDK-built upstream: once
 * directly (plain HTTP on loopback) and once through the gateway (mutual
 * TLS, our `createMtlsFetch`). Both runs must see the same results: tools
 * with progress and logging, resources with templates and subscriptions,
 * prompts with completion, elicitation and sampling round trips, and
 * cancellation.
 */

import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
} from "@modelcontextprotocol/sdk/types.js";
import { createMtlsFetch } from "../../src/mcp/client_fetch.ts";
import { collectingLogger, makeFixtures } from "../server/_fixtures.ts";
import { startGateway } from "./_gateway.ts";
import { startUpstream, type Upstream } from "./_upstream.ts";

const fx = await makeFixtures();

async function until(what: string, done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!done()) throw new Error(`Timed out waiting for ${what}`);
}

/** The body both paths run: every feature, results collected for comparison. */
async function exercise(client: Client, upstream: Upstream): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  const logs: unknown[] = [];
  const updates: string[] = [];
  client.setNotificationHandler(
    LoggingMessageNotificationSchema,
    (n: { params: { data: unknown } }) => {
      logs.push(n.params.data);
    },
  );
  client.setNotificationHandler(
    ResourceUpdatedNotificationSchema,
    (n: { params: { uri: string } }) => {
      updates.push(n.params.uri);
    },
  );
  out.tools = (await client.listTools()).tools.map((t: { name: string }) => t.name).sort();
  out.echo = await client.callTool({ name: "echo", arguments: { text: "hi" } });
  const progress: number[] = [];
  out.progress = await client.callTool(
    { name: "progress", arguments: { steps: 3 } },
    undefined,
    { onprogress: (p: { progress: number }) => progress.push(p.progress) },
  );
  out.progressSeen = progress;
  out.log = await client.callTool({ name: "log", arguments: {} });
  out.logs = logs;
  out.resources = (await client.listResources()).resources.map((r: { uri: string }) => r.uri)
    .sort();
  out.templates = (await client.listResourceTemplates()).resourceTemplates
    .map((t: { uriTemplate: string }) => t.uriTemplate).sort();
  out.read = await client.readResource({ uri: "file:///public/files/x" });
  await client.subscribeResource({ uri: "file:///public/readme" });
  await upstream.updated("file:///public/readme");
  await until("the resource update", () => updates.length > 0);
  out.updates = updates;
  out.prompts = (await client.listPrompts()).prompts.map((p: { name: string }) => p.name).sort();
  out.prompt = await client.getPrompt({ name: "greeting", arguments: { name: "bob" } });
  out.complete = await client.complete({
    ref: { type: "ref/prompt", name: "greeting" },
    argument: { name: "name", value: "b" },
  });
  out.ask = await client.callTool({ name: "ask", arguments: {} });
  out.sample = await client.callTool({ name: "sample", arguments: {} });
  // Cancellation: abort once the upstream has the call; the upstream sees notifications/cancelled.
  const calls = () => upstream.messages().filter((m) => m.method === "tools/call").length;
  const before = calls();
  const abort = new AbortController();
  const slow = client.callTool({ name: "slow", arguments: { ms: 60_000 } }, undefined, {
    signal: abort.signal,
  });
  await until("the slow call upstream", () => calls() > before);
  abort.abort("changed my mind");
  out.cancelled = await slow.then(() => "answered", (e: unknown) => String(e));
  await until(
    "notifications/cancelled upstream",
    () => upstream.messages().some((m) => m.method === "notifications/cancelled"),
  );
  return out;
}

function newClient(): Client {
  const client = new Client(
    { name: "parity", version: "1.0.0" },
    { capabilities: { elicitation: {}, sampling: {} } },
  );
  client.setRequestHandler(ElicitRequestSchema, () => ({
    action: "accept",
    content: { name: "Zoë" },
  }));
  client.setRequestHandler(CreateMessageRequestSchema, () => ({
    model: "test-model",
    role: "assistant",
    content: { type: "text", text: "4" },
  }));
  return client;
}

Deno.test("serveGateway() behaves like the upstream reached directly, feature by feature", async () => {
  const direct = await startUpstream();
  const behind = await startUpstream();
  const { gateway } = await startGateway(fx, behind.url);
  const fetch = createMtlsFetch({
    cert: fx.alice.cert,
    key: fx.alice.key,
    ca: fx.ca,
    logger: collectingLogger(),
  });
  const clients: Client[] = [];
  try {
    const a = newClient();
    clients.push(a);
    await a.connect(new StreamableHTTPClientTransport(new URL(direct.url)));
    const directResults = await exercise(a, direct);

    const b = newClient();
    clients.push(b);
    await b.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { fetch }));
    const gatewayResults = await exercise(b, behind);

    assert.deepEqual(gatewayResults, directResults);
    // The body really exercised something: spot checks of the shared results.
    assert.deepEqual(directResults.progressSeen, [1, 2, 3]);
    assert.deepEqual(directResults.logs, ["a log line"]);
    assert.deepEqual(directResults.updates, ["file:///public/readme"]);
    assert.match(JSON.stringify(directResults.ask), /Zoë/);
    assert.match(String(directResults.cancelled), /changed my mind/);
  } finally {
    for (const c of clients) await c.close().catch(() => {});
    await fetch.close();
    await gateway.close();
    await direct.close();
    await behind.close();
  }
});
