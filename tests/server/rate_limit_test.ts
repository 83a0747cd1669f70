import assert from "node:assert/strict";
import { isMtlsError } from "../../src/errors.ts";
import { demoServerFactory } from "../../src/mcp/demo_tools.ts";
import { serveMcp } from "../../src/mcp/server.ts";
import { resolveServeOptions, type ServerLimits } from "../../src/mcp/server_options.ts";
import {
  collectingLogger,
  type Credential,
  type Fixtures,
  makeFixtures,
  run,
  startServer,
} from "./_fixtures.ts";

const fx: Fixtures = await makeFixtures();

// A real OpenSSL peer (Node.js 20): N TLS connection attempts from one source
// address, spread over SPREAD_MS; prints how many were answered (admitted) and
// how many were closed without an answer (refused, at accept or after the
// handshake). Each sends one request once its handshake completes and waits.
const FLOOD = `
const tls = require("node:tls");
const fs = require("node:fs");
const [port, from, n, spreadMs, ca, cert, key] = process.argv.slice(1);
const opts = { host: "127.0.0.1", port: +port, localAddress: from, ca: fs.readFileSync(ca),
  cert: fs.readFileSync(cert), key: fs.readFileSync(key), servername: "localhost" };
let answered = 0, refused = 0, done = 0;
const finish = () => { if (++done === +n) console.log(JSON.stringify({ answered, refused })); };
for (let i = 0; i < +n; i++) {
  setTimeout(() => {
    let ok = false;
    const s = tls.connect(opts, () => {
      s.write("GET /health HTTP/1.1\\r\\nhost: localhost:" + port + "\\r\\n\\r\\n"); // answered once admitted
      s.once("data", () => { ok = true; answered++; s.destroy(); });
    });
    s.on("error", () => {});
    s.on("close", () => { if (!ok) refused++; finish(); });
  }, Math.floor((i * +spreadMs) / +n));
}
`;

