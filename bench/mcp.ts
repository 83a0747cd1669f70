/**
 * MCP over mTLS against the same server without TLS, in one run:
 *
 * - new connections per second: a fresh connection (full mTLS handshake,
 *   client certificate verified by the server) and one small request each;
 * - keep-alive MCP `tools/call` (`echo`) per second with p50/p99 latency, at
 *   concurrency 1 and 8, over one SDK client session.
 *
 * The servers (serveMcp over mTLS, and the same SDK server on node:http) run
 * in a child process so they do not share an event loop with the load; CPU
 * seconds of both processes are reported per phase. Loopback only; each
 * phase lasts BENCH_SECONDS (default 4) seconds; the run takes about 45 s.
 *
 * Usage: deno run -A bench/mcp.ts
 */
import { loadavg } from "node:os";
import process from "node:process";
import { setImmediate } from "node:timers";
import { Agent, fetch as undiciFetch } from "undici";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { connectMcpClient, createMtlsFetch } from "../src/mcp/mod.ts";
import { createRootCa, issueCertificate } from "../src/pki/mod.ts";

const PHASE_MS = Number(Deno.env.get("BENCH_SECONDS") ?? 4) * 1000;
const WARMUP_MS = 500;

interface Phase {
  name: string;
  ops: number;
  seconds: number;
  latencies: number[];
  serverCpu: number;
  clientCpu: number;
  errors: number;
}

function procCpuSeconds(pid: number): number {
  try {
    const f = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks (100 Hz)
  } catch {
    return NaN;
  }
}

function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

async function phase(
  name: string,
  serverPid: number,
  concurrency: number,
  op: () => Promise<void>,
): Promise<Phase> {
  const warmEnd = performance.now() + WARMUP_MS;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < warmEnd) await op();
    }),
  );
  const latencies: number[] = [];
  let errors = 0;
  const s0 = procCpuSeconds(serverPid), c0 = ownCpuSeconds(), t0 = performance.now();
  const end = t0 + PHASE_MS;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          await op();
          latencies.push(performance.now() - t);
        } catch (e) {
          if (++errors === 1) console.error(`${name}: ${e}`);
        }
      }
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  return {
    name,
    ops: latencies.length,
    seconds,
    latencies: latencies.sort((a, b) => a - b),
    serverCpu: (procCpuSeconds(serverPid) - s0) / seconds,
    clientCpu: (ownCpuSeconds() - c0) / seconds,
    errors,
  };
}

const rate = (p: Phase) => p.ops / p.seconds;
const pct = (p: Phase, q: number) =>
  p.latencies[Math.min(p.latencies.length - 1, Math.floor(q * p.latencies.length))] ?? NaN;

async function makeCerts(dir: string) {
  const ca = await createRootCa({ commonName: "Bench CA" });
  const server = await issueCertificate(ca, "server", {
    subjectAltNames: "dns:localhost,ip:127.0.0.1",
    exportable: true,
  });
  const client = await issueCertificate(ca, "client", { commonName: "bench", exportable: true });
  await Deno.writeTextFile(`${dir}/ca.crt`, ca.certificatePem);
  await Deno.writeTextFile(`${dir}/server.crt`, server.certificatePem);
  await Deno.writeTextFile(`${dir}/server.key`, server.privateKeyPem!);
  return { ca: ca.certificatePem, cert: client.certificatePem, key: client.privateKeyPem! };
}

type FetchLike = (url: string | URL, init?: RequestInit) => Promise<Response>;

async function sdkClient(url: string, fetch: FetchLike): Promise<Client> {
  const client = new Client({ name: "bench", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { fetch }));
  return client;
}

