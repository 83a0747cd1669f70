// The gateway (`serveGateway`, `serve --upstream`) on every runtime: a client
// with bob's certificate calls tools through the gateway running in the
// runtime under test, in front of an mTLS `serveMcp` that knows the gateway by
// alice's certificate. On Bun this failed before the upstream client imported
// undici by file: Bun answers a bare "undici" with a stub whose Pool cannot
// send a request (`initialize` got HTTP 500).
import assert from "node:assert/strict";
import { test } from "node:test";
import { serveGateway } from "../../src/gateway/mod.ts";
import { silentLogger } from "../../src/log/mod.ts";
import { connectMcpClient } from "../../src/mcp/client_connect.ts";
import { serverFixtures, startMcp } from "./_server_fixtures.ts";

const LONG = { timeout: 60_000 };

test(
  "a client calls tools through the gateway, and the upstream sees the gateway's certificate",
  LONG,
  async () => {
    const fx = await serverFixtures();
    const upstream = await startMcp(fx);
    try {
      const gateway = await serveGateway(
        { url: upstream.server.url, ca: fx.ca, cert: fx.alice.cert, key: fx.alice.key },
        {
          hostname: "127.0.0.1",
          port: 0,
          logger: silentLogger,
          tls: { cert: fx.server.cert, key: fx.server.key, ca: fx.ca },
        },
      );
      try {
        const client = await connectMcpClient(gateway.url, { ...fx.bob, ca: fx.ca });
        try {
          const echoed = await client.callTool({ name: "echo", arguments: { text: "through" } });
          const [content] = echoed.content as { type: string; text: string }[];
          assert.match(content.text, /through/);
          // The upstream's whoami answers for the connection it sees: the gateway's (alice's).
          const who = await client.callTool({ name: "whoami", arguments: {} });
          const text = (who.content as { text: string }[])[0].text;
          assert.match(text, /alice/);
          assert.doesNotMatch(text, /bob/);
        } finally {
          await client.close();
        }
      } finally {
        await gateway.close();
      }
    } finally {
      await upstream.server.close();
    }
  },
);
