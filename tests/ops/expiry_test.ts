import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { scheduleExpiryWarnings } from "../../src/log/tls_events.ts";
import { type Fixtures, makeFixtures } from "../server/_fixtures.ts";
import { collectingLogger } from "../server/_fixtures.ts";
import { newServerCredential, startOpsServer } from "./_ops.ts";

const fx: Fixtures = await makeFixtures();
const DAY = 86_400_000;

Deno.test("a served certificate expiring in 10 days is warned about at start, naming it and the days left", async () => {
  const soon = await newServerCredential(fx, {
    notAfter: new Date(Date.now() + 10 * DAY + 60_000),
  });
  const { server, log } = await startOpsServer(fx, { tls: { cert: soon.cert, key: soon.key } });
  try {
    const w = log.records.filter((r) => r.level === "warn" && /expires in/.test(r.msg));
    assert.equal(w.length, 1, JSON.stringify(w));
    assert.equal(w[0].msg, 'Served certificate "CN=localhost" expires in 10 days (warning at 30)');
    assert.equal(w[0].fields.fingerprint, soon.fingerprint);
    assert.equal(w[0].fields.daysLeft, 10);
    const m = server.metrics().certificates.find((c) => c.role === "server")!;
    assert.ok(Math.abs(m.secondsToExpiry - (10 * 86_400 + 60)) < 30, String(m.secondsToExpiry));
  } finally {
    await server.close();
  }
});

Deno.test("expiryWarningDays and an injected clock decide which certificates are warned about (CA included)", async () => {
  const caEnd = new Date(new X509Certificate(fx.ca).validTo).getTime();
  const serverEnd = new Date(new X509Certificate(fx.server.cert).validTo).getTime();
  assert.ok(caEnd > serverEnd + 10 * DAY, "fixture CA outlives the server certificate");
  // 5 days before the CA expires: the server certificate has already expired.
  const now = () => new Date(caEnd - 5 * DAY);
  const { server, log } = await startOpsServer(fx, { now, expiryWarningDays: 7 });
  try {
    assert.ok(
      log.records.some((r) =>
        r.level === "warn" &&
        r.msg === 'Trusted CA certificate "CN=Test Root CA" expires in 5 days (warning at 7)'
      ),
    );
    assert.ok(
      log.records.some((r) =>
        r.level === "error" && r.msg === 'Served certificate "CN=localhost" has EXPIRED'
      ),
    );
  } finally {
    await server.close();
  }
  const quiet = await startOpsServer(fx, { expiryWarningDays: 0 });
  try {
    assert.ok(!quiet.log.records.some((r) => /expires in|EXPIRED/.test(r.msg)));
  } finally {
    await quiet.server.close();
  }
});

Deno.test("scheduleExpiryWarnings() warns at once and again every interval, and stops", async () => {
  const log = collectingLogger();
  const certs = [{
    role: "ca" as const,
    subject: "CN=X",
    fingerprint: "AB",
    validTo: new Date(Date.now() + 2 * DAY),
  }];
  const stop = scheduleExpiryWarnings(() => certs, 30, () => new Date(), log, 30);
  await new Promise((r) => setTimeout(r, 100));
  stop();
  const n = log.records.length;
  assert.ok(n >= 3, `warned ${n} times`);
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(log.records.length, n);
});
