/** Client auth modes other than the default, and session expiry. */
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  clientFetch,
  type Credential,
  type Fixtures,
  INITIALIZE,
  makeFixtures,
  rawPost,
  startServer,
} from "./_fixtures.ts";
import type { McpMtlsServer } from "../../src/mcp/server.ts";

const fx: Fixtures = await makeFixtures();

async function whoami(server: McpMtlsServer, cred?: Credential) {
  const fetch = clientFetch(fx, cred);
  const client = new Client({ name: "modes", version: "1.0.0" });
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { fetch }));
    const r = await client.callTool({ name: "whoami", arguments: {} });
    return JSON.parse((r as { content: { text: string }[] }).content[0].text);
  } finally {
    await client.close();
    await fetch.close();
  }
}

Deno.test("clientAuth optional admits an anonymous client (with a warning) and still identifies one with a certificate", async () => {
  const { server, log } = await startServer(fx, { tls: { clientAuth: "optional" } });
  try {
    assert.deepStrictEqual(await whoami(server), { clientId: "anonymous", identity: null });
    assert.ok(log.records.some((r) => /WITHOUT a certificate/.test(r.msg)));
    const who = await whoami(server, fx.alice);
    assert.equal(who.identity.commonName, "alice");
    await rawPost(fx, server.url, fx.otherCaClient, INITIALIZE).catch(() => {});
    await log.waitForReason("unknown_ca");
  } finally {
    await server.close();
  }
});

Deno.test("clientAuth none never asks for a certificate", async () => {
  const { server, log } = await startServer(fx, { tls: { clientAuth: "none" } });
  try {
    assert.ok(log.records.some((r) => r.level === "warn" && /"none"/.test(r.msg)));
    const who = await whoami(server, fx.alice);
    assert.equal(who.identity, null);
  } finally {
    await server.close();
  }
});

Deno.test("a stateful session idle longer than sessionIdleMs is closed", async () => {
  const { server, log } = await startServer(fx, { limits: { sessionIdleMs: 100 } });
  try {
    const init = await rawPost(fx, server.url, fx.alice, INITIALIZE);
    assert.equal(init.status, 200);
    assert.equal(server.sessionCount, 1);
    const end = Date.now() + 3000;
    while (server.sessionCount > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    assert.equal(server.sessionCount, 0);
    assert.ok(log.records.some((r) => r.msg === "session expired"));
    const again = await rawPost(fx, server.url, fx.alice, {
      jsonrpc: "2.0",
      id: 2,
      method: "tools/list",
    }, { "mcp-session-id": init.headers.get("mcp-session-id")! });
    assert.equal(again.status, 404);
  } finally {
    await server.close();
  }
});

Deno.test("whoami identity matches node:crypto's view of the client certificate", async () => {
  const { server } = await startServer(fx, { sessions: "stateless" });
  try {
    const who = await whoami(server, fx.bob);
    const x = new X509Certificate(fx.bob.cert);
    assert.equal(who.identity.subject, x.subject);
    assert.equal(who.identity.issuer, x.issuer);
    assert.equal(who.identity.notAfter, new Date(x.validTo).toISOString());
  } finally {
    await server.close();
  }
});
