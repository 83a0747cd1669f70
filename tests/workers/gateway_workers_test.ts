/**
 * `serve --workers 2 --upstream URL`: the gateway's upstream sessions follow
 * their worker. A session opened through one worker continues through the
 * other (POSTs, SSE, the GET stream, DELETE), the per-identity session cap
 * is counted once for every worker, another certificate naming the session
 * is refused before the upstream sees anything, and the upstream sees the
 * same identity headers whichever worker the caller's connection reached.
 * Each worker listens on a port of its own here, so the test chooses where
 * each connection lands.
 */
import assert from "node:assert/strict";
import type { ClientRequest, IncomingMessage } from "node:http";
import https from "node:https";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { ResourceUpdatedNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { createMtlsFetch } from "../../src/mcp/client_fetch.ts";
import { joinCluster } from "../../src/mcp/session_seams.ts";
import { createForwardingRouter } from "../../src/workers/session_forward.ts";
import { sharedCounter } from "../../src/workers/shared_counter.ts";
import type { CoordinatorAnswer, CoordinatorQuestion } from "../../src/workers/messages.ts";
import { collectingLogger, type Fixtures, INITIALIZE, makeFixtures } from "../server/_fixtures.ts";
import { startGateway } from "../gateway/_gateway.ts";
import { startUpstream, type Upstream } from "../gateway/_upstream.ts";
import { agentFor, call, callTool, certsDir, initialize, startTestPool } from "./_pool.ts";

const fx: Fixtures = await makeFixtures();
const dir = await certsDir(fx);
const MCP = { "mcp-protocol-version": "2025-06-18" };

async function until(what: string, done: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !done(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!done()) throw new Error(`Timed out waiting for ${what}`);
}

/** The upstream's record of `tools/call`s and other requests naming `sid`. */
function seenFor(upstream: Upstream, sid: string) {
  return upstream.log.filter((r) => r.headers["mcp-session-id"] === sid);
}

/** Opens the session's GET stream through `url`; resolves with its response once headers arrive. */
function openStream(
  url: string,
  agent: https.Agent,
  sid: string,
): Promise<{ req: ClientRequest; res: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, {
      method: "GET",
      agent,
      headers: { accept: "text/event-stream", "mcp-session-id": sid, ...MCP },
    }, (res) => resolve({ req, res }));
    req.on("error", reject);
    req.end();
  });
}

