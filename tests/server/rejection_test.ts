/**
 * The rejection matrix: each refused client gets its reason code logged once
 * with the peer address, and the server keeps serving the next good client.
 */
import assert from "node:assert/strict";
import { MtlsError } from "../../src/errors.ts";
import type { McpMtlsServer } from "../../src/mcp/server.ts";
import {
  clientFetch,
  type Credential,
  type Fixtures,
  INITIALIZE,
  makeFixtures,
  MCP_HEADERS,
  parseMcpBody,
  rawPost,
  run,
  startServer,
} from "./_fixtures.ts";

const fx: Fixtures = await makeFixtures();

async function post(
  url: string,
  cred: Credential | undefined,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const fetch = clientFetch(fx, cred);
  try {
    const res = await fetch(url, {
      method: "POST",
      headers: { ...MCP_HEADERS, ...headers },
      body: JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, text: await res.text() };
  } finally {
    await fetch.close();
  }
}

async function assertGoodClientServed(server: McpMtlsServer) {
  const res = await post(server.url, fx.alice, INITIALIZE);
  assert.equal(res.status, 200);
  const msg = parseMcpBody(res.text) as { result?: { serverInfo?: unknown } };
  assert.ok(msg.result?.serverInfo, res.text);
}

const certificateCases: [string, keyof Fixtures | undefined, string][] = [
  ["no certificate", undefined, "no_client_cert"],
  ["a certificate from another CA", "otherCaClient", "unknown_ca"],
  ["a self-signed certificate", "selfSigned", "unknown_ca"],
  ["an expired certificate", "expired", "expired"],
  ["a not-yet-valid certificate", "notYetValid", "not_yet_valid"],
  ["a serverAuth-only certificate", "serverAuthOnly", "bad_key_usage"],
  ["a CA certificate used as client certificate", "caAsClient", "bad_key_usage"],
];

for (const [what, name, reason] of certificateCases) {
  Deno.test(`server refuses ${what} with reason ${reason} and keeps serving`, async () => {
    const { server, log } = await startServer(fx);
    try {
      const cred = name ? fx[name] as Credential : undefined;
      const err = await post(server.url, cred, INITIALIZE).then(
        (r) => assert.fail(`expected a refusal, got HTTP ${r.status}`),
        (e) => e,
      );
      assert.ok(err instanceof MtlsError, `typed client error, got ${err}`);
      const rec = await log.waitForReason(reason);
      assert.match(String(rec.fields.peer), /^127\.0\.0\.1:\d+$/);
      assert.equal(log.reasons().filter((r) => r === reason).length, 1, "logged once");
      await assertGoodClientServed(server);
    } finally {
      await server.close();
    }
  });
}

Deno.test("server filters tools/list and refuses a tools/call the identity may not make (identity_denied)", async () => {
  const { server, log } = await startServer(fx, {
    authorization: {
      rules: [
        { identity: "cn:alice", tools: ["*"] },
        { identity: "spiffe://example.org/bob", tools: ["whoami", "ti*"] },
      ],
    },
  });
  try {
    const init = await rawPost(fx, server.url, fx.bob, INITIALIZE);
    const session = init.headers.get("mcp-session-id")!;
    assert.ok(session);
    const h = { "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" };
    await rawPost(
      fx,
      server.url,
      fx.bob,
      { jsonrpc: "2.0", method: "notifications/initialized" },
      h,
    );
    const list = await rawPost(fx, server.url, fx.bob, {
      jsonrpc: "2.0",
      id: 2,
      method: "tools/list",
    }, h);
    const tools =
      (parseMcpBody(list.text) as { result: { tools: { name: string }[] } }).result.tools;
    assert.deepStrictEqual(tools.map((t) => t.name).sort(), ["time", "whoami"]);

    for (const tool of ["echo", "no-such-tool"]) {
      const call = await rawPost(fx, server.url, fx.bob, {
        jsonrpc: "2.0",
        id: 3,
        method: "tools/call",
        params: { name: tool, arguments: { text: "x" } },
      }, h);
      assert.equal(call.status, 403);
      const body = JSON.parse(call.text);
      assert.equal(body.error.data.reason, "identity_denied");
      assert.equal(body.id, 3);
    }
    const denied = log.records.filter((r) => r.fields.reason === "identity_denied");
    assert.equal(denied.length, 2);
    assert.match(
      String(denied[0].fields.detail),
      /Tool "echo" is not allowed for spiffe:\/\/example\.org\/bob/,
    );
    const ok = await rawPost(fx, server.url, fx.bob, {
      jsonrpc: "2.0",
      id: 4,
      method: "tools/call",
      params: { name: "whoami", arguments: {} },
    }, h);
    assert.equal(ok.status, 200);
    await assertGoodClientServed(server);
  } finally {
    await server.close();
  }
});

Deno.test("server refuses a session id replayed under another certificate (identity_denied)", async () => {
  const { server, log } = await startServer(fx);
  try {
    const init = await post(server.url, fx.alice, INITIALIZE);
    const session = init.headers.get("mcp-session-id")!;
    const h = { "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" };
    const replay = await rawPost(fx, server.url, fx.bob, {
      jsonrpc: "2.0",
      id: 2,
      method: "tools/list",
    }, h);
    assert.equal(replay.status, 403);
    assert.equal(JSON.parse(replay.text).error.data.reason, "identity_denied");
    const rec = await log.waitForReason("identity_denied");
    assert.match(String(rec.fields.detail), /belongs to another client certificate/);
    const own = await post(
      server.url,
      fx.alice,
      { jsonrpc: "2.0", id: 2, method: "tools/list" },
      h,
    );
    assert.equal(own.status, 200);
    await assertGoodClientServed(server);
  } finally {
    await server.close();
  }
});

Deno.test("server refuses a TLS 1.1 client at the handshake (protocol_version)", async () => {
  const { server, log } = await startServer(fx);
  try {
    const { port } = server.address;
    const r = await run("openssl", [
      "s_client",
      "-connect",
      `127.0.0.1:${port}`,
      "-tls1_1",
      "-cert",
      fx.alice.certFile,
      "-key",
      fx.alice.keyFile,
      "-CAfile",
      fx.caFile,
    ], { stdin: "" });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr + r.stdout, /alert handshake failure|alert protocol version/);
    await log.waitForReason("protocol_version");
    await assertGoodClientServed(server);
  } finally {
    await server.close();
  }
});

