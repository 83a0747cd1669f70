import assert from "node:assert/strict";
import { isMtlsError } from "../../src/errors.ts";
import { demoServerFactory } from "../../src/mcp/demo_tools.ts";
import { serveMcp } from "../../src/mcp/server.ts";
import { collectingLogger, type Fixtures, makeFixtures, run, startServer } from "./_fixtures.ts";

const fx: Fixtures = await makeFixtures();

// A real OpenSSL peer (Node.js 20): N TLS connection attempts from one source
// address, spread over SPREAD_MS; prints how many completed the handshake.
// Each admitted connection sends one request and waits for the answer, so the
// server has seen the whole handshake before the client goes away.
const FLOOD = `
const tls = require("node:tls");
const fs = require("node:fs");
const [port, from, n, spreadMs, ca, cert, key] = process.argv.slice(1);
const opts = { host: "127.0.0.1", port: +port, localAddress: from, ca: fs.readFileSync(ca),
  cert: fs.readFileSync(cert), key: fs.readFileSync(key), servername: "localhost" };
let handshakes = 0, refused = 0, done = 0;
const finish = () => { if (++done === +n) console.log(JSON.stringify({ handshakes, refused })); };
for (let i = 0; i < +n; i++) {
  setTimeout(() => {
    let ok = false;
    const s = tls.connect(opts, () => {
      ok = true;
      handshakes++;
      s.write("GET /health HTTP/1.1\\r\\nhost: localhost\\r\\n\\r\\n"); // answered 404 once admitted
      s.once("data", () => s.destroy());
    });
    s.on("error", () => {});
    s.on("close", () => { if (!ok) refused++; finish(); });
  }, Math.floor((i * +spreadMs) / +n));
}
`;

async function flood(port: number, from: string, n: number, spreadMs: number) {
  const r = await run("node", [
    "-e",
    FLOOD,
    String(port),
    from,
    String(n),
    String(spreadMs),
    fx.caFile,
    fx.alice.certFile,
    fx.alice.keyFile,
  ], { timeoutMs: 20_000 });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as { handshakes: number; refused: number };
}

Deno.test("200 connection attempts in a second from one address: only the limit reach the handshake, one refusal line per window, other addresses unaffected", async () => {
  let policyRuns = 0; // the hook runs once per connection that completed the handshake
  const { server, log } = await startServer(fx, {
    limits: { connectionsPerAddress: { limit: 20, windowMs: 10_000 } },
    policy: { verify: () => void policyRuns++ },
  });
  let closed = false;
  try {
    const t0 = Date.now();
    const first = await flood(server.address.port, "127.0.0.1", 200, 1000);
    const took = Date.now() - t0;
    assert.deepEqual(first, { handshakes: 20, refused: 180 }, `in ${took} ms`);
    assert.equal(policyRuns, 20);

    const other = await flood(server.address.port, "127.0.0.2", 5, 50);
    assert.deepEqual(other, { handshakes: 5, refused: 0 }, "127.0.0.2 has its own budget");
    assert.equal(policyRuns, 25);

    const lines = log.records.filter((r) => r.fields.reason === "rate_limited");
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.equal(lines[0].msg, "connection refused");
    assert.match(String(lines[0].fields.peer), /^127\.0\.0\.1:\d+$/);
    assert.match(String(lines[0].fields.detail), /More than 20 connections from "127\.0\.0\.1"/);

    await server.close();
    closed = true;
    const summary = log.records.filter((r) => r.msg === "connection refusals suppressed");
    assert.deepEqual(
      summary.map((r) => [r.fields.address, r.fields.suppressed]),
      [["127.0.0.1", 179]],
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
    for (let i = 0; i < 2; i++) {
      held.push(await Deno.connect({ hostname: "127.0.0.1", port: server.address.port }));
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
    assert.equal(other.handshakes, 1);
  } finally {
    for (const c of held) {
      try {
        c.close();
      } catch { /* closed by the server */ }
    }
    await server.close();
  }
});

Deno.test("connection limit options are validated with the key named", async () => {
  const tls = { cert: fx.server.cert, key: fx.server.key, ca: fx.ca };
  const cases: [Record<string, unknown>, string][] = [
    [{ connectionsPerAddress: { limit: 0 } }, "limits.connectionsPerAddress.limit"],
    [{ connectionsPerAddress: { windowMs: 1.5 } }, "limits.connectionsPerAddress.windowMs"],
    [{ connectionsPerAddress: true }, "limits.connectionsPerAddress"],
    [{ maxConnectionsPerAddress: -1 }, "limits.maxConnectionsPerAddress"],
  ];
  for (const [limits, key] of cases) {
    await assert.rejects(
      serveMcp(demoServerFactory, { port: 0, tls, limits, logger: collectingLogger() }),
      (e) => isMtlsError(e, "invalid_config") && (e as { key?: string }).key === key,
      key,
    );
  }
});

Deno.test({ name: "fixtures cleanup", fn: () => fx.cleanup() });
