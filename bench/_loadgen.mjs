// Load generator for bench/mcp.ts, run by Node.js (OpenSSL TLS stack) in
// separate processes so the load does not share an event loop or a TLS
// implementation with the server under test.
//
// Usage: node bench/_loadgen.mjs '<json config>'
//   mode "keepalive": each client keeps one connection and sends requests back to back
//                     (kind "mcp": initialize a session, then tools/call echo; kind "json": POST /)
//   mode "fresh":     each request on a new connection (full handshake), then the connection closes
//   mode "resume":    like fresh, offering the previous connection's TLS session (resumption)
//   mode "paced":     like keepalive, but each client sends at a fixed rate (cfg.perClientRate calls/s,
//                     open loop, start times spread); latency is counted from the scheduled time
//                     whenever the previous call was still running then (no coordinated omission)
//   mode "hold":      open `clients` connections, one request each, then keep them idle
// Protocol: prints "ready" once warmed up, starts measuring on a "go" line on stdin,
// prints one JSON result line when done ("hold": waits for stdin to close).
import http from "node:http";
import https from "node:https";
import tls from "node:tls";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import process from "node:process";

const cfg = JSON.parse(process.argv[2]);
const url = new URL(cfg.url);
const secure = url.protocol === "https:";
const lib = secure ? https : http;
// One secure context per process: passing cert/key/ca per connection would make Node parse
// them (and build a CA store) on every handshake, which costs the client more than the TLS.
const tlsOpts = cfg.tls
  ? {
    secureContext: tls.createSecureContext({
      cert: readFileSync(cfg.tls.cert),
      key: readFileSync(cfg.tls.key),
      ca: readFileSync(cfg.tls.ca),
    }),
    servername: "localhost",
  }
  : {};
const MCP_HEADERS = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
};
const CALL = (id) =>
  JSON.stringify({
    jsonrpc: "2.0",
    id,
    method: "tools/call",
    params: { name: "echo", arguments: { text: "ping" } },
  });

