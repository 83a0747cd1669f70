/**
 * The parts of the shared connection limits of `serve --workers N`: the
 * coordinator's gates (one count for every worker; a worker speaks only for
 * its own connections; a worker that ends gives its connections back), and
 * a worker's side, which refuses a connection with `worker_unavailable` when
 * the coordinator does not answer in time (fail closed) and gives back a
 * grant that came too late.
 */
import assert from "node:assert/strict";
import tls from "node:tls";
import type { ObservableMcpServer } from "../../src/mcp/server_types.ts";
import { joinCluster } from "../../src/mcp/session_seams.ts";
import { createAdmissionCoordinator } from "../../src/workers/admission_coordinator.ts";
import type { FromWorker, GateAnswer, ToWorker } from "../../src/workers/messages.ts";
import { sharedCounter } from "../../src/workers/shared_counter.ts";
import { sharedGates } from "../../src/workers/shared_gates_link.ts";
import { collectingLogger, type Fixtures, makeFixtures, startServer } from "../server/_fixtures.ts";

const fx: Fixtures = await makeFixtures();

const open = (address: string, port = 5000) =>
  ({ op: "open", address, peer: `${address}:${port}` }) as const;

type Gates = ReturnType<typeof createAdmissionCoordinator>;

/** The coordinator's answer, which must come at once (no probe). */
function askNow(g: Gates, worker: number, q: Parameters<Gates["ask"]>[1]): GateAnswer {
  let answer: GateAnswer | undefined;
  g.ask(worker, q, (a) => (answer = a));
  assert.ok(answer, "answered at once");
  return answer;
}

Deno.test("the coordinator's gates count every worker's connections once; a worker cannot close another's; a worker that ends gives its connections back", () => {
  const log = collectingLogger();
  const g = createAdmissionCoordinator({
    maxConnections: 3,
    maxConnectionsPerAddress: 1,
    connectionsPerAddress: false,
    connectionsPerIdentity: false,
    logger: log,
    send: () => assert.fail("nothing to probe: every connection here spoke or settled"),
  });
  try {
    // Each admitted (settled), so none of them can be closed to make room.
    const settled = (w: number, q: ReturnType<typeof open>) => {
      const a = askNow(g, w, q);
      if ("conn" in a) g.note(w, { op: "settle", conn: a.conn, trusted: false });
      return a;
    };
    assert.deepEqual(settled(0, open("10.0.0.1")), { conn: 1 });
    assert.deepEqual(askNow(g, 1, open("10.0.0.1", 5001)), { refused: true });
    assert.deepEqual(log.records.map((r) => [r.msg, r.fields.detail, r.fields.worker]), [
      ["connection refused", 'More than 1 concurrent connections from "10.0.0.1"', 1],
    ]);
    // Worker 1 may not free worker 0's place (a confused or hostile worker).
    g.note(1, { op: "close", conn: 1, spoke: true });
    assert.deepEqual(askNow(g, 1, open("10.0.0.1", 5002)), { refused: true });
    assert.deepEqual(settled(1, open("10.0.0.2")), { conn: 2 });
    assert.deepEqual(settled(0, open("10.0.0.3")), { conn: 3 });
    assert.deepEqual(askNow(g, 1, open("10.0.0.4")), { refused: true }, "3 in all");
    assert.equal(g.open, 3);
    g.workerGone(0);
    assert.equal(g.open, 1);
    assert.deepEqual(settled(1, open("10.0.0.1", 5003)), { conn: 4 });
    // A note for a connection already given back changes nothing.
    g.note(0, { op: "close", conn: 1, spoke: true });
    assert.equal(g.open, 2);
  } finally {
    g.close();
  }
});