async function main() {
  console.log(`load average before: ${load()} (other processes on the machine skew every figure)`);
  const dir = await Deno.makeTempDir({ prefix: "mcp-mtls-bench-" });
  const creds = await makeCerts(dir);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./_mcp_server.ts", import.meta.url).pathname, dir],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let first = "";
  while (!first.includes("\n")) {
    const { value, done } = await lines.read();
    if (done) throw new Error("bench server exited before printing its URLs");
    first += value;
  }
  lines.releaseLock();
  const urls: { tls: string; plain: string } = JSON.parse(first.split("\n")[0]);
  const pid = child.pid;
  const phases: Phase[] = [];
  const closers: (() => Promise<unknown>)[] = [];
  try {
    // --- new connection (full handshake) + one small request each ---
    const tlsFresh = createMtlsFetch({ ...creds, keepAlive: false });
    closers.push(() => tlsFresh.close());
    const plainFresh = new Agent({ maxRequestsPerClient: 1 });
    closers.push(() => plainFresh.close());
    const check = (r: Response) => {
      if (r.status >= 500) throw new Error(`HTTP ${r.status}`);
      return r.arrayBuffer();
    };
    phases.push(
      await phase("connect+request plain", pid, 4, async () => {
        await check(
          await undiciFetch(urls.plain, { dispatcher: plainFresh }) as unknown as Response,
        );
      }),
    );
    phases.push(
      await phase("connect+request mTLS", pid, 4, async () => {
        await check(await tlsFresh(urls.tls));
      }),
    );
    phases.push(
      await phase("connect+request mTLS (Deno fetch)", pid, 4, async () => {
        const c = Deno.createHttpClient({ cert: creds.cert, key: creds.key, caCerts: [creds.ca] });
        try {
          await check(await fetch(urls.tls, { client: c }));
        } finally {
          c.close();
        }
      }),
    );

    // --- keep-alive tools/call over one SDK session ---
    const plainAgent = new Agent({});
    closers.push(() => plainAgent.close());
    // Same client stack as createMtlsFetch minus TLS: undici, and the one-macrotask yield
    // that lets back-to-back requests reuse the connection that just finished.
    const plainClient = await sdkClient(urls.plain, async (u, i) => {
      await new Promise((resolve) => setImmediate(resolve));
      return await undiciFetch(u, {
        ...(i as object),
        dispatcher: plainAgent,
      }) as unknown as Response;
    });
    closers.push(() => plainClient.close());
    const tlsClient = await connectMcpClient(urls.tls, creds);
    closers.push(() => tlsClient.close());
    const denoHttp = Deno.createHttpClient({
      cert: creds.cert,
      key: creds.key,
      caCerts: [creds.ca],
    });
    closers.push(() => Promise.resolve(denoHttp.close()));
    const denoClient = await sdkClient(urls.tls, (u, i) => fetch(u, { ...i, client: denoHttp }));
    closers.push(() => denoClient.close());
    const call = (c: Client) => async () => {
      const r = await c.callTool({ name: "echo", arguments: { text: "ping" } });
      if ((r as { isError?: boolean }).isError) throw new Error("tool error");
    };
    for (const conc of [1, 8]) {
      phases.push(await phase(`tools/call c=${conc} plain`, pid, conc, call(plainClient)));
      phases.push(await phase(`tools/call c=${conc} mTLS`, pid, conc, call(tlsClient)));
      phases.push(
        await phase(`tools/call c=${conc} mTLS (Deno fetch)`, pid, conc, call(denoClient)),
      );
    }
  } finally {
    for (const close of closers.reverse()) await close().catch(() => {});
    await child.stdin.close();
    await child.status;
    await child.stdout.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
  report(phases);
}

const load = () => loadavg().map((x) => x.toFixed(2)).join(" ");

function report(phases: Phase[]) {
  const by = (n: string) => phases.find((p) => p.name === n)!;
  const f0 = (x: number) => x.toFixed(0);
  const f2 = (x: number) => x.toFixed(2);
  console.log(`load average after: ${load()}`);
  console.log("\nper phase (CPU = cores busy: server process / load process)");
  for (const p of phases) {
    console.log(
      `  ${p.name.padEnd(36)} ${f0(rate(p)).padStart(6)}/s  p50 ${f2(pct(p, 0.5))} ms  p99 ${
        f2(pct(p, 0.99))
      } ms  CPU ${f2(p.serverCpu)} / ${f2(p.clientCpu)}${p.errors ? `  errors ${p.errors}` : ""}`,
    );
  }
  console.log(
    "\n| measurement | plain HTTP | mTLS (ours, undici) | mTLS / plain | mTLS via Deno fetch (not used) |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: |");
  const line = (
    label: string,
    prefix: string,
    value: (p: Phase) => number,
    fmt: (x: number) => string,
  ) => {
    const plain = value(by(`${prefix} plain`));
    const tls = value(by(`${prefix} mTLS`));
    const deno = value(by(`${prefix} mTLS (Deno fetch)`));
    console.log(
      `| ${label} | ${fmt(plain)} | ${fmt(tls)} | ${(tls / plain).toFixed(2)}x | ${fmt(deno)} |`,
    );
  };
  line("new connection + request /s (full handshake, c=4)", "connect+request", rate, f0);
  line("connect+request p50 ms", "connect+request", (p) => pct(p, 0.5), f2);
  for (const c of [1, 8]) {
    line(`keep-alive tools/call /s (c=${c})`, `tools/call c=${c}`, rate, f0);
    line(`tools/call p50 ms (c=${c})`, `tools/call c=${c}`, (p) => pct(p, 0.5), f2);
    line(`tools/call p99 ms (c=${c})`, `tools/call c=${c}`, (p) => pct(p, 0.99), f2);
  }
}

if (import.meta.main) await main();