function request(agent, headers, body, extra = {}) {
  return new Promise((resolve, reject) => {
    const req = lib.request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: "POST",
      agent,
      headers: { ...headers, "content-length": Buffer.byteLength(body) },
      ...tlsOpts,
      ...extra,
    }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      // A response cut off (connection reset) must fail the request, never leave it pending.
      res.on("close", () => {
        if (!res.complete) reject(new Error("response cut off"));
      });
      res.on("end", () =>
        resolve({
          status: res.statusCode,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
          socket: res.socket,
        }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.on("close", () => reject(new Error("connection closed before the response")));
    if (extra.onSocket) req.on("socket", extra.onSocket);
    req.end(body);
  });
}

/** One virtual client: returns an async op that performs one measured request. */
async function makeClient() {
  if (cfg.mode === "keepalive" || cfg.mode === "paced") {
    const agent = new lib.Agent({ keepAlive: true, maxSockets: 1, ...tlsOpts });
    if (cfg.kind !== "mcp") {
      return async () => {
        const r = await request(agent, { "content-type": "application/json" }, CALL(1));
        if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
      };
    }
    const init = await request(
      agent,
      MCP_HEADERS,
      JSON.stringify({
        jsonrpc: "2.0",
        id: 0,
        method: "initialize",
        params: {
          protocolVersion: "2025-06-18",
          capabilities: {},
          clientInfo: { name: "bench", version: "1.0.0" },
        },
      }),
    );
    const session = init.headers["mcp-session-id"];
    // cfg.stateless: a server with `sessions: "stateless"` issues no session id.
    if (init.status !== 200 || (!session && !cfg.stateless)) {
      throw new Error(`initialize: HTTP ${init.status}`);
    }
    const headers = {
      ...MCP_HEADERS,
      ...(session ? { "mcp-session-id": session } : {}),
      "mcp-protocol-version": "2025-06-18",
    };
    await request(
      agent,
      headers,
      JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" }),
    );
    let id = 1;
    return async () => {
      const r = await request(agent, headers, CALL(++id));
      if (r.status !== 200 || !r.body.includes('"result"')) {
        throw new Error(`tools/call: HTTP ${r.status} ${r.body.slice(0, 120)}`);
      }
    };
  }
  // fresh / resume: a new connection per request; any answer below 500 means the server
  // admitted the connection (our server answers 400 to a POST without a session).
  let session;
  const client = async () => {
    const r = await request(false, { "content-type": "application/json" }, CALL(1), {
      session: cfg.mode === "resume" ? session : undefined,
      onSocket: (s) => {
        if (cfg.mode === "resume") s.on("session", (t) => (session = t));
      },
    });
    if (r.status >= 500) throw new Error(`HTTP ${r.status}`);
    if (secure && r.socket?.isSessionReused?.()) stats.reused++;
    stats.conns++;
  };
  return client;
}

const stats = { conns: 0, reused: 0 };

async function hold() {
  const sockets = [];
  let opened = 0, failed = 0, first;
  const perWorker = Math.ceil(cfg.clients / 25);
  await Promise.all(Array.from({ length: 25 }, async (_, w) => {
    for (let i = 0; i < perWorker && w * perWorker + i < cfg.clients; i++) {
      const agent = new lib.Agent({ keepAlive: true, maxSockets: 1, ...tlsOpts });
      try {
        const r = await request(agent, { "content-type": "application/json" }, "{}");
        if (r.status >= 500) throw new Error(`HTTP ${r.status}`);
        sockets.push(agent);
        opened++;
      } catch (e) {
        failed++;
        first ??= String(e);
      }
    }
  }));
  console.log(JSON.stringify({ opened, failed, error: first }));
  for await (const _ of createInterface({ input: process.stdin })) { /* until stdin closes */ }
  for (const a of sockets) a.destroy();
  process.exit(0);
}

async function main() {
  // Keeps the process alive while requests are pending, so a lost callback cannot end it silently.
  setInterval(() => {}, 1000);
  if (cfg.mode === "hold") return await hold();
  const ops = await Promise.all(Array.from({ length: cfg.clients }, makeClient));
  // Warm-up: JIT, connection pools, sessions.
  const warmEnd = performance.now() + cfg.warmMs;
  await Promise.all(ops.map(async (op) => {
    while (performance.now() < warmEnd) await op();
  }));
  stats.conns = stats.reused = 0;
  console.log("ready");
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) if (line.trim() === "go") break;
  const lat = [];
  let errors = 0, firstError;
  const c0 = process.cpuUsage(), t0 = performance.now(), end = t0 + cfg.ms;
  const once = async (op, from) => {
    try {
      await op();
      lat.push(Math.round((performance.now() - from) * 1000));
    } catch (e) {
      errors++;
      firstError ??= String(e);
    }
  };
  if (cfg.mode === "paced") {
    const interval = 1000 / cfg.perClientRate;
    await Promise.all(ops.map(async (op) => {
      let due = t0 + Math.random() * interval;
      let prevDone = t0;
      while (due < end) {
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        // Late because our previous call was still running: the server's delay, counted from
        // the schedule. Late only because our own timer fired late: counted from now.
        await once(op, prevDone > due ? due : performance.now());
        prevDone = performance.now();
        due += interval;
      }
    }));
  } else {
    await Promise.all(ops.map(async (op) => {
      while (performance.now() < end) await once(op, performance.now());
    }));
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(c0);
  const line = JSON.stringify({
    ops: lat.length,
    seconds,
    cpu: (cpu.user + cpu.system) / 1e6,
    errors,
    firstError,
    conns: stats.conns,
    reused: stats.reused,
    latUs: lat,
  });
  // Exit only once the line is written: a pipe takes large writes asynchronously, and
  // process.exit() would cut a long latency list short.
  process.stdout.write(line + "\n", () => process.exit(0));
}

main().catch((e) => {
  console.error(`loadgen: ${e?.stack ?? e}`);
  process.exit(2);
});
