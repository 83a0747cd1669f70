/**
 * Connection limits with `serve --workers 2`, each worker on a port of its
 * own so that a test chooses the worker a connection lands on: the
 * per-certificate rate, the per-address cap and the server-wide cap are
 * counted once for every worker (by the coordinator on the primary), one
 * client's limit never refuses another, and a worker that ends gives its
 * connections back. Refusals are checked by the primary's log line (reason,
 * detail, worker).
 */
import assert from "node:assert/strict";
import tls from "node:tls";
import { type Credential, type Fixtures, makeFixtures } from "../server/_fixtures.ts";
import { startUpstream } from "../gateway/_upstream.ts";
import { certsDir, startTestPool, type TestPool } from "./_pool.ts";

const fx: Fixtures = await makeFixtures();
const dir = await certsDir(fx);

/**
 * One TLS connection to `port` from `from` presenting `cred`, with one
 * request: the socket, still open, once the server answered (admitted), or
 * `undefined` when the server closed it without an answer (refused).
 */
function connect(
  port: number,
  cred: Credential | undefined,
  from = "127.0.0.1",
): Promise<tls.TLSSocket | undefined> {
  return new Promise((resolve) => {
    const options: tls.ConnectionOptions & { localAddress: string } = {
      host: "127.0.0.1",
      port,
      localAddress: from, // node:net's, which node:tls passes on
      ca: fx.ca,
      ...(cred ? { cert: cred.cert, key: cred.key } : {}),
      servername: "localhost",
    };
    const s = tls.connect(
      options,
      () => s.write(`GET /nothing HTTP/1.1\r\nhost: localhost:${port}\r\n\r\n`),
    );
    s.on("error", () => {});
    s.once("data", () => resolve(s));
    s.once("close", () => resolve(undefined));
  });
}

/** Connects until admitted (a close reaches the coordinator as a message), at most 100 tries. */
async function eventually(port: number, cred: Credential): Promise<tls.TLSSocket | undefined> {
  for (let i = 0; i < 100; i++) {
    const s = await connect(port, cred);
    if (s) return s;
    await new Promise((r) => setTimeout(r, 20));
  }
  return undefined;
}

/** The primary's `connection refused` lines. */
function refusals(p: TestPool) {
  return p.log.records.filter((r) => r.msg === "connection refused");
}

/** Starts two workers on ports of their own; runs `body`; closes every socket and the pool. */
async function withPool(
  limits: Record<string, unknown>,
  body: (p: TestPool, held: tls.TLSSocket[]) => Promise<void>,
  config: Record<string, unknown> = {},
): Promise<void> {
  const p = await startTestPool(dir, { ...config, limits });
  const held: tls.TLSSocket[] = [];
  try {
    await body(p, held);
  } finally {
    for (const s of held) s.destroy();
    await p.pool.close();
  }
}

Deno.test("hostile: connectionsPerIdentity of 1 holds across workers: the same certificate again on the other worker is refused with rate_limited, and its refusals spend nothing of the address's budget, so another certificate from the address is still admitted", async () => {
  await withPool(
    {
      connectionsPerIdentity: { limit: 1, windowMs: 60_000 },
      connectionsPerAddress: { limit: 2, windowMs: 60_000 },
    },
    async (p, held) => {
      const [w0, w1] = p.pool.ports;
      const first = await connect(w0, fx.alice);
      assert.ok(first, "alice's first connection is admitted");
      held.push(first);
      // Three more of alice's, over her limit, from the address bob shares with her.
      for (let i = 0; i < 3; i++) {
        assert.equal(await connect(w1, fx.alice), undefined, "alice again, on worker 1");
      }
      const lines = refusals(p);
      assert.equal(lines.length, 1, JSON.stringify(lines));
      assert.equal(lines[0].level, "warn");
      assert.equal(lines[0].fields.reason, "rate_limited");
      assert.equal(
        lines[0].fields.detail,
        'More than 1 connections with the certificate "CN=alice" in 60000 ms',
      );
      assert.equal(lines[0].fields.worker, 1);
      assert.match(String(lines[0].fields.peer), /^127\.0\.0\.1:\d+$/);
      assert.match(String(lines[0].fields.fingerprint), /^[0-9a-f]{64}$/);
      // One certificate's limit never refuses another's connection, on the worker that refused.
      const bob = await connect(w1, fx.bob);
      assert.ok(bob, "bob is admitted on worker 1");
      held.push(bob);
      // Every refusal is counted (the log line is once per window per certificate).
      const m = await p.pool.metrics();
      assert.equal(m.handshakes.refused.rate_limited, 3);
    },
  );
});

Deno.test("maxConnectionsPerAddress of 1 holds across workers, other addresses are admitted, and a closed connection gives its place back", async () => {
  await withPool(
    { maxConnectionsPerAddress: 1, connectionsPerAddress: false },
    async (p, held) => {
      const [w0, w1] = p.pool.ports;
      const first = await connect(w0, fx.alice);
      assert.ok(first);
      assert.equal(await connect(w1, fx.bob), undefined, "a second connection from 127.0.0.1");
      const [line] = refusals(p);
      assert.equal(line.fields.reason, "rate_limited");
      assert.equal(line.fields.detail, 'More than 1 concurrent connections from "127.0.0.1"');
      assert.equal(line.fields.worker, 1);
      // Another address is not affected.
      const other = await connect(w1, fx.bob, "127.0.0.2");
      assert.ok(other, "127.0.0.2 is admitted");
      held.push(other);
      // Closing the first gives its place back, on the other worker too.
      first.destroy();
      const again = await eventually(w1, fx.bob);
      assert.ok(again, "admitted once the first closed");
      held.push(again);
    },
  );
});

