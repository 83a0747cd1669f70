/**
 * What the MCP-aware mTLS gateway (`serve --upstream URL`, `serveGateway`)
 * costs on top of the upstream it protects, measured in one run: keep-alive
 * `tools/call` (`echo`) sent to one upstream by several fronts, taking turns:
 *
 * - direct: plain HTTP to the upstream (no TLS, no front);
 * - nginx (when `nginx` is on the PATH: Debian's `nginx-light`): the
 *   MCP-blind mTLS proxy teams reach for, one worker, client certificates
 *   verified, keep-alive upstream, no buffering;
 * - gateway: `serveGateway` with default options (mTLS, every request
 *   logged as by default).
 *
 * - upstream: the MCP SDK's `McpServer` with one cheap tool over
 *   `StreamableHTTPServerTransport` on `node:http`, 127.0.0.1, stateful
 *   sessions, SSE responses (the SDK default; BENCH_UPSTREAM_JSON=1 for
 *   `enableJsonResponse`), in its own process;
 * - every front in its own process, so its CPU is read alone from
 *   /proc/PID/stat (nginx: its worker);
 * - client: this process, the same code for every path: undici's `fetch`
 *   with a keep-alive pool; `createMtlsFetch` (undici, client certificate)
 *   for the TLS fronts. One MCP session per client.
 *
 * Reported per path: calls/s, p50/p99 latency, CPU per call of the front
 * and of the upstream, and each front's added p50 latency; then the goal of
 * issue #13 (the gateway adds < 0.3 ms p50 and < 20 % CPU per call on top of
 * the upstream's own cost) as met or missed, and the same figures for
 * nginx, so that the goal can be read against what a mature, MCP-blind
 * mTLS proxy costs here. Loopback only; every process started here is stopped
 * here.
 *
 * Env: BENCH_SECONDS (default 10) per measurement, BENCH_ROUNDS (default 2)
 * rounds of every path in turn, BENCH_CLIENTS (default "1,8": one table per
 * number of concurrent clients; 1 client shows the latency a front adds
 * unloaded, 8 saturate the two cores, where p50 is mostly queueing),
 * BENCH_FRONTS (default "nginx,gateway"), BENCH_PROFILE=DIR runs the
 * gateway with `--cpu-prof` into DIR (see bench/profile_summary.ts).
 *
 * Usage: deno run -A bench/gateway.ts   (about 3 min)
 */
import { randomUUID } from "node:crypto";
import http from "node:http";
import net from "node:net";
import { loadavg } from "node:os";
import process from "node:process";
// @ts-types="../src/tls/client/undici_types.d.ts"
import { Agent, fetch as undiciFetch } from "undici";
import { createRootCa, issueCertificate } from "../src/pki/mod.ts";
import { createMtlsFetch } from "../src/mcp/client_fetch.ts";
import { cpuSeconds } from "./_proc.ts";

const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 10);
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 2);
/** Concurrent clients (one keep-alive connection and one MCP session each), one table per level. */
const LEVELS = (Deno.env.get("BENCH_CLIENTS") ?? "1,8").split(",").map(Number);
const FRONTS = (Deno.env.get("BENCH_FRONTS") ?? "nginx,gateway").split(",");
const WARM_MS = 2000;
const JSON_RESPONSE = Deno.env.get("BENCH_UPSTREAM_JSON") === "1";
const GOAL_ADDED_P50_MS = 0.3;
const GOAL_CPU_SHARE = 0.2;
const self = new URL(import.meta.url).pathname;

// ---------- child roles: upstream and gateway ----------

/** Waits for stdin to close: how the parent tells a child to stop. */
async function untilStdinCloses(): Promise<void> {
  for await (const _ of Deno.stdin.readable) { /* discard */ }
}

