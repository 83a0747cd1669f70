/**
 * Server CPU per connection with and without PROXY protocol (issue 15): a
 * loop of fresh connections, each a TCP connect, (for `proxy`) a v2 header,
 * an mTLS handshake with a client certificate and one MCP `initialize`
 * (stateless), one connection at a time. The server runs in its own Deno
 * process (`serveMcp`, demo tools); its CPU comes from /proc over the
 * measured phase. Modes take turns, BENCH_ROUNDS rounds (default 3) of
 * BENCH_CONNECTIONS connections (default 400) each; medians and spread.
 *
 * Usage: deno run -A bench/proxy_protocol.ts
 * (before/after: BENCH_BASE=DIR, a checkout with this file in DIR/bench: adds `base-proxy`)
 * (server role, used by the driver: deno run -A bench/proxy_protocol.ts serve MODE CERT_DIR)
 */
import { Buffer } from "node:buffer";
import net from "node:net";
import tls from "node:tls";
import { cpuSeconds } from "./_proc.ts";
import { lines } from "./_child_lines.ts";
import { v2 } from "../tests/portable/_proxy_peer.ts";

// One v2 header, built by the tests' builder rather than spelled out again.
const HEADER = v2({ src: "203.0.113.7", dst: "127.0.0.1", sport: 0xc738, dport: 443 });

if (Deno.args[0] === "serve") {
  const { demoServerFactory, serveMcp } = await import("../src/mcp/mod.ts");
  const { silentLogger } = await import("../src/log/mod.ts");
  const [, mode, dir] = Deno.args;
  const read = (name: string) => Deno.readTextFileSync(`${dir}/${name}`);
  const server = await serveMcp(demoServerFactory, {
    port: 0,
    tls: { cert: read("server.crt"), key: read("server.key"), ca: read("ca.crt") },
    logger: silentLogger,
    sessions: "stateless",
    limits: { maxConnections: 4096, connectionsPerAddress: false },
    proxyProtocol: mode === "proxy" ? { trusted: ["127.0.0.1/32"] } : false,
  });
  console.log(JSON.stringify({ port: server.address.port }));
  for await (const _ of Deno.stdin.readable);
  await server.close();
  Deno.exit(0);
}

const { createRootCa, issueCertificate } = await import("../src/pki/mod.ts");
const dir = await Deno.makeTempDir({ prefix: "bench-proxy-" });
const ca = await createRootCa({ commonName: "Bench CA", exportable: true });
const server = await issueCertificate(ca, "server", {
  commonName: "localhost",
  subjectAltNames: "dns:localhost,ip:127.0.0.1",
  exportable: true,
});
const client = await issueCertificate(ca, "client", { commonName: "bench", exportable: true });
await Deno.writeTextFile(`${dir}/ca.crt`, ca.certificatePem);
await Deno.writeTextFile(`${dir}/server.crt`, server.certificatePem);
await Deno.writeTextFile(`${dir}/server.key`, server.privateKeyPem!);

const BODY = JSON.stringify({
  jsonrpc: "2.0",
  id: 1,
  method: "initialize",
  params: {
    protocolVersion: "2025-06-18",
    capabilities: {},
    clientInfo: { name: "b", version: "1" },
  },
});

/** One connection: (header), mTLS handshake, one initialize, close. */
async function once(port: number, header: boolean): Promise<void> {
  const raw = net.connect({ port, host: "127.0.0.1" });
  raw.setNoDelay(true);
  await new Promise((r) => raw.once("connect", r));
  if (header) await new Promise((r) => raw.write(HEADER, r));
  const s = tls.connect({
    socket: raw,
    ca: ca.certificatePem,
    servername: "localhost",
    cert: client.certificatePem,
    key: client.privateKeyPem!,
  });
  await new Promise((r, j) => (s.once("secureConnect", r), s.once("error", j)));
  let text = "";
  const done = new Promise<void>((resolve, reject) => {
    s.on("data", (d: Buffer) => {
      text += d.toString();
      if (/\r\n0\r\n\r\n$|"serverInfo"[^\n]*\n\n$/.test(text)) resolve();
    });
    s.once("close", () => text.includes("serverInfo") ? resolve() : reject(new Error(text)));
  });
  s.write(
    `POST /mcp HTTP/1.1\r\nHost: localhost:${port}\r\nContent-Type: application/json\r\n` +
      `Accept: application/json, text/event-stream\r\nConnection: close\r\n` +
      `Content-Length: ${Buffer.byteLength(BODY)}\r\n\r\n${BODY}`,
  );
  await done;
  s.destroy();
}

// BENCH_BASE=DIR: also `base-proxy`, served from another checkout (this file copied into
// DIR/bench), so a change is measured before and after in one run, taking turns.
const base = Deno.env.get("BENCH_BASE");
const modes = base ? ["plain", "proxy", "base-proxy"] : ["plain", "proxy"];
const servers = new Map<string, { child: Deno.ChildProcess; port: number }>();
for (const mode of modes) {
  const script = mode.startsWith("base-")
    ? `${base}/bench/proxy_protocol.ts`
    : new URL(import.meta.url).pathname;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, "serve", mode.replace("base-", ""), dir],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const port = JSON.parse(await lines(child)(30_000)).port;
  servers.set(mode, { child, port });
}
const N = Number(Deno.env.get("BENCH_CONNECTIONS") ?? 400);
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 3);
const results = new Map<string, { cpu: number[]; wall: number[] }>();
for (const mode of modes) {
  const { port } = servers.get(mode)!;
  for (let i = 0; i < 50; i++) await once(port, mode !== "plain"); // warm-up
  results.set(mode, { cpu: [], wall: [] });
}
for (let round = 0; round < ROUNDS; round++) {
  for (const mode of modes) {
    const { child, port } = servers.get(mode)!;
    const cpu0 = cpuSeconds(child.pid);
    const t0 = performance.now();
    for (let i = 0; i < N; i++) await once(port, mode !== "plain");
    const r = results.get(mode)!;
    r.wall.push((performance.now() - t0) / N);
    r.cpu.push(((cpuSeconds(child.pid) - cpu0) * 1000) / N);
  }
}
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const f = (a: number[]) =>
  `${median(a).toFixed(3)} (${Math.min(...a).toFixed(3)}–${Math.max(...a).toFixed(3)})`;
console.log(`Deno ${Deno.version.deno}, ${N} connections x ${ROUNDS} rounds, one at a time`);
console.log("mode       | server CPU ms/conn  | wall ms/conn");
for (const [mode, r] of results) console.log(`${mode.padEnd(10)} | ${f(r.cpu)} | ${f(r.wall)}`);
for (const { child } of servers.values()) {
  await child.stdin.close();
  await child.status;
}
await Deno.remove(dir, { recursive: true });