async function flood(
  port: number,
  from: string,
  n: number,
  spreadMs: number,
  cred: Credential = fx.alice,
) {
  const r = await run("node", [
    "-e",
    FLOOD,
    String(port),
    from,
    String(n),
    String(spreadMs),
    fx.caFile,
    cred.certFile,
    cred.keyFile,
  ], { timeoutMs: 20_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { answered: number; refused: number };
}

Deno.test("200 connections in a second from one certificate: the limit are admitted, the rest refused before their chain is checked, one refusal line per window, other certificates unaffected", async () => {
  let policyRuns = 0; // the hook runs once per connection whose chain was checked
  const { server, log } = await startServer(fx, {
    limits: {
      // Room for the whole burst in flight: this test is about the certificate's limit.
      connectionsPerAddress: { limit: 200, windowMs: 10_000 },
      connectionsPerIdentity: { limit: 20, windowMs: 10_000 },
    },
    policy: { verify: () => void policyRuns++ },
  });
  let closed = false;
  try {
    const t0 = Date.now();
    const first = await flood(server.address.port, "127.0.0.1", 200, 1000);
    const took = Date.now() - t0;
    assert.deepEqual(first, { answered: 20, refused: 180 }, `in ${took} ms`);
    assert.equal(policyRuns, 20);

    const sameAddress = await flood(server.address.port, "127.0.0.1", 5, 50, fx.bob);
    assert.deepEqual(sameAddress, { answered: 5, refused: 0 }, "bob has his own budget");
    const other = await flood(server.address.port, "127.0.0.2", 5, 50, fx.bob);
    assert.deepEqual(other, { answered: 5, refused: 0 });
    assert.equal(policyRuns, 30);

    const lines = log.records.filter((r) => r.fields.reason === "rate_limited");
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.equal(lines[0].msg, "connection refused");
    assert.equal(lines[0].level, "warn");
    assert.match(String(lines[0].fields.peer), /^127\.0\.0\.1:\d+$/);
    assert.match(
      String(lines[0].fields.detail),
      /More than 20 connections with the certificate "CN=alice" in 10000 ms/,
    );

    await server.close();
    closed = true;
    const summary = log.records.filter((r) => r.msg === "connection refusals suppressed");
    assert.deepEqual(
      summary.map((r) => [r.fields.fingerprint, r.fields.suppressed]),
      [[lines[0].fields.fingerprint, 179]],
      "the 179 refusals not logged one by one are counted",
    );
  } finally {
    if (!closed) await server.close();
  }
});

Deno.test("maxConnectionsPerAddress closes extra concurrent connections from one address at accept", async () => {
  const { server, log } = await startServer(fx, {
    limits: { maxConnectionsPerAddress: 2, connectionsPerAddress: false },
  });
  const held: Deno.Conn[] = [];
  try {
    // Two admitted clients: unlike silent connections, they are never closed to make room.
    for (let i = 0; i < 2; i++) {
      const c = await Deno.connectTls({
        hostname: "127.0.0.1",
        port: server.address.port,
        caCerts: [fx.ca],
        cert: fx.alice.cert,
        key: fx.alice.key,
      });
      await c.handshake();
      held.push(c);
    }
    const third = await Deno.connect({ hostname: "127.0.0.1", port: server.address.port });
    held.push(third);
    assert.equal(await third.read(new Uint8Array(16)).catch(() => null), null);
    const [line] = log.records.filter((r) => r.fields.reason === "rate_limited");
    assert.match(
      String(line.fields.detail),
      /More than 2 concurrent connections from "127\.0\.0\.1"/,
    );
    const other = await flood(server.address.port, "127.0.0.2", 1, 0);
    assert.equal(other.answered, 1);
  } finally {
    for (const c of held) {
      try {
        c.close();
      } catch { /* closed by the server */ }
    }
    await server.close();
  }
});

Deno.test("connectionsPerIdentity defaults to connectionsPerAddress, false included", () => {
  const tls = { cert: fx.server.cert, key: fx.server.key, ca: fx.ca };
  const resolve = (limits: ServerLimits) => {
    const o = resolveServeOptions({ tls, limits, logger: collectingLogger() });
    return [o.connectionsPerAddress, o.connectionsPerIdentity];
  };
  const d = { limit: 50, windowMs: 60_000 };
  assert.deepEqual(resolve({}), [d, d]);
  assert.deepEqual(resolve({ connectionsPerAddress: { limit: 7 } }), [
    { limit: 7, windowMs: 60_000 },
    { limit: 7, windowMs: 60_000 },
  ]);
  assert.deepEqual(resolve({ connectionsPerAddress: false }), [false, false]);
  assert.deepEqual(resolve({ connectionsPerIdentity: { limit: 600 } }), [
    d,
    { limit: 600, windowMs: 60_000 },
  ]);
  assert.deepEqual(resolve({ connectionsPerAddress: false, connectionsPerIdentity: d }), [
    false,
    d,
  ]);
});

Deno.test("connection limit options are validated with the key named", async () => {
  const tls = { cert: fx.server.cert, key: fx.server.key, ca: fx.ca };
  const cases: [Record<string, unknown>, string][] = [
    [{ connectionsPerAddress: { limit: 0 } }, "limits.connectionsPerAddress.limit"],
    [{ connectionsPerAddress: { windowMs: 1.5 } }, "limits.connectionsPerAddress.windowMs"],
    [{ connectionsPerAddress: true }, "limits.connectionsPerAddress"],
    [{ maxConnectionsPerAddress: -1 }, "limits.maxConnectionsPerAddress"],
    [{ connectionsPerIdentity: { limit: 0 } }, "limits.connectionsPerIdentity.limit"],
    [{ connectionsPerIdentity: "many" }, "limits.connectionsPerIdentity"],
  ];
  for (const [limits, key] of cases) {
    await assert.rejects(
      serveMcp(demoServerFactory, { port: 0, tls, limits, logger: collectingLogger() }),
      (e) => isMtlsError(e, "invalid_config") && (e as { key?: string }).key === key,
      key,
    );
  }
});