async function runUpstream(): Promise<void> {
  const { McpServer } = await import("@modelcontextprotocol/sdk/server/mcp.js");
  const { StreamableHTTPServerTransport } = await import(
    "@modelcontextprotocol/sdk/server/streamableHttp.js"
  );
  const { z } = await import("zod");
  type Transport = InstanceType<typeof StreamableHTTPServerTransport>;
  const sessions = new Map<string, Transport>();
  // Requests by method: shows whether the gateway adds requests (it should send one per call).
  const received = new Map<string, number>();
  const server = http.createServer(async (req, res) => {
    received.set(req.method ?? "", (received.get(req.method ?? "") ?? 0) + 1);
    try {
      const sid = req.headers["mcp-session-id"] as string | undefined;
      let transport = sid ? sessions.get(sid) : undefined;
      if (sid && !transport) {
        res.writeHead(404).end();
        return;
      }
      if (!transport) {
        const mcp = new McpServer({ name: "bench-upstream", version: "1.0.0" });
        mcp.registerTool(
          "echo",
          { inputSchema: { text: z.string() } },
          ({ text }: { text: string }) => ({ content: [{ type: "text" as const, text }] }),
        );
        const t: Transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          enableJsonResponse: JSON_RESPONSE,
          onsessioninitialized: (id: string) => void sessions.set(id, t),
        });
        t.onclose = () => void (t.sessionId && sessions.delete(t.sessionId));
        await mcp.connect(t);
        transport = t;
      }
      await transport.handleRequest(req, res);
    } catch (e) {
      if (!res.headersSent) res.writeHead(500).end(String(e));
    }
  });
  // Connections opened to it: shows whether a front reuses its upstream connections.
  let connections = 0;
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  console.log(JSON.stringify({ url: `http://127.0.0.1:${port}/mcp` }));
  await untilStdinCloses();
  console.error(
    `upstream received: ${
      JSON.stringify(Object.fromEntries(received))
    } on ${connections} connections`,
  );
  await Promise.allSettled([...sessions.values()].map((t) => t.close()));
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function runGateway(upstream: string, dir: string): Promise<void> {
  const { serveGateway } = await import("../src/gateway/serve_gateway.ts");
  const read = (f: string) => Deno.readTextFile(`${dir}/${f}`);
  const gateway = await serveGateway(upstream, {
    port: 0,
    hostname: "127.0.0.1",
    tls: {
      cert: await read("server.crt"),
      key: await read("server.key"),
      ca: await read("ca.crt"),
    },
  });
  console.log(JSON.stringify({ url: gateway.url }));
  await untilStdinCloses();
  await gateway.close();
}

// ---------- the parent: processes ----------

interface Child {
  proc: Deno.ChildProcess;
  url: string;
}

