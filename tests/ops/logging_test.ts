import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { createLogger } from "../../src/log/logger.ts";
import { connectMcpClient } from "../../src/mcp/client_connect.ts";
import { demoServerFactory } from "../../src/mcp/demo_tools.ts";
import { serveMcp } from "../../src/mcp/server.ts";
import { type Fixtures, makeFixtures } from "../server/_fixtures.ts";
import { newServerCredential, servedFingerprint, waitFor } from "./_ops.ts";

const fx: Fixtures = await makeFixtures();

/** The base64 lines of a PEM body (what a leaked key would look like in a log). */
function pemBodyLines(pem: string): string[] {
  return pem.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("-----"));
}

Deno.test("detailedTls logs each handshake with protocol, cipher, SNI, peer subjects, fingerprints and duration, an audit line per admitted client, and never key material (every line of a debug run)", async () => {
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", format: "json", write: (l) => lines.push(l) });
  const server = await serveMcp(demoServerFactory, {
    port: 0,
    logger,
    detailedTls: true,
    tls: { cert: fx.server.cert, key: fx.server.key, ca: fx.ca },
  });
  const next = await newServerCredential(fx);
  let aliceSpan = 0; // ms from before alice's connection to after she closed it
  try {
    const began = performance.now();
    const client = await connectMcpClient(server.url, {
      cert: fx.alice.cert,
      key: fx.alice.key,
      ca: fx.ca,
      logger,
    });
    try {
      await client.callTool({ name: "whoami", arguments: {} });
    } finally {
      await client.close();
    }
    aliceSpan = performance.now() - began;
    await servedFingerprint(fx, server.address.port, fx.bob); // with SNI "localhost"
    await servedFingerprint(fx, server.address.port, fx.otherCaClient).catch(() => {});
    await server.reloadTls({ cert: next.cert, key: next.key });
    await server.reloadTls({ cert: fx.server.cert, key: next.key }).catch(() => {});
    await waitFor(() => lines.find((l) => l.includes('"reason":"unknown_ca"')));
  } finally {
    await server.close();
  }
  const records = lines.map((l) => JSON.parse(l));
  const aliceFp = new X509Certificate(fx.alice.cert).fingerprint256;
  const handshakes = records.filter((r) => r.msg === "TLS handshake");
  assert.ok(handshakes.length >= 3, `one line per handshake, got ${handshakes.length}`);
  const alice = handshakes.find((r) => r.peerChain?.[0]?.fingerprint === aliceFp);
  assert.ok(alice, "alice's handshake is logged with her fingerprint");
  assert.match(alice.protocol, /^TLSv1\.[23]$/);
  assert.match(alice.cipher, /GCM|CHACHA20/);
  assert.match(alice.peerChain[0].subject, /CN=alice/);
  assert.equal(typeof alice.durationMs, "number");
  // Not a speed check: the handshake happened inside the span the test measured around it.
  assert.ok(alice.durationMs >= 0 && alice.durationMs <= aliceSpan, `${alice.durationMs} ms`);
  assert.match(alice.peer, /^127\.0\.0\.1:\d+$/);
  assert.ok(handshakes.some((r) => r.sni === "localhost"), "SNI is logged when sent");
  assert.ok(
    handshakes.some((r) => /CN=mallory/.test(r.peerChain?.[0]?.subject)),
    "refused peers too",
  );

  const audit = records.find((r) =>
    r.msg === "client admitted" && r.identity === "spiffe://example.org/agent"
  );
  assert.ok(audit, "an audit line for alice");
  assert.equal(audit.level, "info");
  assert.equal(audit.identity, "spiffe://example.org/agent");
  assert.match(audit.peer, /^127\.0\.0\.1:\d+$/);
  assert.equal(audit.fingerprint, aliceFp.replaceAll(":", "").toLowerCase());

  const secrets = [fx.server.key, next.key, fx.alice.key, fx.bob.key, fx.otherCaClient.key]
    .flatMap(pemBodyLines);
  assert.ok(secrets.length > 10);
  assert.ok(lines.length > 10);
  for (const line of lines) {
    assert.ok(!line.includes("PRIVATE KEY"), `a PEM key header in ${line}`);
    for (const s of secrets) assert.ok(!line.includes(s), `key material in ${line}`);
    assert.ok(!line.includes("BEGIN CERTIFICATE"), `a certificate body in ${line}`);
  }
});

Deno.test("without detailedTls no handshake line is logged, but the audit line is", async () => {
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", format: "json", write: (l) => lines.push(l) });
  const server = await serveMcp(demoServerFactory, {
    port: 0,
    logger,
    tls: { cert: fx.server.cert, key: fx.server.key, ca: fx.ca },
  });
  try {
    await servedFingerprint(fx, server.address.port, fx.alice);
    await waitFor(() => lines.find((l) => l.includes('"msg":"client admitted"')));
  } finally {
    await server.close();
  }
  assert.ok(!lines.some((l) => l.includes('"msg":"TLS handshake"')));
});