Deno.test("the per-address budget holds across workers: connections without a certificate on one worker spend it for the other", async () => {
  await withPool(
    { connectionsPerAddress: { limit: 2, windowMs: 60_000 } },
    async (p, held) => {
      const [w0, w1] = p.pool.ports;
      // Each completes a handshake, then is refused (no_client_cert): a unit spent each.
      for (let i = 0; i < 2; i++) assert.equal(await connect(w0, undefined), undefined);
      // The third, on the other worker, is refused at accept, before any TLS work.
      assert.equal(await connect(w1, fx.alice), undefined);
      const lines = refusals(p);
      assert.equal(lines.length, 1, JSON.stringify(lines));
      assert.equal(lines[0].fields.reason, "rate_limited");
      // The last close may reach the coordinator after the third's question: then it is "1 still".
      assert.match(
        String(lines[0].fields.detail),
        /^More than 2 connections from "127\.0\.0\.1" without a trusted certificate in 60000 ms, counting [01] still in their handshake$/,
      );
      assert.equal(lines[0].fields.worker, 1);
      const each = await p.pool.workerMetrics();
      assert.deepEqual(each.map((m) => m?.handshakes.refused.no_client_cert ?? 0), [2, 0]);
      // Another address has its own budget.
      const other = await connect(w1, fx.alice, "127.0.0.2");
      assert.ok(other);
      held.push(other);
    },
  );
});

Deno.test("silent connections on one worker cannot lock out their address on the other: the oldest that sent nothing is closed to make room", async () => {
  await withPool(
    { maxConnectionsPerAddress: 2, connectionsPerAddress: false },
    async (p, held) => {
      const [w0, w1] = p.pool.ports;
      const silent: Deno.Conn[] = [];
      try {
        for (let i = 0; i < 2; i++) {
          silent.push(await Deno.connect({ hostname: "127.0.0.1", port: w0 }));
        }
        // Whatever order the three questions reach the coordinator in, the oldest silent one goes.
        const alice = await connect(w1, fx.alice);
        assert.ok(alice, "alice is admitted on worker 1");
        held.push(alice);
        assert.equal(await silent[0].read(new Uint8Array(8)).catch(() => null), null);
        const made = refusals(p).filter((r) => String(r.fields.detail).startsWith("Closed"));
        assert.equal(made.length, 1, JSON.stringify(refusals(p)));
        assert.equal(made[0].fields.reason, "rate_limited");
        assert.equal(
          made[0].fields.detail,
          'Closed the oldest silent connection from "127.0.0.1" to make room: more than 2 ' +
            'concurrent connections from "127.0.0.1"',
        );
      } finally {
        for (const c of silent) {
          try {
            c.close();
          } catch { /* closed by the server */ }
        }
      }
    },
  );
});

Deno.test("maxConnections holds across workers: the server-wide cap is counted once", async () => {
  await withPool(
    { maxConnections: 2, connectionsPerAddress: false },
    async (p, held) => {
      const [w0, w1] = p.pool.ports;
      for (const [port, from] of [[w0, "127.0.0.1"], [w1, "127.0.0.2"]] as const) {
        const s = await connect(port, fx.alice, from);
        assert.ok(s, `admitted from ${from}`);
        held.push(s);
      }
      assert.equal(await connect(w0, fx.bob, "127.0.0.3"), undefined);
      const [line] = refusals(p);
      assert.equal(line.fields.reason, "rate_limited");
      assert.equal(line.fields.detail, "More than 2 concurrent connections");
      assert.equal(line.fields.worker, 0);
    },
  );
});

Deno.test("a worker that ends gives back the connections it held: the per-address cap admits again on the other worker", async () => {
  await withPool(
    { maxConnectionsPerAddress: 1, connectionsPerAddress: false },
    async (p, held) => {
      const [w0, w1] = p.pool.ports;
      const first = await connect(w0, fx.alice);
      assert.ok(first);
      held.push(first);
      assert.equal(await connect(w1, fx.alice), undefined, "held by worker 0");
      await p.pool.kill(0); // as a crash: the worker cannot say that its connections closed
      const after = await eventually(w1, fx.alice);
      assert.ok(after, "admitted on worker 1 once worker 0 ended");
      held.push(after);
    },
  );
});

Deno.test("the gateway's workers (--upstream) share the connection limits too: one certificate's rate of 1 holds across them", async () => {
  const upstream = await startUpstream();
  try {
    await withPool(
      { connectionsPerIdentity: { limit: 1, windowMs: 60_000 } },
      async (p, held) => {
        const [w0, w1] = p.pool.ports;
        const first = await connect(w0, fx.alice);
        assert.ok(first);
        held.push(first);
        assert.equal(await connect(w1, fx.alice), undefined);
        const [line] = refusals(p);
        assert.equal(line.fields.reason, "rate_limited");
        assert.equal(
          line.fields.detail,
          'More than 1 connections with the certificate "CN=alice" in 60000 ms',
        );
        assert.equal(line.fields.worker, 1);
        const bob = await connect(w1, fx.bob);
        assert.ok(bob, "bob is admitted");
        held.push(bob);
      },
      { upstream: { url: upstream.url } },
    );
  } finally {
    await upstream.close();
  }
});
