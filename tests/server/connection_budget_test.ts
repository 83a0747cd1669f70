// Who can spend the per-address connection budget: connections that cost TLS
// work and end without a trusted certificate. Bare TCP connects (no byte sent)
// cost nothing and spend nothing; a handshake flood without a certificate is
// still throttled; a certificate that reconnects in a loop is limited by its
// fingerprint, not by its address.
import assert from "node:assert/strict";
import type { ObservableMcpServer } from "../../src/mcp/server.ts";
import { loop, whoami } from "./_budget_peers.ts";
import { type Fixtures, makeFixtures, refusals, startServer } from "./_fixtures.ts";

const fx: Fixtures = await makeFixtures();

const ALICE = "spiffe://example.org/agent";
const admittedAs = (log: Awaited<ReturnType<typeof startServer>>["log"], identity: string) =>
  log.records.filter((r) => r.msg === "client admitted" && r.fields.identity === identity);

Deno.test("serveMcp() admits a good client after 60 bare TCP connects from its address, closed or still open", async () => {
  const { server, log } = await startServer(fx); // the default: 50 per 60 s
  const opts = { hostname: "127.0.0.1", port: server.address.port };
  const held: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 60; i++) (await Deno.connect(opts)).close();
    for (let i = 0; i < 60; i++) held.push(await Deno.connect(opts));
    assert.equal(await whoami(fx, server, fx.alice), "alice");
    assert.equal(admittedAs(log, ALICE).length >= 1, true);
    // Silent connections beyond the budget made room: the oldest was closed, logged once.
    const lines = refusals(log, "rate_limited");
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.equal(lines[0].level, "warn");
    assert.match(String(lines[0].fields.peer), /^127\.0\.0\.1:\d+$/);
    assert.match(
      String(lines[0].fields.detail),
      /Closed the oldest silent connection from "127\.0\.0\.1" to make room/,
    );
  } finally {
    for (const c of held) {
      try {
        c.close();
      } catch { /* closed by the server */ }
    }
    await server.close();
  }
});

Deno.test("serveMcp() throttles a handshake flood without a certificate from one address with rate_limited; other addresses are served", async () => {
  const { server, log } = await startServer(fx, {
    limits: { connectionsPerAddress: { limit: 10, windowMs: 60_000 } },
  });
  let closed = false;
  try {
    const flood = await loop(fx, server.address.port, "127.0.0.1", 40);
    assert.deepEqual(flood, { answered: 0, closed: 40 });
    // Only the budget reached the TLS handshake and the certificate check.
    assert.equal(refusals(log, "no_client_cert").length, 10);
    const lines = refusals(log, "rate_limited");
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.match(
      String(lines[0].fields.detail),
      /More than 10 connections from "127\.0\.0\.1" without a trusted certificate in 60000 ms/,
    );
    assert.equal((server as ObservableMcpServer).metrics().handshakes.refused.rate_limited, 30);

    const other = await loop(fx, server.address.port, "127.0.0.2", 3, fx.alice);
    assert.deepEqual(other, { answered: 3, closed: 0 }, "127.0.0.2 has its own budget");
    await server.close();
    closed = true;
    const summary = log.records.filter((r) => r.msg === "connection refusals suppressed");
    assert.deepEqual(summary.map((r) => [r.fields.address, r.fields.suppressed]), [[
      "127.0.0.1",
      29,
    ]]);
  } finally {
    if (!closed) await server.close();
  }
});

Deno.test("serveMcp() limits one certificate reconnecting in a loop by its fingerprint, without locking out a second certificate from the same address", async () => {
  const { server, log } = await startServer(fx, {
    limits: {
      connectionsPerAddress: { limit: 10, windowMs: 60_000 },
      connectionsPerIdentity: { limit: 5, windowMs: 60_000 },
    },
  });
  let closed = false;
  try {
    const alice = await loop(fx, server.address.port, "127.0.0.1", 30, fx.alice);
    assert.deepEqual(alice, { answered: 5, closed: 25 });
    assert.equal(admittedAs(log, ALICE).length, 5);
    const lines = refusals(log, "rate_limited");
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.equal(lines[0].level, "warn");
    assert.match(String(lines[0].fields.peer), /^127\.0\.0\.1:\d+$/);
    assert.match(
      String(lines[0].fields.detail),
      /More than 5 connections with the certificate "CN=alice" in 60000 ms/,
    );
    const fingerprint = lines[0].fields.fingerprint;
    assert.match(String(fingerprint), /^[0-9a-f]{64}$/);

    // The 25 refusals of alice spent nothing of 127.0.0.1's budget.
    assert.equal(await whoami(fx, server, fx.bob), "bob");
    await server.close();
    closed = true;
    const summary = log.records.filter((r) => r.msg === "connection refusals suppressed");
    assert.deepEqual(summary.map((r) => [r.fields.fingerprint, r.fields.suppressed]), [[
      fingerprint,
      24,
    ]]);
  } finally {
    if (!closed) await server.close();
  }
});
