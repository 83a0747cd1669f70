/**
 * `serve --workers 2`: a session opened through one worker continues through
 * the other (POSTs answered as SSE streams, the GET stream, DELETE), and a
 * session id naming another worker is of no use to another certificate.
 * Each worker listens on a port of its own here, so the test chooses where
 * each connection lands.
 */
import assert from "node:assert/strict";
import { type Fixtures, makeFixtures, parseMcpBody } from "../server/_fixtures.ts";
import { agentFor, call, callTool, certsDir, initialize, startTestPool } from "./_pool.ts";
import https from "node:https";
import type { ClientRequest } from "node:http";

const fx: Fixtures = await makeFixtures();
const dir = await certsDir(fx);

function whoamiOf(text: string): { clientId: string } {
  const msg = parseMcpBody(text) as { result: { content: { text: string }[] } };
  return JSON.parse(msg.result.content[0].text);
}

Deno.test("a session opened through worker 0 continues through worker 1: tools/call, GET stream, DELETE", async () => {
  const { pool, url } = await startTestPool(dir);
  const onA = agentFor(fx, fx.alice);
  const onB = agentFor(fx, fx.alice);
  try {
    const sid = await initialize(url(0), onA);
    assert.match(sid, /^w0-/);

    // A new connection, on the other worker: the call reaches the session's worker.
    const r = await callTool(url(1), onB, sid, "whoami");
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers["content-type"], "text/event-stream");
    assert.equal(whoamiOf(r.text).clientId, "spiffe://example.org/agent");

    // The GET stream through worker 1: its headers arrive, and it stays open until we leave.
    const stream = await new Promise<{ status: number; type: unknown; req: ClientRequest }>(
      (resolve, reject) => {
        const req = https.request(url(1), {
          method: "GET",
          agent: onB,
          headers: {
            accept: "text/event-stream",
            "mcp-session-id": sid,
            "mcp-protocol-version": "2025-06-18",
          },
        }, (res) => resolve({ status: res.statusCode!, type: res.headers["content-type"], req }));
        req.on("error", reject);
        req.end();
      },
    );
    assert.equal(stream.status, 200);
    assert.equal(stream.type, "text/event-stream");
    stream.req.destroy();

    // DELETE through worker 1 ends the session on worker 0.
    const del = await call(url(1), agentFor(fx, fx.alice), "DELETE", {
      "mcp-session-id": sid,
      "mcp-protocol-version": "2025-06-18",
    });
    assert.equal(del.status, 200, del.text);
    const after = await callTool(url(0), onA, sid, "whoami");
    assert.equal(after.status, 404);
  } finally {
    onA.destroy();
    onB.destroy();
    await pool.close();
  }
});

Deno.test("hostile: another certificate presenting a session id of another worker is refused identity_denied before it is forwarded", async () => {
  const { pool, url } = await startTestPool(dir);
  const alice = agentFor(fx, fx.alice);
  const bob = agentFor(fx, fx.bob);
  try {
    const sid = await initialize(url(0), alice);
    const before = await pool.metrics();
    const stolen = await callTool(url(1), bob, sid, "whoami");
    assert.equal(stolen.status, 403);
    const body = JSON.parse(stolen.text);
    assert.equal(body.error.data.reason, "identity_denied");
    assert.equal(body.error.message, `Session "${sid}" belongs to another client certificate`);
    // Refused once, by the worker bob reached: the request never got to the owner.
    const after = await pool.metrics();
    assert.equal(
      (after.requests.refused.identity_denied ?? 0) -
        (before.requests.refused.identity_denied ?? 0),
      1,
    );
    // The owner refuses it too, when bob goes there directly.
    const direct = await callTool(url(0), bob, sid, "whoami");
    assert.equal(direct.status, 403);
    assert.equal(JSON.parse(direct.text).error.data.reason, "identity_denied");

    // A forged id naming worker 0 that it never issued: unknown, 404.
    const forged = await callTool(url(1), bob, "w0-00000000-0000-0000-0000-000000000000", "whoami");
    assert.equal(forged.status, 404);
    // Alice's session still works through either worker.
    assert.equal((await callTool(url(1), alice, sid, "whoami")).status, 200);
  } finally {
    alice.destroy();
    bob.destroy();
    await pool.close();
  }
});