Deno.test("the coordinator's budgets: a connection that spoke without a trusted certificate spends its address's unit for every worker; one certificate's rate never refuses another", () => {
  const log = collectingLogger();
  const g = createAdmissionCoordinator({
    maxConnections: 100,
    maxConnectionsPerAddress: 100,
    connectionsPerAddress: { limit: 1, windowMs: 60_000 },
    connectionsPerIdentity: { limit: 1, windowMs: 60_000 },
    logger: log,
    send: () => {}, // probes left unanswered: nothing is closed on a guess
    probeMs: 1,
  });
  try {
    // A handshake refused on worker 0: the unit is spent when it closes.
    assert.deepEqual(askNow(g, 0, open("10.0.0.1")), { conn: 1 });
    g.note(0, { op: "close", conn: 1, spoke: true });
    assert.deepEqual(askNow(g, 1, open("10.0.0.1", 5001)), { refused: true });
    // A bare connect that sent nothing spends nothing.
    assert.deepEqual(askNow(g, 1, open("10.0.0.2")), { conn: 2 });
    g.note(1, { op: "close", conn: 2, spoke: false });
    // Admitted anonymously: spent at once (`settle`), and counted while it lasts.
    assert.deepEqual(askNow(g, 1, open("10.0.0.2", 5001)), { conn: 3 });
    g.note(1, { op: "settle", conn: 3, trusted: false });
    assert.deepEqual(askNow(g, 0, open("10.0.0.2", 5002)), { refused: true });
    // A trusted certificate spends no unit of its address; its own rate is shared too.
    assert.deepEqual(askNow(g, 0, open("10.0.0.3")), { conn: 4 });
    const alice = { fingerprint: "aa".repeat(32), subject: "CN=alice" };
    const identity = (conn: number, key: typeof alice) =>
      ({ op: "identity", conn, ...key, peer: "10.0.0.3:1" }) as const;
    assert.deepEqual(askNow(g, 0, identity(4, alice)), { granted: true });
    assert.deepEqual(askNow(g, 1, open("10.0.0.3", 5001)), { conn: 5 });
    assert.deepEqual(askNow(g, 1, identity(5, alice)), { refused: true });
    assert.deepEqual(
      askNow(g, 1, identity(5, { fingerprint: "bb".repeat(32), subject: "CN=bob" })),
      {
        granted: true,
      },
    );
    const lines = log.records.filter((r) => r.msg === "connection refused");
    assert.deepEqual(lines.map((r) => [r.fields.detail, r.fields.worker]), [
      [
        'More than 1 connections from "10.0.0.1" without a trusted certificate in 60000 ms, ' +
        "counting 0 still in their handshake",
        1,
      ],
      [
        'More than 1 connections from "10.0.0.2" without a trusted certificate in 60000 ms, ' +
        "counting 0 still in their handshake",
        0,
      ],
      ['More than 1 connections with the certificate "CN=alice" in 60000 ms', 1],
    ]);
    assert.ok(lines.every((r) => r.fields.reason === "rate_limited"));
  } finally {
    g.close();
  }
});

Deno.test("at a cap, the coordinator asks the workers which connections still in their handshake sent nothing, and closes the oldest silent one for the new connection; one that spoke or did not answer is never closed", async () => {
  const log = collectingLogger();
  const sent: [number, ToWorker][] = [];
  const g = createAdmissionCoordinator({
    maxConnections: 100,
    maxConnectionsPerAddress: 2,
    connectionsPerAddress: false,
    connectionsPerIdentity: false,
    logger: log,
    send: (w, m) => void sent.push([w, m]),
    probeMs: 50,
  });
  const answers: GateAnswer[] = [];
  const reply = (a: GateAnswer) => void answers.push(a);
  try {
    assert.deepEqual(askNow(g, 0, open("10.0.0.1")), { conn: 1 });
    assert.deepEqual(askNow(g, 1, open("10.0.0.1", 5001)), { conn: 2 });
    // The third from 10.0.0.1: both holders are asked first.
    g.ask(1, open("10.0.0.1", 5002), reply);
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(answers, []);
    assert.deepEqual(sent, [[0, { t: "probe", id: 1, conns: [1] }], [1, {
      t: "probe",
      id: 1,
      conns: [2],
    }]]);
    g.probed(0, 1, []); // conn 1 spoke
    g.probed(0, 1, [1]); // a second answer from the same worker is ignored
    g.probed(1, 1, [2]); // conn 2 sent nothing
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(answers, [{ conn: 3 }]);
    assert.deepEqual(sent[2], [1, { t: "drop", conn: 2 }]);
    const made = log.records.filter((r) => r.msg === "connection refused");
    assert.deepEqual(made.map((r) => [r.fields.peer, r.fields.detail, r.fields.worker]), [[
      "10.0.0.1:5001",
      'Closed the oldest silent connection from "10.0.0.1" to make room: more than 2 ' +
      'concurrent connections from "10.0.0.1"',
      1,
    ]]);
    // The dropped connection's own close later changes nothing.
    g.note(1, { op: "close", conn: 2, spoke: false });
    assert.equal(g.open, 2);
    // Again, but the probe finds none silent, then one worker does not answer: refused, nothing closed.
    g.ask(0, open("10.0.0.1", 5003), reply);
    await new Promise((r) => setTimeout(r, 0));
    g.probed(0, 2, []);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(answers, [{ conn: 3 }, { refused: true }]);
    assert.equal(g.open, 2);
    assert.equal(sent.filter(([, m]) => m.t === "drop").length, 1);
  } finally {
    g.close();
  }
});

/** A worker's link whose primary never answers; `sent` keeps what the worker said. */
function silentLink() {
  const sent: FromWorker[] = [];
  const orders: ((m: Exclude<ToWorker, { t: "answer" }>) => void)[] = [];
  return {
    sent,
    deliver: (m: Exclude<ToWorker, { t: "answer" }>) => orders.forEach((l) => l(m)),
    send: (m: FromWorker) => void sent.push(m),
    onOrder: (l: (m: Exclude<ToWorker, { t: "answer" }>) => void) => void orders.push(l),
    ask: () => Promise.resolve(undefined),
    note: () => {},
  };
}