async function start(args: string[], prof: string[] = []): Promise<Child> {
  const proc = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...prof, self, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const timer = setTimeout(() => proc.kill("SIGKILL"), 60_000);
  while (!buf.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${args[0]}: exited before answering`);
    buf += value;
  }
  clearTimeout(timer);
  reader.releaseLock();
  proc.stdout.cancel().catch(() => {});
  return { proc, url: JSON.parse(buf.slice(0, buf.indexOf("\n"))).url };
}

async function stop(c: Child): Promise<void> {
  const timer = setTimeout(() => c.proc.kill("SIGKILL"), 10_000);
  await c.proc.stdin.close().catch(() => {});
  await c.proc.status;
  clearTimeout(timer);
}

/** A port free a moment ago (nginx needs one in its configuration). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const { port } = s.address() as net.AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** nginx as an mTLS reverse proxy with one worker; resolves to it and its worker's pid. */
async function startNginx(
  upstream: string,
  dir: string,
): Promise<{ stop(): Promise<void>; url: string; pid: number } | undefined> {
  const which = new Deno.Command("sh", { args: ["-c", "command -v nginx"], stdout: "piped" });
  const found = new TextDecoder().decode((await which.output()).stdout).trim();
  if (!found) return undefined;
  const up = new URL(upstream);
  const port = await freePort();
  await Deno.mkdir(`${dir}/nginx`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/nginx/nginx.conf`,
    `worker_processes 1;
daemon off;
pid ${dir}/nginx/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log ${dir}/nginx/access.log;
  client_body_temp_path ${dir}/nginx;
  proxy_temp_path ${dir}/nginx;
  upstream mcp { server ${up.host}; keepalive 32; }
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate ${dir}/server.crt;
    ssl_certificate_key ${dir}/server.key;
    ssl_client_certificate ${dir}/ca.crt;
    ssl_verify_client on;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://mcp;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
      proxy_set_header Client-Cert ":$ssl_client_escaped_cert:";
    }
  }
}
`,
  );
  const proc = new Deno.Command(found, {
    args: ["-c", `${dir}/nginx/nginx.conf`, "-p", `${dir}/nginx`],
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  let worker = 0;
  for (let i = 0; i < 100 && !worker; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const kids = await Deno.readTextFile(`/proc/${proc.pid}/task/${proc.pid}/children`).catch(() =>
      ""
    );
    worker = Number(kids.trim().split(" ")[0]) || 0;
  }
  if (!worker) {
    proc.kill("SIGKILL");
    await proc.status;
    throw new Error("nginx: no worker process started");
  }
  return {
    url: `https://127.0.0.1:${port}${up.pathname}`,
    pid: worker,
    async stop() {
      proc.kill("SIGQUIT");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
      await proc.status;
      clearTimeout(timer);
    },
  };
}

// ---------- the parent: load ----------

type Fetch = (url: string, init: RequestInit) => Promise<Response>;

const HEADERS = {
  "content-type": "application/json",
  accept: "application/json, text/event-stream",
};

/** Opens one MCP session; returns the op sending one `tools/call`. */
async function client(fetch: Fetch, url: string): Promise<() => Promise<void>> {
  const post = async (headers: Record<string, string>, body: unknown) => {
    const r = await fetch(url, { method: "POST", headers, body: JSON.stringify(body) });
    return { status: r.status, headers: r.headers, text: await r.text() };
  };
  const init = await post(HEADERS, {
    jsonrpc: "2.0",
    id: 0,
    method: "initialize",
    params: {
      protocolVersion: "2025-06-18",
      capabilities: {},
      clientInfo: { name: "bench", version: "1.0.0" },
    },
  });
  const session = init.headers.get("mcp-session-id");
  if (init.status !== 200 || !session) throw new Error(`initialize: HTTP ${init.status}`);
  const headers = { ...HEADERS, "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" };
  await post(headers, { jsonrpc: "2.0", method: "notifications/initialized" });
  let id = 0;
  return async () => {
    const r = await post(headers, {
      jsonrpc: "2.0",
      id: ++id,
      method: "tools/call",
      params: { name: "echo", arguments: { text: "ping" } },
    });
    if (r.status !== 200 || !r.text.includes('"result"')) {
      throw new Error(`tools/call: HTTP ${r.status} ${r.text.slice(0, 120)}`);
    }
  };
}

/** One way to the upstream: its clients (sessions) and the pid of its front (none: direct). */
interface Path {
  name: string;
  label: string;
  ops: (() => Promise<void>)[];
  pid?: number;
}

interface Sample {
  calls: number;
  seconds: number;
  latMs: number[];
  frontCpu: number;
  upstreamCpu: number;
  clientCpu: number;
}

async function drive(
  ops: (() => Promise<void>)[],
  ms: number,
  front: number | undefined,
  upstream: number,
): Promise<Sample> {
  const latMs: number[] = [];
  const f0 = front ? cpuSeconds(front) : 0, u0 = cpuSeconds(upstream);
  const c0 = process.cpuUsage();
  const t0 = performance.now(), end = t0 + ms;
  await Promise.all(ops.map(async (op) => {
    while (performance.now() < end) {
      const s = performance.now();
      await op();
      latMs.push(performance.now() - s);
    }
  }));
  const seconds = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  return {
    calls: latMs.length,
    seconds,
    latMs,
    frontCpu: front ? cpuSeconds(front) - f0 : 0,
    upstreamCpu: cpuSeconds(upstream) - u0,
    clientCpu: (c.user + c.system) / 1e6,
  };
}

function merge(samples: Sample[]): Sample {
  return samples.reduce((a, s) => ({
    calls: a.calls + s.calls,
    seconds: a.seconds + s.seconds,
    latMs: a.latMs.concat(s.latMs),
    frontCpu: a.frontCpu + s.frontCpu,
    upstreamCpu: a.upstreamCpu + s.upstreamCpu,
    clientCpu: a.clientCpu + s.clientCpu,
  }));
}

function pct(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const load = () => loadavg().map((x) => x.toFixed(2)).join(" ");
const us = (s: number) => (s * 1e6).toFixed(0);

/** Measures `n` clients per path, the paths taking turns; prints the table and the goal. */
async function level(n: number, paths: Path[], upstream: number): Promise<void> {
  const samples = new Map<string, Sample[]>(paths.map((p) => [p.name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const p of paths) {
      const s = await drive(p.ops.slice(0, n), SECONDS * 1000, p.pid, upstream);
      samples.get(p.name)!.push(s);
      const sorted = s.latMs.slice().sort((a, b) => a - b);
      console.log(
        `${n} clients, round ${r + 1}, ${p.name}: ${
          (s.calls / s.seconds).toFixed(0)
        } calls/s, p50 ${pct(sorted, 0.5).toFixed(3)} ms, front ${
          us(s.frontCpu / s.calls)
        } µs CPU/call, upstream ${us(s.upstreamCpu / s.calls)} µs CPU/call, client ${
          us(s.clientCpu / s.calls)
        } µs CPU/call`,
      );
    }
  }
  const merged = paths.map((p) => {
    const s = merge(samples.get(p.name)!);
    return { p, s, sorted: s.latMs.sort((a, b) => a - b) };
  });
  const direct = merged[0];
  const upstreamPerCall = direct.s.upstreamCpu / direct.s.calls;
  const p50 = (m: typeof direct) => pct(m.sorted, 0.5);
  console.log(
    `\n| ${n} clients | calls/s | p50 ms | p99 ms | added p50 ms | front CPU µs/call | front CPU / upstream's | upstream CPU µs/call | client CPU µs/call |`,
  );
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const m of merged) {
    const front = m.s.frontCpu / m.s.calls;
    console.log(
      `| ${m.p.label} | ${(m.s.calls / m.s.seconds).toFixed(0)} | ${p50(m).toFixed(3)} | ${
        pct(m.sorted, 0.99).toFixed(3)
      } | ${m === direct ? "-" : (p50(m) - p50(direct)).toFixed(3)} | ${
        m === direct ? "-" : us(front)
      } | ${m === direct ? "-" : `${(100 * front / upstreamPerCall).toFixed(0)} %`} | ${
        us(m.s.upstreamCpu / m.s.calls)
      } | ${us(m.s.clientCpu / m.s.calls)} |`,
    );
  }
  const byName = new Map(merged.map((m) => [m.p.name, m]));
  const gateway = byName.get("gateway");
  const nginx = byName.get("nginx");
  console.log("");
  if (gateway) {
    const added = p50(gateway) - p50(direct);
    const share = (gateway.s.frontCpu / gateway.s.calls) / upstreamPerCall;
    console.log(
      `${n} clients: goal of issue #13: added p50 < ${GOAL_ADDED_P50_MS} ms ${
        added < GOAL_ADDED_P50_MS ? "MET" : "MISSED"
      } (${added.toFixed(3)} ms); gateway CPU per call < ${
        GOAL_CPU_SHARE * 100
      } % of the upstream's ${share < GOAL_CPU_SHARE ? "MET" : "MISSED"} (${
        (share * 100).toFixed(0)
      } %)`,
    );
    for (const other of [nginx]) {
      if (!other) continue;
      const ratio = (gateway.s.frontCpu / gateway.s.calls) / (other.s.frontCpu / other.s.calls);
      console.log(
        `${n} clients: gateway vs ${other.p.name}: ${ratio.toFixed(2)}x its CPU per call, ${
          (p50(gateway) - p50(other)).toFixed(3)
        } ms more p50`,
      );
    }
  }
  console.log("");
}

async function main(): Promise<number> {
  const tmp = await Deno.makeTempDir({ prefix: "mcp-mtls-bench-gateway-" });
  const children: Child[] = [];
  let nginx: Awaited<ReturnType<typeof startNginx>>;
  try {
    const ca = await createRootCa({ commonName: "Bench CA" });
    const server = await issueCertificate(ca, "server", {
      subjectAltNames: "dns:localhost,ip:127.0.0.1",
      exportable: true,
    });
    const me = await issueCertificate(ca, "client", { commonName: "bench", exportable: true });
    await Deno.writeTextFile(`${tmp}/ca.crt`, ca.certificatePem);
    await Deno.writeTextFile(`${tmp}/server.crt`, server.certificatePem);
    await Deno.writeTextFile(`${tmp}/server.key`, server.privateKeyPem!);

    const upstream = await start(["upstream"]);
    children.push(upstream);
    const fronts: { name: string; label: string; url: string; pid: number }[] = [];
    if (FRONTS.includes("nginx")) {
      nginx = await startNginx(upstream.url, tmp);
      if (nginx) {
        fronts.push({
          name: "nginx",
          label: "nginx (mTLS, 1 worker, MCP-blind)",
          url: nginx.url,
          pid: nginx.pid,
        });
      } else {console.log(
          "nginx: not on the PATH (apt-get install nginx-light): its row is left out",
        );}
    }
    if (FRONTS.includes("gateway")) {
      const profile = Deno.env.get("BENCH_PROFILE");
      const gateway = await start(
        ["gateway", upstream.url, tmp],
        profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : [],
      );
      children.push(gateway);
      fronts.push({
        name: "gateway",
        label: "gateway (mTLS, MCP-aware)",
        url: gateway.url,
        pid: gateway.proc.pid,
      });
    }

    const most = Math.max(...LEVELS);
    const agent = new Agent({ connections: most });
    const plain: Fetch = (url, init) =>
      undiciFetch(url, { ...init, dispatcher: agent } as never) as unknown as Promise<Response>;
    const mtls = createMtlsFetch({
      cert: me.certificatePem,
      key: me.privateKeyPem!,
      ca: ca.certificatePem,
    });
    try {
      const sessions = (f: Fetch, url: string) =>
        Promise.all(Array.from({ length: most }, () => client(f, url)));
      const paths: Path[] = [
        { name: "direct", label: "direct (plain HTTP)", ops: await sessions(plain, upstream.url) },
      ];
      for (const f of fronts) {
        paths.push({ name: f.name, label: f.label, ops: await sessions(mtls, f.url), pid: f.pid });
      }
      console.log(
        `upstream: SDK McpServer + StreamableHTTPServerTransport (${
          JSON_RESPONSE ? "jsonResponse" : "SSE responses"
        }), node:http; ${
          LEVELS.join(" and ")
        } clients x ${SECONDS} s per path x ${ROUNDS} rounds after ${WARM_MS} ms warm-up; deno ${Deno.version.deno}; load average ${load()}`,
      );
      for (const p of paths) await drive(p.ops, WARM_MS, p.pid, upstream.proc.pid);
      for (const n of LEVELS) await level(n, paths, upstream.proc.pid);
      console.log(`load average after: ${load()}`);
    } finally {
      await mtls.close();
      await agent.close();
    }
  } finally {
    await nginx?.stop();
    for (const c of children.reverse()) await stop(c);
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
  return 0;
}

if (import.meta.main) {
  const [role, ...rest] = Deno.args;
  if (role === "upstream") await runUpstream();
  else if (role === "gateway") await runGateway(rest[0], rest[1]);
  else Deno.exit(await main());
}
