import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { certificateFingerprint } from "../../src/pki/mod.ts";
import {
  clientFetch,
  type Credential,
  type Fixtures,
  makeFixtures,
  startServer,
} from "./_fixtures.ts";
import type { McpMtlsServer } from "../../src/mcp/server.ts";

const fx: Fixtures = await makeFixtures();

async function connect(server: McpMtlsServer, cred: Credential) {
  const fetch = clientFetch(fx, cred);
  const client = new Client({ name: "sdk-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { fetch }));
  return {
    client,
    async close() {
      await client.close();
      await fetch.close();
    },
  };
}

function whoamiOf(result: unknown): { clientId: string; identity: Record<string, unknown> } {
  const content = (result as { content: { type: string; text: string }[] }).content;
  return JSON.parse(content[0].text);
}

for (const sessions of ["stateful", "stateless"] as const) {
  Deno.test(`SDK client over mTLS (${sessions}) initializes, lists tools and whoami returns the certificate identity`, async () => {
    const { server } = await startServer(fx, { sessions });
    const c = await connect(server, fx.alice);
    try {
      const tools = await c.client.listTools();
      assert.deepStrictEqual(tools.tools.map((t: { name: string }) => t.name).sort(), [
        "echo",
        "time",
        "whoami",
      ]);
      const who = whoamiOf(await c.client.callTool({ name: "whoami", arguments: {} }));
      const id = who.identity;
      const x = new X509Certificate(fx.alice.cert);
      assert.deepStrictEqual(who.clientId, "spiffe://example.org/agent");
      assert.deepStrictEqual(id.commonName, "alice");
      assert.deepStrictEqual(id.spiffeId, "spiffe://example.org/agent");
      assert.deepStrictEqual(id.fingerprint, x.fingerprint256.replaceAll(":", "").toLowerCase());
      assert.deepStrictEqual(
        id.fingerprint,
        (await certificateFingerprint(fx.alice.bundle.certificate)).replaceAll(":", "")
          .toLowerCase(),
      );
      // Whole bytes, as OpenSSL prints serials (07:06:...); Deno's node:crypto drops a leading
      // zero nibble ("706..."), so the two are compared without leading zeros.
      assert.match(String(id.serialNumber), /^([0-9A-F]{2})+$/);
      assert.deepStrictEqual(
        String(id.serialNumber).replace(/^0+/, ""),
        x.serialNumber.toUpperCase().replace(/^0+/, ""),
      );
      assert.deepStrictEqual(id.subjectAltNames, {
        dns: ["alice.local"],
        ip: ["10.0.0.7"],
        uri: ["spiffe://example.org/agent"],
        email: ["alice@example.org"],
      });
      assert(typeof id.spkiPin === "string" && (id.spkiPin as string).length === 44);
      const echo = await c.client.callTool({ name: "echo", arguments: { text: "hi" } });
      assert.deepStrictEqual((echo as { content: { text: string }[] }).content[0].text, "hi");
      if (sessions === "stateful") assert.deepStrictEqual(server.sessionCount, 1);
    } finally {
      await c.close();
      await server.close();
    }
  });
}

Deno.test("closing the server closes open sessions and connections", async () => {
  const { server } = await startServer(fx);
  const c = await connect(server, fx.bob);
  assert.deepStrictEqual(server.sessionCount, 1);
  await server.close();
  assert.deepStrictEqual(server.sessionCount, 0);
  await c.close().catch(() => {});
});
