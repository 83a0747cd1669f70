/**
 * Limits with `serve --workers 2`: one identity's session cap is counted
 * once for every worker (by the coordinator on the primary), and a worker
 * whose coordinator does not answer refuses new sessions (fail closed).
 * The connection limits: connection_limits_test.ts, connection_gates_test.ts.
 */
import assert from "node:assert/strict";
import type { ClientRequest } from "node:http";
import https from "node:https";
import { createCoordinator } from "../../src/workers/coordinator.ts";
import { sharedCounter } from "../../src/workers/shared_counter.ts";
import { type Fixtures, INITIALIZE, makeFixtures } from "../server/_fixtures.ts";
import { agentFor, call, callTool, certsDir, initialize, startTestPool } from "./_pool.ts";

const fx: Fixtures = await makeFixtures();
const dir = await certsDir(fx);

/** Opens the session's GET stream (the session is busy while it is open). */
function openStream(url: string, agent: https.Agent, sid: string): Promise<ClientRequest> {
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
      else resolve(req);
    });
    req.on("error", () => {});
    req.end();
  });
}

Deno.test("one identity's session cap holds across workers: the oldest idle session anywhere gives way, and when none is idle the next is refused", async () => {
  const { pool, url } = await startTestPool(dir, { limits: { maxSessionsPerIdentity: 2 } });
  const agents = [0, 1, 2, 3, 4].map(() => agentFor(fx, fx.alice));
  const streams: ClientRequest[] = [];
  try {
    const s1 = await initialize(url(0), agents[0]);
    const s2 = await initialize(url(1), agents[1]);
    assert.match(s1, /^w0-/);
    assert.match(s2, /^w1-/);
    // The third, on worker 0 again: s1 is the oldest idle one of alice's, so it goes.
    const s3 = await initialize(url(0), agents[2]);
    assert.equal((await callTool(url(0), agents[0], s1, "whoami")).status, 404);
    assert.equal((await callTool(url(0), agents[0], s2, "whoami")).status, 200);
    assert.equal((await callTool(url(1), agents[1], s3, "whoami")).status, 200);
    assert.equal((await pool.metrics()).sessions, 2);

    // Both busy (s2's stream through the other worker): a new one on either worker is refused.
    streams.push(await openStream(url(0), agents[3], s2));
    streams.push(await openStream(url(0), agents[2], s3));
    for (const w of [0, 1]) {
      const fresh = agentFor(fx, fx.alice);
      agents.push(fresh);
      const r = await call(url(w), fresh, "POST", {}, INITIALIZE);
      assert.equal(r.status, 429, r.text);
      const body = JSON.parse(r.text);
      assert.equal(body.error.data.reason, "rate_limited");
      assert.equal(
        body.error.message,
        'More than 2 open sessions for "spiffe://example.org/agent", none of them idle',
      );
    }
    // Another identity has its own quota.
    const bob = agentFor(fx, fx.bob);
    agents.push(bob);
    assert.match(await initialize(url(1), bob), /^w1-/);
  } finally {
    for (const s of streams) s.destroy();
    for (const a of agents) a.destroy();
    await pool.close();
  }
});

Deno.test("the coordinator counts one identity's sessions of every worker and forgets a worker that ended", () => {
  const evicted: string[] = [];
  const c = createCoordinator({
    maxSessions: 100,
    maxSessionsPerIdentity: 2,
    sessionIdleMs: 60_000,
    evict: (w, slot, why) => evicted.push(`${w}:${slot}:${why}`),
    socketOf: (w) => `/tmp/w${w}.sock`,
  });
  try {
    const a = c.ask(0, { op: "reserve", owner: "sha256:aa", label: "alice" });
    const b = c.ask(1, { op: "reserve", owner: "sha256:aa", label: "alice" });
    assert.deepEqual([a, b], [{ slot: 1 }, { slot: 2 }]);
    // Both busy (their initialize in flight): the third is refused.
    assert.deepEqual(c.ask(1, { op: "reserve", owner: "sha256:aa", label: "alice" }), {
      refusal: { status: 429, detail: 'More than 2 open sessions for "alice", none of them idle' },
    });
    c.note(0, { op: "named", slot: 1, sid: "w0-x", fingerprint: "aa" });
    assert.deepEqual(c.ask(1, { op: "locate", sid: "w0-x" }), {
      worker: 0,
      socket: "/tmp/w0.sock",
      fingerprint: "aa",
    });
    // A worker may only speak for its own sessions.
    c.note(1, { op: "release", slot: 1 });
    assert.equal(c.size, 2);
    c.note(0, { op: "end", slot: 1 });
    assert.deepEqual(c.ask(1, { op: "reserve", owner: "sha256:aa", label: "alice" }), { slot: 3 });
    assert.deepEqual(evicted, ["0:1:maxSessionsPerIdentity"]);
    assert.deepEqual(c.ask(1, { op: "locate", sid: "w0-x" }), { missing: true });
    c.workerGone(1);
    assert.equal(c.size, 0);
  } finally {
    c.close();
  }
});

Deno.test("a worker whose coordinator does not answer refuses the session with 503 worker_unavailable", async () => {
  const silent = { ask: () => Promise.resolve(undefined), note: () => {} };
  const counter = sharedCounter(
    silent,
    { maxSessionsPerConnection: 4, deadlineMs: 2000 },
    () => {},
  )(
    () => {},
  );
  assert.deepEqual(await counter.reserve("sha256:aa", {}, "alice"), {
    status: 503,
    reason: "worker_unavailable",
    detail: "The session coordinator did not answer within 2000 ms",
  });
});
