/**
 * Session limits on real sockets: per identity, per connection and overall,
 * and the idle expiry that must never close a busy session. A hostile client
 * (alice) opens sessions in a loop; another identity (bob) must be served
 * throughout.
 */
import assert from "node:assert/strict";
import { Agent, fetch as undiciFetch } from "undici";
import { connectMcpClient } from "../../src/mcp/client_connect.ts";
import { demoServerFactory } from "../../src/mcp/demo_tools.ts";
import type { ObservableMcpServer } from "../../src/mcp/server.ts";
import type { McpServerFactory } from "../../src/mcp/server_options.ts";
import {
  type Credential,
  type Fixtures,
  INITIALIZE,
  makeFixtures,
  MCP_HEADERS,
  parseMcpBody,
  rawPost,
  startServer,
} from "./_fixtures.ts";

const fx: Fixtures = await makeFixtures();
const PROTOCOL = { "mcp-protocol-version": "2025-06-18" };
const ALICE = "spiffe://example.org/agent";

/** One keep-alive TLS connection (undici with a single socket) presenting `cred`. */
function connection(cred: Credential): Agent {
  return new Agent({ connect: { ca: fx.ca, cert: cred.cert, key: cred.key }, connections: 1 });
}

async function post(
  agent: Agent,
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; session: string | null; text: string }> {
  const res = await undiciFetch(url, {
    method: "POST",
    headers: { ...MCP_HEADERS, ...headers },
    body: JSON.stringify(body),
    dispatcher: agent,
  });
  return { status: res.status, session: res.headers.get("mcp-session-id"), text: await res.text() };
}

const initialize = (agent: Agent, url: string) => post(agent, url, INITIALIZE);

/** Opens a session and returns its id. */
async function open(agent: Agent, url: string): Promise<string> {
  const r = await initialize(agent, url);
  assert.equal(r.status, 200, r.text);
  return r.session!;
}

const whoamiCall = { jsonrpc: "2.0", id: 7, method: "tools/call", params: { name: "whoami" } };

/** Status of a whoami call in `session`. */
async function callIn(agent: Agent, url: string, session: string): Promise<number> {
  return (await post(agent, url, whoamiCall, { "mcp-session-id": session, ...PROTOCOL })).status;
}

/** Opens the session's GET stream and keeps it open until `close()` is called. */
async function getStream(cred: Credential, url: string, session: string) {
  const agent = connection(cred);
  const abort = new AbortController();
  const res = await undiciFetch(url, {
    method: "GET",
    headers: { accept: "text/event-stream", "mcp-session-id": session, ...PROTOCOL },
    dispatcher: agent,
    signal: abort.signal,
  });
  assert.equal(res.status, 200);
  return {
    async close() {
      abort.abort();
      await res.body?.cancel().catch(() => {});
      await agent.destroy();
    },
  };
}

