import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { connectMcpClient, createMtlsFetch } from "../../src/mcp/mod.ts";
import { fixtures, recordingLogger, startMcpServer, startServer } from "./_helpers.ts";

type TextContent = { content: { type: string; text: string }[] };

Deno.test("SDK client through createMtlsFetch: initialize, tools/list, tools/call whoami", async () => {
  const f = await fixtures();
  const server = await startMcpServer({ ...f.server, ca: f.ca });
  const fetch = createMtlsFetch({ ...f.client, ca: f.ca, logger: recordingLogger() });
  const client = new Client({ name: "fetch-test", version: "1.0.0" });
  try {
    await client.connect(
      new StreamableHTTPClientTransport(new URL(server.url + "mcp"), { fetch }),
    );
    assert.equal(client.getServerVersion()?.name, "client-test-server");
    const tools = await client.listTools();
    assert.deepEqual(tools.tools.map((t: { name: string }) => t.name).sort(), ["echo", "whoami"]);
    const who = await client.callTool({ name: "whoami", arguments: {} }) as TextContent;
    assert.deepEqual(JSON.parse(who.content[0].text), { commonName: "agent-1" });
    const echo = await client.callTool({ name: "echo", arguments: { text: "hé" } }) as TextContent;
    assert.equal(echo.content[0].text, "hé");
  } finally {
    await client.close();
    await fetch.close();
    await server.close();
  }
});

Deno.test("connectMcpClient() returns a connected client and close() releases its connections", async () => {
  const f = await fixtures();
  const server = await startMcpServer({ ...f.server, ca: f.ca });
  try {
    const client = await connectMcpClient(server.url + "mcp", {
      ...f.client,
      ca: f.ca,
      clientInfo: { name: "one-call", version: "2.0.0" },
    });
    try {
      const who = await client.callTool({ name: "whoami", arguments: {} }) as TextContent;
      assert.match(who.content[0].text, /agent-1/);
    } finally {
      await client.close();
    }
  } finally {
    await server.close();
  }
});

Deno.test("connectMcpClient() rejects a non-https URL with a ConfigError", async () => {
  await assert.rejects(
    connectMcpClient("http://127.0.0.1:1/mcp"),
    {
      name: "ConfigError",
      code: "invalid_config",
      message: 'URL "http://127.0.0.1:1/mcp" must use "https:" for mutual TLS',
    },
  );
});

Deno.test("createMtlsFetch() keeps one TCP connection alive across sequential requests", async () => {
  const f = await fixtures();
  const server = await startServer({ ...f.server, ca: f.ca });
  const fetch = createMtlsFetch({ ...f.client, ca: f.ca });
  try {
    for (let i = 0; i < 20; i++) assert.equal(await (await fetch(server.url)).text(), "ok");
    assert.equal(server.requests, 20);
    assert.equal(server.connections, 1);
  } finally {
    await fetch.close();
    await server.close();
  }
});

Deno.test("createMtlsFetch({ keepAlive: false }) opens a connection per request", async () => {
  const f = await fixtures();
  const server = await startServer({ ...f.server, ca: f.ca });
  const fetch = createMtlsFetch({ ...f.client, ca: f.ca, keepAlive: false });
  try {
    for (let i = 0; i < 5; i++) assert.equal(await (await fetch(server.url)).text(), "ok");
    assert.equal(server.connections, 5);
  } finally {
    await fetch.close();
    await server.close();
  }
});

Deno.test("createMtlsFetch() accepts a Request object and PEM given as bytes", async () => {
  const f = await fixtures();
  const server = await startServer({ ...f.server, ca: f.ca }, (req, res) => {
    let body = "";
    req.on("data", (c) => body += c);
    req.on("end", () => res.end(`${req.method} ${body}`));
  });
  const enc = new TextEncoder();
  const fetch = createMtlsFetch({
    cert: enc.encode(f.client.cert),
    key: enc.encode(f.client.key),
    ca: [enc.encode(f.ca)],
  });
  try {
    const res = await fetch(new Request(server.url, { method: "POST", body: "ping" }));
    assert.equal(await res.text(), "POST ping");
  } finally {
    await fetch.close();
    await server.close();
  }
});

Deno.test("createMtlsFetch() refuses plain http URLs before connecting", async () => {
  const fetch = createMtlsFetch({});
  try {
    await assert.rejects(fetch("http://127.0.0.1:65000/"), {
      name: "ConfigError",
      message: 'URL scheme "http:" is not allowed: mutual TLS needs "https:"',
    });
  } finally {
    await fetch.close();
  }
});
