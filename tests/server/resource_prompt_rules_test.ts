/**
 * serveMcp() applies the authorization rules for resources and prompts as
 * the gateway and the stdio bridge do (`src/gateway/access.ts`): lists are
 * filtered per identity, and a denied read, subscription, prompt or
 * completion is refused with identity_denied before the SDK server runs.
 */
import assert from "node:assert/strict";
import { McpServer, ResourceTemplate } from "@modelcontextprotocol/sdk/server/mcp.js";
import { SubscribeRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { connectMcpClient } from "../../src/mcp/client_connect.ts";
import type { McpServerFactory } from "../../src/mcp/server_options.ts";
import {
  type Credential,
  type Fixtures,
  INITIALIZE,
  makeFixtures,
  parseMcpBody,
  rawPost,
  startServer,
} from "./_fixtures.ts";

const fx: Fixtures = await makeFixtures();

/** How often each handler of the factory's servers ran. */
const calls = { public: 0, secret: 0, template: 0, complete: 0, greet: 0, admin: 0, subscribe: 0 };

const factory: McpServerFactory = () => {
  const server = new McpServer(
    { name: "rules", version: "1.0.0" },
    { capabilities: { resources: { subscribe: true } } },
  );
  server.registerResource("public", "file:///public/readme", {}, (uri: URL) => {
    calls.public++;
    return { contents: [{ uri: uri.href, text: "public" }] };
  });
  server.registerResource("secret", "file:///secret/keys", {}, (uri: URL) => {
    calls.secret++;
    return { contents: [{ uri: uri.href, text: "secret" }] };
  });
  server.registerResource(
    "docs",
    new ResourceTemplate("file:///docs/{name}", {
      list: undefined,
      complete: {
        name: () => {
          calls.complete++;
          return ["intro"];
        },
      },
    }),
    {},
    (uri: URL) => {
      calls.template++;
      return { contents: [{ uri: uri.href, text: "doc" }] };
    },
  );
  server.registerPrompt("greet", {}, () => {
    calls.greet++;
    return { messages: [{ role: "user", content: { type: "text", text: "hi" } }] };
  });
  server.registerPrompt("admin", {}, () => {
    calls.admin++;
    return { messages: [{ role: "user", content: { type: "text", text: "root" } }] };
  });
  server.server.setRequestHandler(SubscribeRequestSchema, () => {
    calls.subscribe++;
    return {};
  });
  return server;
};

const authorization = {
  rules: [
    {
      identity: "cn:alice",
      tools: [],
      resources: ["file:///public/*"],
      prompts: ["greet"],
    },
    { identity: "spiffe://example.org/bob", tools: ["*"], resources: ["*"], prompts: ["*"] },
  ],
};

function connect(url: string, cred: Credential) {
  return connectMcpClient(url, { ca: fx.ca, cert: cred.cert, key: cred.key, keepAlive: false });
}

/** Opens a session for `cred` with raw POSTs; returns a POST of one message in it. */
async function rawSession(url: string, cred: Credential) {
  const init = await rawPost(fx, url, cred, INITIALIZE);
  const session = init.headers.get("mcp-session-id");
  assert.ok(session, init.text);
  const h = { "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" };
  await rawPost(fx, url, cred, { jsonrpc: "2.0", method: "notifications/initialized" }, h);
  return (body: unknown) => rawPost(fx, url, cred, body, h);
}

Deno.test("serveMcp() filters resources/list, resources/templates/list and prompts/list per identity", async () => {
  const { server } = await startServer(fx, { authorization }, factory);
  try {
    const alice = await connect(server.url, fx.alice);
    try {
      const resources = (await alice.listResources()).resources.map((r) => r.uri);
      assert.deepEqual(resources, ["file:///public/readme"]);
      const templates = (await alice.listResourceTemplates()).resourceTemplates;
      assert.deepEqual(templates, []);
      assert.deepEqual((await alice.listPrompts()).prompts.map((p) => p.name), ["greet"]);
      const read = await alice.readResource({ uri: "file:///public/readme" });
      assert.equal((read.contents[0] as { text: string }).text, "public");
    } finally {
      await alice.close();
    }
    const bob = await connect(server.url, fx.bob);
    try {
      const resources = (await bob.listResources()).resources.map((r) => r.uri).sort();
      assert.deepEqual(resources, ["file:///public/readme", "file:///secret/keys"]);
      const templates = (await bob.listResourceTemplates()).resourceTemplates;
      assert.deepEqual(templates.map((t) => t.uriTemplate), ["file:///docs/{name}"]);
      assert.deepEqual((await bob.listPrompts()).prompts.map((p) => p.name).sort(), [
        "admin",
        "greet",
      ]);
    } finally {
      await bob.close();
    }
  } finally {
    await server.close();
  }
});

Deno.test("serveMcp() refuses a denied resources/read, resources/subscribe, prompts/get and completion with identity_denied before the SDK", async () => {
  const { server, log } = await startServer(fx, { authorization }, factory);
  try {
    const before = { ...calls };
    const post = await rawSession(server.url, fx.alice);
    const who = "spiffe://example.org/agent";
    const denied: [object, string][] = [
      [
        { method: "resources/read", params: { uri: "file:///secret/keys" } },
        'Resource "file:///secret/keys"',
      ],
      [
        { method: "resources/read", params: { uri: "file:///docs/intro" } },
        'Resource "file:///docs/intro"',
      ],
      [
        { method: "resources/subscribe", params: { uri: "file:///secret/keys" } },
        'Resource "file:///secret/keys"',
      ],
      [{ method: "prompts/get", params: { name: "admin" } }, 'Prompt "admin"'],
      [
        {
          method: "completion/complete",
          params: {
            ref: { type: "ref/resource", uri: "file:///docs/{name}" },
            argument: { name: "name", value: "in" },
          },
        },
        'Resource "file:///docs/{name}"',
      ],
      [
        {
          method: "completion/complete",
          params: {
            ref: { type: "ref/prompt", name: "admin" },
            argument: { name: "x", value: "" },
          },
        },
        'Prompt "admin"',
      ],
    ];
    let id = 10;
    for (const [message, what] of denied) {
      const res = await post({ jsonrpc: "2.0", id: ++id, ...message });
      assert.equal(res.status, 403, res.text);
      assert.deepEqual(parseMcpBody(res.text), {
        jsonrpc: "2.0",
        id,
        error: {
          code: -32001,
          message: `${what} is not allowed for ${who}`,
          data: { reason: "identity_denied" },
        },
      });
    }
    // A batch hiding a denied read behind an allowed one is refused whole.
    const batch = await post([
      {
        jsonrpc: "2.0",
        id: 30,
        method: "resources/read",
        params: { uri: "file:///public/readme" },
      },
      { jsonrpc: "2.0", id: 31, method: "resources/read", params: { uri: "file:///secret/keys" } },
    ]);
    assert.equal(batch.status, 403, batch.text);
    assert.deepEqual(calls, { ...before }, "no denied handler ran");

    const refused = log.records.filter((r) =>
      r.msg === "request refused" && r.fields.reason === "identity_denied"
    );
    assert.equal(refused.length, denied.length + 1);
    for (const r of refused) {
      assert.equal(r.level, "warn");
      assert.match(String(r.fields.peer), /127\.0\.0\.1/);
    }

    // The same session is still served for what alice may use.
    const ok = await post({
      jsonrpc: "2.0",
      id: 40,
      method: "prompts/get",
      params: { name: "greet" },
    });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(calls.greet, before.greet + 1);

    // And bob, who may use everything, reaches every handler.
    const bob = await connect(server.url, fx.bob);
    try {
      await bob.readResource({ uri: "file:///secret/keys" });
      await bob.readResource({ uri: "file:///docs/intro" });
      await bob.subscribeResource({ uri: "file:///secret/keys" });
      await bob.getPrompt({ name: "admin" });
      const done = await bob.complete({
        ref: { type: "ref/resource", uri: "file:///docs/{name}" },
        argument: { name: "name", value: "in" },
      });
      assert.deepEqual(done.completion.values, ["intro"]);
    } finally {
      await bob.close();
    }
    assert.deepEqual(
      [calls.secret, calls.template, calls.subscribe, calls.admin, calls.complete],
      [
        before.secret + 1,
        before.template + 1,
        before.subscribe + 1,
        before.admin + 1,
        before.complete + 1,
      ],
    );
  } finally {
    await server.close();
  }
});