function refusedBody(message: string): unknown {
  return {
    jsonrpc: "2.0",
    error: { code: -32001, message, data: { reason: "rate_limited" } },
    id: 1,
  };
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5000) {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const mib = (bytes: number) => (bytes / 1_048_576).toFixed(1);

Deno.test("serveMcp() keeps one identity's session flood from denying sessions to another", async () => {
  // A small server-wide cap, so that a flood which is not bounded per identity fills it; no
  // connection rate limit (all peers are 127.0.0.1): the session limits alone must protect bob.
  const { server, log } = await startServer(fx, {
    limits: { maxSessions: 100, connectionsPerAddress: false },
  });
  const floods = [connection(fx.alice), connection(fx.alice), connection(fx.alice)];
  const keepAlive = connection(fx.alice);
  let done: Promise<unknown> = Promise.resolve();
  try {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    const before = Deno.memoryUsage();
    let peak = 0;
    const statuses: number[] = [];
    const bodies = new Set<string>();
    let flooding = true;
    const flood = async (agent: Agent, n: number) => {
      for (let i = 0; i < n; i++) {
        const r = await initialize(agent, server.url);
        statuses.push(r.status);
        if (r.status !== 200) bodies.add(`${r.status} ${r.text}`);
        peak = Math.max(peak, server.sessionCount);
      }
    };
    done = Promise.all([
      flood(keepAlive, 240),
      ...floods.map((a) => flood(a, 40)),
    ]).finally(() => flooding = false);
    // Bob opens a session, calls whoami and ends the session, again and again during the flood.
    let bobCalls = 0;
    while (flooding || bobCalls < 3) {
      const bob = await connectMcpClient(server.url, {
        cert: fx.bob.cert,
        key: fx.bob.key,
        ca: fx.ca,
      });
      try {
        const r = await bob.callTool({ name: "whoami", arguments: {} });
        const who = JSON.parse((r as { content: { text: string }[] }).content[0].text);
        assert.equal(who.identity.commonName, "bob");
        bobCalls++;
      } finally {
        await bob.close();
      }
    }
    await done;
    gc?.();
    const after = Deno.memoryUsage();
    console.log(
      `flood: ${statuses.length} initialize requests from one identity on 4 connections, ` +
        `${statuses.filter((s) => s === 200).length} answered 200; peak ${peak} open sessions; ` +
        `RSS +${mib(after.rss - before.rss)} MiB, heap +${
          mib(after.heapUsed - before.heapUsed)
        } MiB` +
        `${gc ? " after GC" : ""}; bob served ${bobCalls} times`,
    );
    assert.ok(bobCalls >= 3);
    // Alice holds at most 16 (maxSessionsPerIdentity), bob at most one (he ends each session).
    assert.ok(peak <= 17, `peak ${peak} open sessions`);
    assert.ok(server.sessionCount <= 16, `${server.sessionCount} open sessions after the flood`);
    for (const b of bodies) {
      assert.equal(
        b,
        `429 ${JSON.stringify(refusedBody("More than 16 open sessions on this connection"))}`,
      );
    }
    assert.ok(!log.records.some((r) => r.level === "error"), "no error was logged");
  } finally {
    await done.catch(() => {}); // a failed assertion must not close the connections under the flood
    await Promise.all([...floods, keepAlive].map((a) => a.close()));
    await server.close();
  }
});

Deno.test("serveMcp() refuses a fourth session on one connection with rate_limited", async () => {
  const { server, log } = await startServer(fx, { limits: { maxSessionsPerConnection: 3 } });
  const one = connection(fx.alice);
  const two = connection(fx.alice);
  try {
    const ids = [
      await open(one, server.url),
      await open(one, server.url),
      await open(one, server.url),
    ];
    const refused = await initialize(one, server.url);
    assert.equal(refused.status, 429);
    assert.deepEqual(
      JSON.parse(refused.text),
      refusedBody("More than 3 open sessions on this connection"),
    );
    const warned = log.records.filter((r) => r.level === "warn" && r.msg === "request refused");
    assert.equal(warned.length, 1, JSON.stringify(warned));
    assert.equal(warned[0].fields.reason, "rate_limited");
    assert.match(String(warned[0].fields.peer), /^127\.0\.0\.1:\d+$/);
    // Another connection of the same identity is not affected, nor are the open sessions.
    assert.ok(await open(two, server.url));
    assert.equal(await callIn(one, server.url, ids[0]), 200);
    assert.equal(server.sessionCount, 4);
    // Ending a session (DELETE) frees its place on the connection.
    const del = await undiciFetch(server.url, {
      method: "DELETE",
      headers: { "mcp-session-id": ids[1], ...PROTOCOL },
      dispatcher: one,
    });
    await del.body?.cancel();
    assert.equal(del.status, 200);
    assert.ok(await open(one, server.url));
  } finally {
    await one.close();
    await two.close();
    await server.close();
  }
});

Deno.test("serveMcp() closes an identity's least recently used idle session at its cap", async () => {
  const { server, log } = await startServer(fx, { limits: { maxSessionsPerIdentity: 3 } });
  // Each session on its own connection, as left behind by a client that restarts.
  const conns = [0, 1, 2, 3].map(() => connection(fx.alice));
  const a = conns[0];
  const b = connection(fx.bob);
  try {
    const [s1, s2, s3] = [
      await open(conns[0], server.url),
      await open(conns[1], server.url),
      await open(conns[2], server.url),
    ];
    const bobSession = await open(b, server.url);
    assert.equal(await callIn(a, server.url, s1), 200); // s2 is now the least recently used
    const s4 = await open(conns[3], server.url);
    assert.equal(await callIn(a, server.url, s2), 404);
    for (const s of [s1, s3, s4]) assert.equal(await callIn(a, server.url, s), 200);
    assert.equal(await callIn(b, server.url, bobSession), 200, "bob's session is untouched");
    assert.equal(server.sessionCount, 4);
    const evicted = log.records.filter((r) => r.msg === "session evicted");
    assert.equal(evicted.length, 1);
    assert.equal(evicted[0].level, "info");
    assert.deepEqual(
      { ...evicted[0].fields, peer: undefined },
      { session: s2, client: ALICE, limit: "maxSessionsPerIdentity", peer: undefined },
    );
    assert.equal((server as ObservableMcpServer).metrics().sessions, 4);
  } finally {
    await Promise.all(conns.map((c) => c.close()));
    await b.close();
    await server.close();
  }
});

Deno.test("serveMcp() refuses a session with rate_limited when every session of the identity is busy", async () => {
  const { server, log } = await startServer(fx, { limits: { maxSessionsPerIdentity: 2 } });
  const conns = [0, 1, 2].map(() => connection(fx.alice));
  const a = conns[2];
  const b = connection(fx.bob);
  const streams: { close(): Promise<void> }[] = [];
  try {
    const s1 = await open(conns[0], server.url);
    const s2 = await open(conns[1], server.url);
    streams.push(
      await getStream(fx.alice, server.url, s1),
      await getStream(fx.alice, server.url, s2),
    );
    const refused = await initialize(a, server.url);
    assert.equal(refused.status, 429);
    assert.deepEqual(
      JSON.parse(refused.text),
      refusedBody(`More than 2 open sessions for "${ALICE}", none of them idle`),
    );
    const warned = log.records.filter((r) => r.level === "warn" && r.msg === "request refused");
    assert.equal(warned.length, 1);
    assert.equal(warned[0].fields.reason, "rate_limited");
    assert.ok(await open(b, server.url), "bob is served");
    // Once a stream ends, that session is idle and gives way to the new one.
    await streams.shift()!.close();
    let s3: string | null = null;
    await until("alice's session to open", async () => {
      const r = await initialize(a, server.url);
      s3 = r.session;
      return r.status === 200;
    });
    assert.ok(s3);
    assert.equal(await callIn(a, server.url, s1), 404);
    assert.equal(await callIn(a, server.url, s2), 200);
  } finally {
    await Promise.all(streams.map((s) => s.close()));
    await Promise.all(conns.map((c) => c.close()));
    await b.close();
    await server.close();
  }
});

Deno.test("serveMcp() at maxSessions closes an idle session of the biggest holder, not another identity's", async () => {
  const { server, log } = await startServer(fx, {
    limits: { maxSessions: 4, maxSessionsPerIdentity: 10 },
  });
  const a = connection(fx.alice);
  const b = connection(fx.bob);
  const streams: { close(): Promise<void> }[] = [];
  try {
    const alice = [];
    for (let i = 0; i < 4; i++) alice.push(await open(a, server.url));
    const bob1 = await open(b, server.url);
    assert.equal(server.sessionCount, 4);
    assert.equal(await callIn(a, server.url, alice[0]), 404, "alice's oldest session gave way");
    const evicted = log.records.filter((r) => r.msg === "session evicted");
    assert.equal(evicted.length, 1);
    assert.equal(evicted[0].fields.limit, "maxSessions");
    // Alice's three sessions are busy: bob's next session replaces his own idle one.
    for (const s of alice.slice(1)) streams.push(await getStream(fx.alice, server.url, s));
    const bob2 = await open(b, server.url);
    assert.equal(await callIn(b, server.url, bob1), 404);
    // Everyone busy: the server is full, and says so.
    streams.push(await getStream(fx.bob, server.url, bob2));
    const full = await initialize(a, server.url);
    assert.equal(full.status, 503);
    assert.deepEqual(
      JSON.parse(full.text),
      refusedBody("More than 4 open sessions, none of them idle"),
    );
    assert.equal(server.sessionCount, 4);
  } finally {
    await Promise.all(streams.map((s) => s.close()));
    await a.close();
    await b.close();
    await server.close();
  }
});

Deno.test("serveMcp() counts anonymous sessions per client address", async () => {
  const { server, log } = await startServer(fx, {
    tls: { clientAuth: "optional" },
    limits: { maxSessionsPerIdentity: 2 },
  });
  try {
    // Each rawPost is a new connection: only the address ties these sessions together.
    const anonymous = [];
    for (let i = 0; i < 3; i++) {
      const r = await rawPost(fx, server.url, undefined, INITIALIZE);
      assert.equal(r.status, 200, r.text);
      anonymous.push(r.headers.get("mcp-session-id")!);
    }
    const alice = await rawPost(fx, server.url, fx.alice, INITIALIZE);
    assert.equal(alice.status, 200, "a certificate has its own quota");
    assert.equal(server.sessionCount, 3);
    const evicted = log.records.filter((r) => r.msg === "session evicted");
    assert.deepEqual(evicted.map((r) => [r.fields.session, r.fields.client]), [
      [anonymous[0], "address 127.0.0.1"],
    ]);
  } finally {
    await server.close();
  }
});

Deno.test("serveMcp() never expires a session with an open GET stream or a request in flight", async () => {
  const factory: McpServerFactory = () => {
    const mcp = demoServerFactory();
    mcp.registerTool("slow", {}, async () => {
      await new Promise((r) => setTimeout(r, 700));
      return { content: [{ type: "text", text: "done" }] };
    });
    return mcp;
  };
  const { server, log } = await startServer(fx, { limits: { sessionIdleMs: 200 } }, factory);
  const a = connection(fx.alice);
  let stream: { close(): Promise<void> } | undefined;
  try {
    const s1 = await open(a, server.url);
    const slow = await post(a, server.url, {
      jsonrpc: "2.0",
      id: 3,
      method: "tools/call",
      params: { name: "slow" },
    }, { "mcp-session-id": s1, ...PROTOCOL });
    assert.equal(slow.status, 200);
    assert.deepEqual(parseMcpBody(slow.text), {
      jsonrpc: "2.0",
      id: 3,
      result: { content: [{ type: "text", text: "done" }] },
    });
    stream = await getStream(fx.alice, server.url, s1);
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(server.sessionCount, 1, "the session with an open stream is kept");
    assert.equal(await callIn(a, server.url, s1), 200);
    await stream.close();
    stream = undefined;
    await until("the idle session to expire", () => server.sessionCount === 0);
    assert.equal(log.records.filter((r) => r.msg === "session expired").length, 1);
  } finally {
    await stream?.close();
    await a.close();
    await server.close();
  }
});

Deno.test("serveMcp() memory per open session (measured and printed; the count is asserted)", async () => {
  const n = 400;
  const { server } = await startServer(fx, {
    limits: { maxSessionsPerIdentity: n, maxSessionsPerConnection: n },
  });
  const a = connection(fx.alice);
  const gc = (globalThis as { gc?: () => void }).gc;
  try {
    await open(a, server.url); // warm up: code paths compiled, connection open
    gc?.();
    const before = Deno.memoryUsage();
    for (let i = 1; i < n; i++) await open(a, server.url);
    gc?.();
    const after = Deno.memoryUsage();
    assert.equal(server.sessionCount, n);
    const perSession = (k: "rss" | "heapUsed") =>
      ((after[k] - before[k]) / (n - 1) / 1024).toFixed(1);
    console.log(
      `${n - 1} more sessions: RSS +${mib(after.rss - before.rss)} MiB (${
        perSession("rss")
      } KiB each), ` +
        `heap +${mib(after.heapUsed - before.heapUsed)} MiB (${perSession("heapUsed")} KiB each)` +
        (gc ? "" : " (run with --v8-flags=--expose-gc for steadier numbers)"),
    );
  } finally {
    await a.close();
    await server.close();
  }
});