Deno.test("a worker gives back a connection the coordinator granted after the deadline", async () => {
  const link = silentLink();
  const gates = sharedGates(link, { deadlineMs: 20, identityLimited: true });
  const conn = { peer: "10.0.0.1:5000", received: () => 0, close() {} };
  assert.deepEqual(await gates.open("10.0.0.1", conn), {
    reason: "worker_unavailable",
    detail: "The connection coordinator did not answer within 20 ms",
    logged: false,
  });
  assert.deepEqual(link.sent, [{
    t: "gates",
    items: [{ id: 1, q: { op: "open", address: "10.0.0.1", peer: "10.0.0.1:5000" } }],
  }]);
  link.deliver({ t: "gates", answers: [[1, { conn: 9 }]] });
  // Notes wait for a question to ride with; a probe sends them first.
  link.deliver({ t: "probe", id: 4, conns: [9] });
  assert.deepEqual(link.sent.slice(1), [
    { t: "gates", items: [{ n: { op: "close", conn: 9, spoke: false } }] },
    { t: "probed", id: 4, silent: [] },
  ]);
});

Deno.test("a worker sends what one turn produced as one message, and the primary answers it in one", async () => {
  const link = silentLink();
  const gates = sharedGates(link, { deadlineMs: 2_000, identityLimited: false });
  const conn = (port: number) => ({ peer: `10.0.0.1:${port}`, received: () => 1, close() {} });
  const opening = [gates.open("10.0.0.1", conn(1)), gates.open("10.0.0.1", conn(2))];
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(link.sent.length, 1);
  const batch = link.sent[0];
  assert.ok(batch.t === "gates" && batch.items.length === 2);
  // The coordinator's side: one batch in, one message out.
  const out: [number, ToWorker][] = [];
  const g = createAdmissionCoordinator({
    maxConnections: 10,
    maxConnectionsPerAddress: 1,
    connectionsPerAddress: false,
    connectionsPerIdentity: false,
    logger: collectingLogger(),
    send: (w, m) => void out.push([w, m]),
  });
  try {
    g.take(0, [...batch.items, { n: { op: "settle", conn: 1, trusted: true } }]);
    // The second one waits for a probe of the first (unsettled when asked): answered apart,
    // and the probe goes after the answer that tells the worker the number it asks about.
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(out[0], [0, { t: "gates", answers: [[1, { conn: 1 }]] }]);
    assert.deepEqual(out[1], [0, { t: "probe", id: 1, conns: [1] }]);
    g.probed(0, 1, []);
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(out[2], [0, { t: "gates", answers: [[2, { refused: true }]] }]);
    link.deliver(out[0][1] as Exclude<ToWorker, { t: "answer" }>);
    link.deliver(out[2][1] as Exclude<ToWorker, { t: "answer" }>);
    const [first, second] = await Promise.all(opening);
    assert.ok("release" in first);
    assert.equal((second as { reason: string }).reason, "rate_limited");
    // Without a per-certificate limit an admitted certificate costs a note, not a question.
    assert.equal(await gates.identity(first, { fingerprint: "aa", subject: "CN=a" }, "p"), true);
    first.release();
    // Notes ride with the next question.
    const third = gates.open("10.0.0.1", conn(3));
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(link.sent.slice(1), [{
      t: "gates",
      items: [
        { n: { op: "settle", conn: 1, trusted: true } },
        { n: { op: "close", conn: 1, spoke: true } },
        { id: 3, q: { op: "open", address: "10.0.0.1", peer: "10.0.0.1:3" } },
      ],
    }]);
    link.deliver({ t: "gates", answers: [[3, { refused: true }]] });
    await third;
  } finally {
    g.close();
  }
});

/** One TLS connection with one request: true when answered (admitted), false when closed. */
function admitted(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = tls.connect({
      host: "127.0.0.1",
      port,
      ca: fx.ca,
      cert: fx.alice.cert,
      key: fx.alice.key,
      servername: "localhost",
    }, () => s.write(`GET /nothing HTTP/1.1\r\nhost: localhost:${port}\r\n\r\n`));
    s.on("error", () => {});
    s.once("data", () => {
      s.destroy();
      resolve(true);
    });
    s.once("close", () => resolve(false));
  });
}

Deno.test("a worker whose coordinator does not answer refuses the connection with worker_unavailable, after its handshake and before any request", async () => {
  const link = silentLink();
  const options = { limits: { connectionsPerAddress: false as const } };
  joinCluster(options, {
    reusePort: false,
    sessionIdPrefix: "w0-",
    counter: sharedCounter(link, { maxSessionsPerConnection: 4, deadlineMs: 100 }, () => {}),
    router: { forward: () => Promise.resolve("missing" as const) },
    attach: () => Promise.resolve(),
    connections: sharedGates(link, { deadlineMs: 100, identityLimited: true }),
  });
  const { server, log } = await startServer(fx, options);
  try {
    assert.equal(await admitted(server.address.port), false);
    const lines = log.records.filter((r) => r.msg === "connection refused");
    assert.deepEqual(lines.map((r) => [r.level, r.fields.reason, r.fields.detail]), [
      ["warn", "worker_unavailable", "The connection coordinator did not answer within 100 ms"],
    ]);
    assert.match(String(lines[0].fields.peer), /^127\.0\.0\.1:\d+$/);
    const m = (server as ObservableMcpServer).metrics();
    assert.equal(m.handshakes.refused.worker_unavailable, 1);
    assert.equal(m.handshakes.admitted, 0);
  } finally {
    await server.close();
  }
});
