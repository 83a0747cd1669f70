import assert from "node:assert/strict";
import { connectMcpClient } from "../../src/mcp/client_connect.ts";
import { type Fixtures, makeFixtures, run } from "../server/_fixtures.ts";
import { servedFingerprint, startOpsServer, waitFor } from "./_ops.ts";

const fx: Fixtures = await makeFixtures();

const SAMPLE =
  /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:\\.|[^"\\])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:\\.|[^"\\])*")*\})? -?\d+(\.\d+)?(e[+-]?\d+)?$/;
const COMMENT = /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/;

Deno.test("metrics() counts handshakes and requests by outcome and reason; the health port serves /healthz without a client certificate and parseable Prometheus text at /metrics, while /mcp still requires a certificate", async () => {
  const { server, log } = await startOpsServer(fx, { health: { port: 0 } });
  const client = await connectMcpClient(server.url, {
    cert: fx.alice.cert,
    key: fx.alice.key,
    ca: fx.ca,
    logger: log,
  });
  try {
    assert.ok(
      log.records.some((r) =>
        r.level === "warn" && /health endpoint is UNAUTHENTICATED/.test(r.msg)
      ),
    );
    assert.match(server.healthUrl!, /^http:\/\/127\.0\.0\.1:\d+\/healthz$/);
    await client.callTool({ name: "whoami", arguments: {} });
    await servedFingerprint(fx, server.address.port, fx.otherCaClient).catch(() => {});
    await log.waitForReason("unknown_ca");

    // /mcp without a client certificate (curl as the peer): refused.
    const noCert = await run("curl", [
      "-sS",
      "--max-time",
      "5",
      "--cacert",
      fx.caFile,
      "-X",
      "POST",
      server.url,
    ]);
    assert.notEqual(noCert.code, 0, `curl without a certificate got through: ${noCert.stdout}`);
    await log.waitForReason("no_client_cert");

    // The health port answers without one.
    const health = await run("curl", ["-sS", "-i", "--max-time", "5", server.healthUrl!]);
    assert.equal(health.code, 0, health.stderr);
    assert.match(health.stdout, /^HTTP\/1\.1 200/);
    assert.ok(health.stdout.trimEnd().endsWith('{"status":"ok"}'));

    const m = server.metrics();
    assert.ok(m.handshakes.admitted >= 1);
    assert.equal(m.handshakes.refused.unknown_ca, 1);
    assert.equal(m.handshakes.refused.no_client_cert, 1);
    assert.ok(m.requests.served >= 2, JSON.stringify(m.requests)); // initialize, notification, tools/call
    assert.equal(m.requests.failed, 0);
    assert.equal(m.sessions, 1);
    assert.ok(m.connections >= 1);
    assert.deepEqual(m.certificates.map((c) => c.role).sort(), ["ca", "server"]);
    assert.ok(m.certificates.every((c) => c.secondsToExpiry > 86_400));

    const res = await fetch(server.healthUrl!.replace(/\/healthz$/, "/metrics"));
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const lines = text.trimEnd().split("\n");
    for (const line of lines) {
      assert.ok(SAMPLE.test(line) || COMMENT.test(line), `not Prometheus text: ${line}`);
    }
    assert.ok(lines.includes('mcp_mtls_handshakes_total{outcome="refused",reason="unknown_ca"} 1'));
    assert.ok(
      lines.includes('mcp_mtls_handshakes_total{outcome="refused",reason="no_client_cert"} 1'),
    );
    assert.ok(lines.includes("mcp_mtls_sessions 1"));
    assert.ok(
      lines.some((l) =>
        l.startsWith('mcp_mtls_certificate_expiry_seconds{role="server",subject="CN=localhost"')
      ),
    );
    assert.equal((await fetch(server.healthUrl!.replace(/\/healthz$/, "/other"))).status, 404);
    await (await fetch(server.healthUrl!.replace(/\/healthz$/, "/other"))).body?.cancel();
  } finally {
    await client.close();
    await server.close();
  }
  // Closed with the server.
  await assert.rejects(fetch(server.healthUrl!));
});

Deno.test("requests refused after the handshake are counted by reason; without health there is no health URL", async () => {
  const { server, log } = await startOpsServer(fx, {
    authorization: { rules: [{ identity: "*", tools: ["echo"] }] },
  });
  const client = await connectMcpClient(server.url, {
    cert: fx.alice.cert,
    key: fx.alice.key,
    ca: fx.ca,
    logger: log,
  });
  try {
    assert.equal(server.healthUrl, undefined);
    await client.callTool({ name: "whoami", arguments: {} }).catch(() => {});
    await waitFor(() => server.metrics().requests.refused.identity_denied);
    assert.equal(server.metrics().requests.refused.identity_denied, 1);
  } finally {
    await client.close();
    await server.close();
  }
});

Deno.test("an invalid health option is refused naming the key", async () => {
  await assert.rejects(
    startOpsServer(fx, { health: { port: 70000 } }),
    /Option "health\.port" must be an integer from 0 to 65535, got "70000"/,
  );
  await assert.rejects(
    startOpsServer(fx, { expiryWarningDays: -1 }),
    /Option "expiryWarningDays" must be a number of days, 0 or more, got "-1"/,
  );
});

Deno.test("the health port refuses a request whose Host is another DNS name (DNS rebinding) and serves probes by address", async () => {
  const { server, log } = await startOpsServer(fx, { health: { port: 0 } });
  try {
    const url = new URL(server.healthUrl!);
    const metrics = `http://127.0.0.1:${url.port}/metrics`;
    // A page on evil.example whose name now resolves to 127.0.0.1 sends its own Host.
    const evil = await run("curl", [
      "-sS",
      "-i",
      "--max-time",
      "5",
      "-H",
      `Host: evil.example:${url.port}`,
      metrics,
    ]);
    assert.match(evil.stdout, /^HTTP\/1\.1 403 /);
    assert.doesNotMatch(evil.stdout, /mcp_mtls_/);
    const line = log.records.find((r) => r.fields.reason === "origin_denied");
    assert.equal(line?.level, "warn");
    assert.equal(
      line?.fields.detail,
      `Host "evil.example:${url.port}" is not an address of the health listener`,
    );
    for (const host of [`127.0.0.1:${url.port}`, `localhost:${url.port}`, "10.1.2.3"]) {
      const ok = await run("curl", [
        "-sS",
        "-i",
        "--max-time",
        "5",
        "-H",
        `Host: ${host}`,
        metrics,
      ]);
      assert.match(ok.stdout, /^HTTP\/1\.1 200 /, host);
    }
  } finally {
    await server.close();
  }
});
