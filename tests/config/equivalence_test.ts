import assert from "node:assert/strict";
import { loadServeConfig, resolveServeConfig } from "../../src/config/mod.ts";
import { silentLogger } from "../../src/log/mod.ts";
import { connectMcpClient } from "../../src/mcp/client_connect.ts";
import { demoServerFactory } from "../../src/mcp/demo_tools.ts";
import { serveMcp } from "../../src/mcp/server.ts";
import type { ServeMcpOptions } from "../../src/mcp/server_options.ts";
import { type ConfigFixture, makeConfigFixture } from "./_fixture.ts";

type Outcome = { ok: string } | { error: string };

async function outcome(p: Promise<unknown>): Promise<Outcome> {
  try {
    const r = await p as { content?: { text?: string }[]; isError?: boolean };
    const text = r.content?.map((c) => c.text).join("") ?? "";
    return r.isError ? { error: text } : { ok: text };
  } catch (e) {
    const err = e as { code?: unknown; message: string };
    // The port differs between servers; the rest of the refusal must not.
    return { error: `${err.code ?? ""} ${err.message.replace(/:\d+\//, ":PORT/")}` };
  }
}

/** What a client sees of a server: the same calls against each. */
async function observe(fx: ConfigFixture, options: ServeMcpOptions) {
  const server = await serveMcp(demoServerFactory, options);
  try {
    assert.match(server.url, /^https:\/\/127\.0\.0\.1:\d+\/mcp$/);
    assert.notEqual(server.address.port, 8443, "port 0 from the env override was used");
    const client = await connectMcpClient(server.url, { ...fx.client, ca: fx.ca });
    let seen;
    try {
      const tools = (await client.listTools()).tools.map((t: { name: string }) => t.name).sort();
      seen = {
        tools,
        whoami: await outcome(client.callTool({ name: "whoami", arguments: {} })),
        echo: await outcome(client.callTool({ name: "echo", arguments: { text: "hi" } })),
        time: await outcome(client.callTool({ name: "time", arguments: {} })),
      };
    } finally {
      await client.close();
    }
    let noCert = "admitted";
    try {
      const anon = await connectMcpClient(server.url, { ca: fx.ca });
      await anon.close();
    } catch (e) {
      noCert = String((e as { code?: string }).code);
    }
    return { ...seen, noCert };
  } finally {
    await server.close();
  }
}

Deno.test("the same server from options, from YAML and from JSON behaves the same", async () => {
  const fx = await makeConfigFixture();
  // The example config, written out by hand as the options object.
  const fromOptions: ServeMcpOptions = {
    hostname: "127.0.0.1",
    port: 0,
    path: "/mcp",
    tls: {
      cert: fx.server.cert,
      key: fx.server.key,
      ca: [fx.ca],
      clientAuth: "require",
      minVersion: "TLSv1.2",
    },
    policy: "strict",
    maxChainDepth: 3,
    authorization: { rules: [{ identity: "cn:mcp-client", tools: ["whoami", "echo"] }] },
    sessions: "stateful",
    limits: {
      handshakeTimeoutMs: 10000,
      idleTimeoutMs: 30000,
      maxBodyBytes: 1048576,
      maxConnections: 1024,
      connectionsPerAddress: { limit: 50, windowMs: 60000 },
      maxSessions: 1000,
      sessionIdleMs: 1800000,
    },
    logger: silentLogger,
  };
  const logs: string[] = [];
  const fromFile = async (configFile: string) =>
    (await resolveServeConfig({
      configFile,
      env: { MCP_MTLS_PORT: "0" },
      logWrite: (l) => logs.push(l),
    })).options;

  const a = await observe(fx, fromOptions);
  const b = await observe(fx, await fromFile(fx.yaml));
  const c = await observe(fx, await fromFile(fx.json));

  assert.deepEqual(a.tools, ["echo", "whoami"], "authorization hides 'time'");
  assert.ok("ok" in a.whoami && a.whoami.ok.includes("mcp-client"), JSON.stringify(a.whoami));
  assert.deepEqual(a.echo, { ok: "hi" });
  assert.ok("error" in a.time, `time is refused: ${JSON.stringify(a.time)}`);
  assert.equal(a.noCert, "no_client_cert");
  assert.deepEqual(b, a);
  assert.deepEqual(c, a);
  assert.ok(logs.length > 0, "the config's logger wrote through logWrite");
});

Deno.test("loadServeConfig() reads the YAML and JSON examples to the same config", async () => {
  const fx = await makeConfigFixture();
  const y = await loadServeConfig({ file: fx.yaml });
  const j = await loadServeConfig({ file: fx.json });
  assert.deepEqual(y, j);
  assert.equal(y.tls.cert, `${fx.certs}/server.crt`, "paths are relative to the file");
  assert.deepEqual(y.tls.ca, [`${fx.certs}/ca.crt`]);
});