Deno.test("an SDK client's gateway session opened through worker 0 continues through worker 1: tools/call with SSE, the GET stream, DELETE", async () => {
  const upstream = await startUpstream();
  const { pool, url } = await startTestPool(dir, { upstream: { url: upstream.url } });
  const mtls = createMtlsFetch({
    cert: fx.alice.cert,
    key: fx.alice.key,
    ca: fx.ca,
    logger: collectingLogger(),
  });
  // The initialize lands on worker 0; every later request (a new connection) on worker 1.
  const ports: number[] = [];
  const fetch = (input: string | URL | Request, init?: RequestInit) => {
    const target = new URL(String(input instanceof Request ? input.url : input));
    target.port = String(pool.ports[ports.length === 0 ? 0 : 1]);
    ports.push(Number(target.port));
    return mtls(target, init);
  };
  const client = new Client({ name: "workers", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(url(0)), { fetch });
  try {
    const updates: string[] = [];
    client.setNotificationHandler(
      ResourceUpdatedNotificationSchema,
      (n: { params: { uri: string } }) => void updates.push(n.params.uri),
    );
    await client.connect(transport);
    const sid = transport.sessionId!;
    assert.ok(upstream.sessions.has(sid), "the upstream holds the session");

    const echo = await client.callTool({ name: "echo", arguments: { text: "through worker 1" } });
    assert.deepEqual(echo.content, [{ type: "text", text: "through worker 1" }]);
    // An SSE answer with notifications before the result, relayed through both workers.
    const progress: number[] = [];
    const done = await client.callTool(
      { name: "progress", arguments: { steps: 3 } },
      undefined,
      { onprogress: (p: { progress: number }) => void progress.push(p.progress) },
    );
    assert.deepEqual(done.content, [{ type: "text", text: "3 steps" }]);
    assert.deepEqual(progress, [1, 2, 3]);

    // The GET stream the SDK opened through worker 1 carries the upstream's notification.
    await client.subscribeResource({ uri: "file:///public/readme" });
    await until(
      "the GET stream at the upstream",
      () => seenFor(upstream, sid).some((r) => r.method === "GET"),
    );
    await upstream.updated("file:///public/readme");
    await until("the resource update", () => updates.length > 0);
    assert.deepEqual(updates, ["file:///public/readme"]);

    // Every request after the initialize went to worker 1.
    assert.equal(ports[0], pool.ports[0]);
    assert.ok(ports.length > 4 && ports.slice(1).every((p) => p === pool.ports[1]), `${ports}`);

    // DELETE through worker 1 ends the session at the upstream.
    await transport.terminateSession();
    assert.equal(upstream.sessions.has(sid), false);
    assert.equal(seenFor(upstream, sid).filter((r) => r.method === "DELETE").length, 1);
    const late = agentFor(fx, fx.alice);
    const after = await callTool(url(0), late, sid, "echo", { text: "x" });
    late.destroy();
    assert.equal(after.status, 404, after.text);
    assert.equal((await pool.metrics()).sessions, 0);
  } finally {
    await client.close().catch(() => {});
    await mtls.close();
    await pool.close();
    await upstream.close();
  }
});

Deno.test("hostile: another certificate naming a gateway session of another worker is refused identity_denied before the upstream sees it", async () => {
  const upstream = await startUpstream();
  const { pool, url } = await startTestPool(dir, { upstream: { url: upstream.url } });
  const alice = agentFor(fx, fx.alice);
  const bob = agentFor(fx, fx.bob);
  try {
    const sid = await initialize(url(0), alice);
    const seen = upstream.log.length;
    const before = await pool.metrics();
    for (const w of [1, 0]) {
      const stolen = await callTool(url(w), bob, sid, "secret");
      assert.equal(stolen.status, 403, stolen.text);
      const body = JSON.parse(stolen.text);
      assert.equal(body.error.data.reason, "identity_denied");
      assert.equal(body.error.message, `Session "${sid}" belongs to another client certificate`);
    }
    // Its GET stream and a DELETE are refused the same way.
    const stream = await openStream(url(1), bob, sid);
    assert.equal(stream.res.statusCode, 403);
    stream.req.destroy();
    const del = await call(url(1), bob, "DELETE", { "mcp-session-id": sid, ...MCP });
    assert.equal(del.status, 403, del.text);
    assert.equal(JSON.parse(del.text).error.data.reason, "identity_denied");
    // Refused where bob's connection landed, once each: the owner never saw the forwarded ones.
    const after = await pool.metrics();
    assert.equal(
      (after.requests.refused.identity_denied ?? 0) -
        (before.requests.refused.identity_denied ?? 0),
      4,
    );
    // A session id the upstream never issued: unknown to every worker, 404.
    const forged = await callTool(url(1), bob, crypto.randomUUID(), "secret");
    assert.equal(forged.status, 404, forged.text);
    // The upstream saw none of it, and alice's session is untouched.
    assert.equal(upstream.log.length, seen);
    assert.ok(upstream.sessions.has(sid));
    assert.equal((await callTool(url(1), alice, sid, "echo", { text: "mine" })).status, 200);
  } finally {
    alice.destroy();
    bob.destroy();
    await pool.close();
    await upstream.close();
  }
});

Deno.test("one identity's session cap holds across the gateway's workers: the oldest idle session anywhere gives way (DELETE at the upstream), and when none is idle the next is refused", async () => {
  const upstream = await startUpstream();
  const { pool, url } = await startTestPool(dir, {
    upstream: { url: upstream.url },
    limits: { maxSessionsPerIdentity: 2 },
  });
  const agents = [0, 1, 2, 3, 4].map(() => agentFor(fx, fx.alice));
  const streams: ClientRequest[] = [];
  try {
    const s1 = await initialize(url(0), agents[0]);
    const s2 = await initialize(url(1), agents[1]);
    // The third, on worker 0 again: s1 (worker 0's) is the oldest idle one of alice's, so it goes.
    const s3 = await initialize(url(0), agents[2]);
    await until("the DELETE of s1 at the upstream", () => !upstream.sessions.has(s1));
    assert.equal(seenFor(upstream, s1).filter((r) => r.method === "DELETE").length, 1);
    assert.equal((await callTool(url(1), agents[1], s1, "echo", { text: "x" })).status, 404);
    assert.equal((await callTool(url(0), agents[0], s2, "echo", { text: "x" })).status, 200);
    assert.equal((await callTool(url(1), agents[1], s3, "echo", { text: "x" })).status, 200);
    assert.equal((await pool.metrics()).sessions, 2);

    // Both busy (GET streams, each through the worker that does not hold it): refused on either worker.
    for (const [sid, agent] of [[s2, agents[3]], [s3, agents[4]]] as const) {
      const w = sid === s2 ? 0 : 1;
      const s = await openStream(url(w), agent, sid);
      assert.equal(s.res.statusCode, 200);
      streams.push(s.req);
    }
    const initializes = () => upstream.messages().filter((m) => m.method === "initialize").length;
    const seen = initializes();
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
    assert.equal(initializes(), seen, "the refused initializes never reached the upstream");
    // Another identity has its own quota.
    const bob = agentFor(fx, fx.bob);
    agents.push(bob);
    await initialize(url(1), bob);
  } finally {
    for (const s of streams) s.destroy();
    for (const a of agents) a.destroy();
    await pool.close();
    await upstream.close();
  }
});

Deno.test("a GET stream through the other worker keeps a gateway session from idling out: the worker that bound it sees every use, and DELETEs it at the upstream only once it is idle", async () => {
  const upstream = await startUpstream();
  const { pool, url } = await startTestPool(dir, {
    upstream: { url: upstream.url },
    limits: { sessionIdleMs: 200 },
  });
  const onA = agentFor(fx, fx.alice);
  const onB = agentFor(fx, fx.alice);
  try {
    const sid = await initialize(url(0), onA);
    const stream = await openStream(url(1), onB, sid);
    assert.equal(stream.res.statusCode, 200);
    // Five idle periods with only the stream open, through worker 1.
    await new Promise((r) => setTimeout(r, 1_000));
    assert.ok(upstream.sessions.has(sid), "the session in use through worker 1 is still open");
    assert.equal(seenFor(upstream, sid).filter((r) => r.method === "DELETE").length, 0);
    // Once the stream ends, the session idles out and its worker ends it at the upstream.
    stream.req.destroy();
    await until("the idle session's DELETE", () => !upstream.sessions.has(sid));
    assert.equal(seenFor(upstream, sid).filter((r) => r.method === "DELETE").length, 1);
    const late = agentFor(fx, fx.alice);
    const after = await callTool(url(1), late, sid, "echo", { text: "x" });
    late.destroy();
    assert.equal(after.status, 404, after.text);
  } finally {
    onA.destroy();
    onB.destroy();
    await pool.close();
    await upstream.close();
  }
});

Deno.test("the upstream sees the same identity headers and _meta whichever worker the caller's connection reached, and nothing of the workers' own", async () => {
  const upstream = await startUpstream();
  const { pool, url } = await startTestPool(dir, { upstream: { url: upstream.url } });
  const onA = agentFor(fx, fx.alice);
  const onB = agentFor(fx, fx.alice);
  try {
    const sid = await initialize(url(0), onA);
    assert.equal((await callTool(url(0), onA, sid, "identity")).status, 200);
    assert.equal((await callTool(url(1), onB, sid, "identity")).status, 200);
    const [direct, forwarded] = seenFor(upstream, sid).filter((r) =>
      (r.body as { method?: string })?.method === "tools/call"
    );
    const names = [
      "client-cert",
      "client-cert-chain",
      "mcp-mtls-identity",
      "x-forwarded-for",
      "x-forwarded-proto",
    ];
    const pick = (h: Record<string, unknown>) => Object.fromEntries(names.map((n) => [n, h[n]]));
    assert.ok(direct.headers["client-cert"], "the direct request carries Client-Cert");
    assert.equal(direct.headers["mcp-mtls-identity"], "spiffe://example.org/agent");
    assert.equal(direct.headers["x-forwarded-for"], "127.0.0.1");
    assert.deepEqual(pick(forwarded.headers), pick(direct.headers));
    const meta = (r: typeof direct) =>
      (r.body as { params: { _meta: Record<string, unknown> } }).params._meta[
        "io.github.mcp-mtls/identity"
      ];
    assert.deepEqual(meta(forwarded), meta(direct));
    // The same header names reach the upstream either way: no worker-to-worker header leaks.
    assert.deepEqual(Object.keys(forwarded.headers).sort(), Object.keys(direct.headers).sort());
  } finally {
    onA.destroy();
    onB.destroy();
    await pool.close();
    await upstream.close();
  }
});

/** A cluster member whose coordinator answers `answer` (undefined: it never answers in time). */
function memberAnswering(answer: (q: CoordinatorQuestion) => CoordinatorAnswer | undefined) {
  const link = { ask: (q: CoordinatorQuestion) => Promise.resolve(answer(q)), note: () => {} };
  const router = createForwardingRouter(link, collectingLogger());
  return {
    router,
    member: {
      reusePort: false,
      sessionIdPrefix: "w9-",
      counter: sharedCounter(link, { maxSessionsPerConnection: 4, deadlineMs: 2000 }, () => {}),
      router,
      attach: () => Promise.resolve(),
    },
  };
}

Deno.test("hostile: a gateway worker whose coordinator or session owner does not answer refuses with 503 worker_unavailable, and the upstream sees nothing", async () => {
  const upstream = await startUpstream();
  const silent = memberAnswering(() => undefined);
  // The coordinator says alice's session is on a worker whose socket nobody serves.
  const lost = memberAnswering((q) =>
    q.op === "locate"
      ? {
        worker: 1,
        socket: `${dir}/nobody.sock`,
        fingerprint: fx.alice.bundle.certificate.fingerprint,
      }
      : undefined
  );
  const started: { close(): Promise<void> }[] = [];
  const alice = agentFor(fx, fx.alice);
  const bob = agentFor(fx, fx.bob);
  try {
    const options = {};
    joinCluster(options, silent.member);
    const a = await startGateway(fx, upstream.url, options);
    started.push(a.gateway);
    const refused = await call(a.gateway.url, alice, "POST", {}, INITIALIZE);
    assert.equal(refused.status, 503, refused.text);
    assert.equal(JSON.parse(refused.text).error.data.reason, "worker_unavailable");
    assert.equal(
      JSON.parse(refused.text).error.message,
      "The session coordinator did not answer within 2000 ms",
    );
    const unknown = await callTool(a.gateway.url, alice, "s-1", "echo");
    assert.equal(unknown.status, 503, unknown.text);
    assert.equal(JSON.parse(unknown.text).error.data.reason, "worker_unavailable");
    assert.equal(JSON.parse(unknown.text).error.message, "The session coordinator did not answer");

    const options2 = {};
    joinCluster(options2, lost.member);
    const b = await startGateway(fx, upstream.url, options2);
    started.push(b.gateway);
    const gone = await callTool(b.gateway.url, alice, "s-2", "echo");
    assert.equal(gone.status, 503, gone.text);
    assert.equal(JSON.parse(gone.text).error.data.reason, "worker_unavailable");
    assert.equal(
      JSON.parse(gone.text).error.message,
      "The worker holding the session did not answer",
    );
    // Bob is refused for alice's session before any attempt to reach its worker.
    const bobs = await callTool(b.gateway.url, bob, "s-2", "echo");
    assert.equal(bobs.status, 403, bobs.text);
    assert.equal(JSON.parse(bobs.text).error.data.reason, "identity_denied");
    assert.equal(upstream.log.length, 0);
  } finally {
    alice.destroy();
    bob.destroy();
    for (const s of started) await s.close();
    silent.router.close();
    lost.router.close();
    await upstream.close();
  }
});
