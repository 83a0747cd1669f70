/**
 * The life of `serve --workers 2`: one shared port whose connections reach
 * both workers, counters summed on the health listener, a CRL update that
 * closes a revoked client's connections on every worker, a worker that ends
 * replaced, and a shutdown that drains them all.
 */
import assert from "node:assert/strict";
import type { ClientRequest, IncomingMessage } from "node:http";
import https from "node:https";
import { createCrl, crlToPem } from "../../src/pki/crl.ts";
import { type Fixtures, makeFixtures } from "../server/_fixtures.ts";
import { agentFor, callTool, certsDir, initialize, startTestPool } from "./_pool.ts";

const fx: Fixtures = await makeFixtures();
const dir = await certsDir(fx);

/** Opens the session's GET stream; resolves with its response (open until the server ends it). */
function openStream(
  url: string,
  agent: https.Agent,
  sid: string,
): Promise<{ req: ClientRequest; res: IncomingMessage; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method: "GET",
      agent,
      headers: {
        accept: "text/event-stream",
        "mcp-session-id": sid,
        "mcp-protocol-version": "2025-06-18",
      },
    }, (res) => {
      if (res.statusCode !== 200) reject(new Error(`GET stream: HTTP ${res.statusCode}`));
      const ended = new Promise<void>((done) => res.once("close", () => done()));
      res.resume();
      resolve({ req, res, ended });
    });
    req.on("error", () => {});
    req.end();
  });
}

Deno.test("workers share one port: fresh connections reach both, and /metrics sums their counters", async () => {
  const { pool, url } = await startTestPool(dir, { health: { port: 0 } }, 2, false);
  try {
    assert.equal(pool.ports[0], pool.ports[1]);
    for (let i = 0; i < 24; i++) {
      const a = agentFor(fx, fx.alice);
      try {
        await initialize(url(0), a);
      } finally {
        a.destroy();
      }
    }
    const each = await pool.workerMetrics();
    const admitted = each.map((m) => m!.handshakes.admitted);
    // The kernel hashes each connection to a worker: 24 all on one has odds of 2^-23.
    assert.ok(admitted.every((n) => n > 0), `admitted per worker: ${admitted}`);
    const text = await (await fetch(pool.healthUrl!.replace("/healthz", "/metrics"))).text();
    const sum = admitted.reduce((x, y) => x + y, 0);
    assert.match(
      text,
      new RegExp(`^mcp_mtls_handshakes_total\\{outcome="admitted"\\} ${sum}$`, "m"),
    );
    // 24 sessions of one identity on two workers, and its cap (16 by default) held across them.
    assert.match(text, /^mcp_mtls_sessions 16$/m);
  } finally {
    await pool.close();
  }
});

Deno.test("a CRL update closes the revoked client's connections on every worker", async () => {
  const own = await certsDir(fx);
  const { pool, url } = await startTestPool(own);
  const agents = [agentFor(fx, fx.alice), agentFor(fx, fx.alice), agentFor(fx, fx.bob)];
  const streams: ClientRequest[] = [];
  try {
    const s0 = await initialize(url(0), agents[0]);
    const s1 = await initialize(url(1), agents[1]);
    const onW0 = await openStream(url(0), agents[0], s0);
    const onW1 = await openStream(url(1), agents[1], s1);
    streams.push(onW0.req, onW1.req);
    const bobSid = await initialize(url(1), agents[2]);

    const der = await createCrl(fx.caAsClient.bundle, [{
      serialNumber: fx.alice.bundle.certificate.serialNumber,
      revocationDate: new Date(Date.now() - 1000),
      reason: "keyCompromise",
    }], { crlNumber: 1 });
    await Deno.writeTextFile(`${own}/ca.crl.tmp`, crlToPem(der));
    await Deno.rename(`${own}/ca.crl.tmp`, `${own}/ca.crl`); // atomic, as `certs revoke` writes it

    // Both of alice's connections are closed, each by its own worker.
    await Promise.all([onW0.ended, onW1.ended]);
    const m = await pool.metrics();
    assert.equal(m.handshakes.refused.revoked, 2);
    // Bob, not revoked, keeps his session.
    assert.equal((await callTool(url(0), agents[2], bobSid, "whoami")).status, 200);
  } finally {
    for (const s of streams) s.destroy();
    for (const a of agents) a.destroy();
    await pool.close();
  }
});

Deno.test("a reload (SIGHUP) reaches every worker: each one reloads its TLS material", async () => {
  const { pool } = await startTestPool(dir);
  try {
    const before = (await pool.metrics()).reloads.ok;
    pool.reload();
    for (;;) {
      const each = await pool.workerMetrics();
      if (each.every((m) => m!.reloads.ok > 0)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal((await pool.metrics()).reloads.ok, before + 2);
  } finally {
    await pool.close();
  }
});

Deno.test("a worker that ends is replaced and logged; its sessions are gone, the others' stay", async () => {
  const { pool, url, log } = await startTestPool(dir);
  const agents = [agentFor(fx, fx.alice), agentFor(fx, fx.alice)];
  try {
    const s0 = await initialize(url(0), agents[0]);
    const s1 = await initialize(url(1), agents[1]);
    const oldPort = pool.ports[1];
    await pool.kill(1);
    assert.notEqual(pool.ports[1], oldPort);
    const ended = log.records.find((r) =>
      r.msg === "worker ended unexpectedly; starting a new one"
    );
    assert.equal(ended?.level, "error");
    assert.equal(ended?.fields.worker, 1);
    assert.ok(log.records.some((r) => r.msg === "worker replaced" && r.fields.worker === 1));

    const fresh = agentFor(fx, fx.alice);
    agents.push(fresh);
    // Worker 1's session died with it: unknown now, wherever asked.
    assert.equal((await callTool(url(1), fresh, s1, "whoami")).status, 404);
    assert.equal((await callTool(url(0), agents[0], s1, "whoami")).status, 404);
    // Worker 0's session continues, also through the new worker 1.
    assert.equal((await callTool(url(1), fresh, s0, "whoami")).status, 200);
    assert.equal((await pool.metrics()).sessions, 1);
  } finally {
    for (const a of agents) a.destroy();
    await pool.close();
  }
});

Deno.test("close drains every worker: open streams end, then nothing listens", async () => {
  const { pool, url } = await startTestPool(dir);
  const agents = [agentFor(fx, fx.alice), agentFor(fx, fx.bob)];
  try {
    const s0 = await initialize(url(0), agents[0]);
    const s1 = await initialize(url(1), agents[1]);
    const streams = [
      await openStream(url(1), agents[0], s0), // forwarded to worker 0
      await openStream(url(1), agents[1], s1),
    ];
    const ports = [...pool.ports];
    await pool.close();
    await Promise.all(streams.map((s) => s.ended));
    for (const port of ports) {
      await assert.rejects(
        fetch(`http://127.0.0.1:${port}/`),
        (e: Error) => /refused|ECONNREFUSED/i.test(String(e.cause ?? e)),
      );
    }
  } finally {
    for (const a of agents) a.destroy();
    await pool.close();
  }
});
