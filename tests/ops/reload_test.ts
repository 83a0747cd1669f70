import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { connectMcpClient } from "../../src/mcp/client_connect.ts";
import { isMtlsError } from "../../src/errors.ts";
import { type Fixtures, makeFixtures } from "../server/_fixtures.ts";
import { newServerCredential, servedFingerprint, startOpsServer, waitFor } from "./_ops.ts";

const fx: Fixtures = await makeFixtures();
/** A value once it has not changed for 150 ms (server-side admission trails the client's handshake). */
async function settled(f: () => number): Promise<number> {
  for (let last = f();;) {
    await new Promise((r) => setTimeout(r, 150));
    const now = f();
    if (now === last) return now;
    last = now;
  }
}
const fp = (pem: string) => new X509Certificate(pem).fingerprint256;

Deno.test("reloadTls() serves a new certificate to new connections while an open session keeps working; garbage and a mismatched key are refused and the last good certificate keeps serving", async () => {
  const { server, log } = await startOpsServer(fx);
  const client = await connectMcpClient(server.url, {
    cert: fx.alice.cert,
    key: fx.alice.key,
    ca: fx.ca,
    logger: log,
  });
  try {
    const port = server.address.port;
    const before = await client.callTool({ name: "whoami", arguments: {} });
    assert.match(JSON.stringify(before), /alice/);
    assert.equal(await servedFingerprint(fx, port, fx.alice), fp(fx.server.cert));

    const next = await newServerCredential(fx);
    await server.reloadTls({ cert: next.cert, key: next.key });
    assert.equal(await servedFingerprint(fx, port, fx.alice), next.fingerprint);
    const admitted = await settled(() => server.metrics().handshakes.admitted); // session + probes
    const reloaded = log.records.find((r) => r.msg === "TLS material reloaded");
    assert.ok(reloaded, "reload logged");
    assert.match(JSON.stringify(reloaded.fields), new RegExp(next.fingerprint));
    // The session opened before the reload continues, on its established connection.
    const after = await client.callTool({ name: "whoami", arguments: {} });
    assert.match(JSON.stringify(after), /alice/);
    assert.equal(
      server.metrics().handshakes.admitted,
      admitted,
      "no new connection for the session",
    );

    // Garbage: refused, logged, the new-but-good certificate keeps serving.
    await assert.rejects(
      server.reloadTls({
        cert: "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n",
      }),
      (e) => isMtlsError(e, "invalid_pem"),
    );
    await assert.rejects(
      server.reloadTls({ cert: "garbage", key: "garbage" }),
      (e) => isMtlsError(e, "invalid_config"),
    );
    // A key that belongs to another certificate.
    await assert.rejects(
      server.reloadTls({ cert: fx.server.cert, key: next.key }),
      (e) => isMtlsError(e, "key_mismatch"),
    );
    const errors = log.records.filter((r) =>
      r.level === "error" && r.msg.startsWith("TLS reload refused")
    );
    assert.equal(errors.length, 3);
    assert.match(String(errors[2].fields.error), /does not belong to the certificate/);
    assert.equal(await servedFingerprint(fx, port, fx.alice), next.fingerprint);
    const again = await client.callTool({ name: "whoami", arguments: {} });
    assert.match(JSON.stringify(again), /alice/);
    assert.deepEqual(server.metrics().reloads, { ok: 1, failed: 3 });
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("reloadTls() with a new CA: clients of the old CA are refused, clients of the new one admitted", async () => {
  const { server, log } = await startOpsServer(fx);
  try {
    const port = server.address.port;
    await server.reloadTls({ ca: fx.otherCa });
    // Handshake completes (the server certificate is unchanged), then the chain check refuses alice.
    await servedFingerprint(fx, port, fx.alice).catch(() => {});
    await log.waitForReason("unknown_ca");
    await servedFingerprint(fx, port, fx.otherCaClient);
    const admitted = await waitFor(() =>
      log.records.find((r) => r.msg === "client admitted" && r.fields.identity === "cn:mallory")
    );
    assert.ok(admitted, "a client of the new CA is admitted");
    await assert.rejects(
      server.reloadTls({ ca: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n" }),
      (e) => isMtlsError(e, "invalid_config"),
    );
  } finally {
    await server.close();
  }
});

Deno.test("reloadTls() with a new CA closes kept-alive connections of clients it no longer trusts; trusted ones keep theirs", async () => {
  const { server, log } = await startOpsServer(fx);
  const alice = await connectMcpClient(server.url, {
    cert: fx.alice.cert,
    key: fx.alice.key,
    ca: fx.ca,
  });
  try {
    await alice.callTool({ name: "echo", arguments: { text: "before" } });
    const admissions = () => log.records.filter((r) => r.msg === "client admitted").length;
    const before = admissions();
    // Still trusted (her CA stays in the bundle): her open connection keeps working as is.
    await server.reloadTls({ ca: [fx.ca, fx.otherCa] });
    await alice.callTool({ name: "echo", arguments: { text: "still trusted" } });
    assert.equal(admissions(), before, "no new connection was needed");
    // No longer trusted: the open connection is closed.
    await server.reloadTls({ ca: fx.otherCa });
    const closed = await waitFor(() =>
      log.records.find((r) =>
        r.msg === "connection refused" && r.fields.reason === "unknown_ca" &&
        String(r.fields.detail).startsWith("After a TLS reload: ")
      )
    );
    assert.ok(closed, "alice's open connection is refused and logged with the reload as cause");
    // Her next call needs a new connection, which the new trust refuses.
    await assert.rejects(alice.callTool({ name: "echo", arguments: { text: "after" } }));
  } finally {
    await alice.close().catch(() => {});
    await server.close();
  }
});