Deno.test("server drops a client that sends nothing before the handshake timeout (handshake_timeout)", async () => {
  const { server, log } = await startServer(fx, { limits: { handshakeTimeoutMs: 300 } });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.address.port });
    const peer = `127.0.0.1:${(conn.localAddr as Deno.NetAddr).port}`;
    try {
      const n = await conn.read(new Uint8Array(64)).catch(() => null);
      assert.equal(n, null, "server closed the connection");
    } finally {
      conn.close();
    }
    // Closed by the handshake timeout, and for nothing else.
    const rec = await log.waitForReason("handshake_timeout");
    assert.equal(rec.fields.peer, peer);
    assert.deepEqual(
      log.records.filter((r) => r.fields.peer === peer).map((r) => r.fields.reason),
      [
        "handshake_timeout",
      ],
    );
    await assertGoodClientServed(server);
  } finally {
    await server.close();
  }
});

Deno.test("custom policy hook refusal answers HTTP 403 with its reason, logged once per connection", async () => {
  const { server, log } = await startServer(fx, {
    policy: {
      verify: ({ identity }) =>
        identity.commonName === "bob"
          ? { reason: "identity_denied", message: "Bob is suspended" }
          : undefined,
    },
  });
  try {
    const fetch = clientFetch(fx, fx.bob);
    try {
      for (let i = 0; i < 2; i++) {
        const res = await fetch(server.url, {
          method: "POST",
          headers: MCP_HEADERS,
          body: JSON.stringify(INITIALIZE),
        }).catch((e) => e);
        // The client maps a 403 with data.reason to a typed refusal.
        const reason = res instanceof Response
          ? JSON.parse(await res.text()).error.data.reason
          : res.code;
        assert.equal(reason, "identity_denied");
      }
    } finally {
      await fetch.close();
    }
    const recs = log.records.filter((r) => r.fields.reason === "identity_denied");
    assert.ok(recs.length >= 1 && recs.length <= 2, "once per connection");
    assert.equal(recs[0].fields.detail, "Bob is suspended");
    await assertGoodClientServed(server);
  } finally {
    await server.close();
  }
});

Deno.test("demo policy admits a self-signed client and warns on every such connection", async () => {
  const { server, log } = await startServer(fx, { policy: "demo" });
  try {
    assert.ok(log.records.some((r) => r.level === "warn" && /DEMO POLICY IN EFFECT/.test(r.msg)));
    for (let i = 0; i < 2; i++) {
      const res = await post(server.url, fx.selfSigned, INITIALIZE);
      assert.equal(res.status, 200);
    }
    const warnings = log.records.filter((r) => /UNVERIFIED client certificate/.test(r.msg));
    assert.equal(warnings.length, 2);
    // Still refuses what demo does not waive.
    await post(server.url, fx.expired, INITIALIZE).catch(() => {});
    await log.waitForReason("expired");
    await assertGoodClientServed(server);
  } finally {
    await server.close();
  }
});

Deno.test("server refuses connections over maxConnections (rate_limited)", async () => {
  const { server, log } = await startServer(fx, { limits: { maxConnections: 1 } });
  try {
    const idle = await Deno.connect({ hostname: "127.0.0.1", port: server.address.port });
    try {
      await post(server.url, fx.alice, INITIALIZE).catch(() => {});
      await log.waitForReason("rate_limited");
    } finally {
      idle.close();
    }
    await new Promise((r) => setTimeout(r, 50));
    await assertGoodClientServed(server);
  } finally {
    await server.close();
  }
});

Deno.test("server answers 413 to a body over maxBodyBytes", async () => {
  const { server, log } = await startServer(fx, { limits: { maxBodyBytes: 1024 } });
  try {
    const big = { ...INITIALIZE, params: { ...INITIALIZE.params, pad: "x".repeat(4096) } };
    const res = await post(server.url, fx.alice, big);
    assert.equal(res.status, 413);
    assert.equal(log.records.filter((r) => r.fields.reason === "rate_limited").length, 1);
    await assertGoodClientServed(server);
  } finally {
    await server.close();
  }
});

Deno.test("server closes an admitted connection that sends no request within idleTimeoutMs", async () => {
  const { server, log } = await startServer(fx, { limits: { idleTimeoutMs: 200 } });
  try {
    const conn = await Deno.connectTls({
      hostname: "127.0.0.1",
      port: server.address.port,
      caCerts: [fx.ca],
      cert: fx.alice.cert,
      key: fx.alice.key,
    });
    try {
      await conn.handshake();
      const n = await conn.read(new Uint8Array(64)).catch(() => null);
      assert.equal(n, null);
    } finally {
      conn.close();
    }
    // Closed for being idle, with our timeout: nothing else closed it.
    const closes = log.records.filter((r) => r.msg.includes("closed"));
    assert.deepEqual(closes.map((r) => [r.msg, r.fields.idleMs]), [[
      "idle connection closed",
      200,
    ]]);
    await assertGoodClientServed(server);
  } finally {
    await server.close();
  }
});
