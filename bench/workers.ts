/**
 * `serve --workers N` on this machine: the CLI's server (demo tools, Deno)
 * with 1 and 2 workers, measured from outside with the same load generator
 * as bench/mcp.ts (Node.js processes, OpenSSL):
 *
 * - full mTLS handshakes/s (a fresh connection and one small request each),
 *   8 clients;
 * - keep-alive `tools/call` (`echo`)/s at 32 clients, one connection and one
 *   session each (closed loop: each client sends its next call when the
 *   previous one is answered), with p50/p99;
 * - p99 at 32 clients paced (open loop) at BENCH_PACED_RATE calls/s
 *   (default 800, the rate where one loop's p99 passed 300 ms in issue 15).
 *
 * For each row: the server's CPU (all threads of its process, from /proc)
 * per operation and in cores, and the load generator's CPU in cores. With
 * two cores the generator competes with the server, so throughput alone
 * understates what a second worker adds: CPU per operation and the
 * generator's share show where the cores went.
 *
 * Sessions are counted with their limits raised (one client certificate for
 * all clients), and the connection budgets are off, as in bench/mcp.ts.
 *
 * Usage: deno run -A bench/workers.ts   (BENCH_SECONDS, default 3; BENCH_ROUNDS, default 2)
 */
import { cpus, loadavg } from "node:os";
import { lines } from "./_child_lines.ts";
import { cpuSeconds } from "./_proc.ts";
import { createRootCa, issueCertificate } from "../src/pki/mod.ts";

const PHASE_MS = Number(Deno.env.get("BENCH_SECONDS") ?? 3) * 1000;
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 2);
const PACED_RATE = Number(Deno.env.get("BENCH_PACED_RATE") ?? 800);
const CORES = cpus().length;
const here = new URL(".", import.meta.url).pathname;
const running = new Set<Deno.ChildProcess>();

function spawn(cmd: string, args: string[]): Deno.ChildProcess {
  const c = new Deno.Command(cmd, { args, stdin: "piped", stdout: "piped", stderr: "inherit" })
    .spawn();
  running.add(c);
  return c;
}

async function stop(c: Deno.ChildProcess, signal: Deno.Signal = "SIGTERM"): Promise<void> {
  if (!running.has(c)) return;
  try {
    c.kill(signal); // only our own children
  } catch { /* gone */ }
  const timer = setTimeout(() => {
    try {
      c.kill("SIGKILL");
    } catch { /* gone */ }
  }, 10_000);
  await c.status;
  clearTimeout(timer);
  running.delete(c);
}

async function send(c: Deno.ChildProcess, line: string): Promise<void> {
  const w = c.stdin.getWriter();
  await w.write(new TextEncoder().encode(line + "\n"));
  w.releaseLock();
}

interface Server {
  proc: Deno.ChildProcess;
  url: string;
  /** Resident memory of the whole process just after start. */
  idleRssMiB: number;
}

async function startServer(dir: string, workers: number): Promise<Server> {
  const proc = spawn(Deno.execPath(), [
    "run",
    "-A",
    `${here}../src/cli/main.ts`,
    "serve",
    "--config",
    `${dir}/bench.json`,
    "--port",
    "0",
    "--workers",
    String(workers),
    "--log-level",
    "error",
  ]);
  const line = await lines(proc)(60_000);
  const url = /at (https:\S+)/.exec(line)?.[1];
  if (!url) throw new Error(`server: ${line}`);
  await new Promise((r) => setTimeout(r, 500)); // settled after start
  return { proc, url, idleRssMiB: rssMiB(proc.pid) };
}

function rssMiB(pid: number): number {
  try {
    const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(/VmRSS:\s+(\d+)/);
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

interface Row {
  workers: number;
  test: string;
  rate: number;
  p50: number;
  p99: number;
  serverCores: number;
  cpuPerOpMs: number;
  genCores: number;
  errors: number;
}

const pct = (sorted: number[], q: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] / 1000 : NaN;

async function measure(
  server: Server,
  workers: number,
  dir: string,
  test: string,
  mode: "fresh" | "keepalive" | "paced",
  clients: number,
): Promise<Row> {
  const procs = Math.min(clients, CORES);
  const gens = Array.from({ length: procs }, (_, i) =>
    spawn("node", [
      `${here}_loadgen.mjs`,
      JSON.stringify({
        mode,
        kind: "mcp",
        url: server.url,
        clients: Math.floor(clients / procs) + (i < clients % procs ? 1 : 0),
        ms: mode === "paced" ? Math.max(PHASE_MS, 4000) : PHASE_MS,
        warmMs: 1000,
        perClientRate: PACED_RATE / clients,
        tls: { cert: `${dir}/client.crt`, key: `${dir}/client.key`, ca: `${dir}/ca.crt` },
      }),
    ]));
  try {
    const readers = gens.map(lines);
    for (const r of readers) {
      const l = await r(60_000);
      if (l !== "ready") throw new Error(`load generator: ${l}`);
    }
    const pid = server.proc.pid;
    const c0 = cpuSeconds(pid), t0 = performance.now();
    await Promise.all(gens.map((g) => send(g, "go")));
    const results = await Promise.all(
      readers.map(async (r) =>
        JSON.parse(await r(PHASE_MS + 60_000)) as {
          ops: number;
          seconds: number;
          cpu: number;
          errors: number;
          latUs: number[];
        }
      ),
    );
    const wall = (performance.now() - t0) / 1000;
    const serverCpu = cpuSeconds(pid) - c0;
    const ops = results.reduce((a, r) => a + r.ops, 0);
    const seconds = Math.max(...results.map((r) => r.seconds));
    const lat = results.flatMap((r) => r.latUs).sort((a, b) => a - b);
    const row: Row = {
      workers,
      test,
      rate: ops / seconds,
      p50: pct(lat, 0.5),
      p99: pct(lat, 0.99),
      serverCores: serverCpu / wall,
      cpuPerOpMs: (serverCpu / ops) * 1000,
      genCores: results.reduce((a, r) => a + r.cpu, 0) / seconds,
      errors: results.reduce((a, r) => a + r.errors, 0),
    };
    console.error(
      `  workers=${workers} ${test}: ${row.rate.toFixed(0)}/s p99 ${row.p99.toFixed(1)} ms, ` +
        `server ${row.serverCores.toFixed(2)} cores (${row.cpuPerOpMs.toFixed(2)} ms/op), ` +
        `gen ${row.genCores.toFixed(2)} cores [load ${loadavg()[0].toFixed(2)}]` +
        // Runnable threads beyond the server's and the generators' mean others took CPU.
        (loadavg()[0] - (workers + procs) >= 1 ? " DISTURBED" : ""),
    );
    return row;
  } finally {
    for (const g of gens) await stop(g, "SIGKILL");
  }
}

const TESTS: [string, "fresh" | "keepalive" | "paced", number][] = [
  ["full handshakes, 8 clients", "fresh", 8],
  ["keep-alive tools/call, 32 clients closed", "keepalive", 32],
  [`keep-alive tools/call, 32 clients paced ${PACED_RATE}/s`, "paced", 32],
];

async function main(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "mcp-mtls-bench-workers-" });
  try {
    const ca = await createRootCa({ commonName: "Bench CA", exportable: true });
    const server = await issueCertificate(ca, "server", {
      subjectAltNames: "dns:localhost,ip:127.0.0.1",
      exportable: true,
    });
    const client = await issueCertificate(ca, "client", { commonName: "bench", exportable: true });
    const w = (name: string, text: string) => Deno.writeTextFile(`${dir}/${name}`, text);
    await w("ca.crt", ca.certificatePem);
    await w("server.crt", server.certificatePem);
    await w("server.key", server.privateKeyPem!);
    await w("client.crt", client.certificatePem);
    await w("client.key", client.privateKeyPem!);
    await w(
      "bench.json",
      JSON.stringify({
        certs: dir,
        limits: {
          maxSessions: 100_000,
          maxSessionsPerIdentity: 100_000,
          maxSessionsPerConnection: 100_000,
          maxConnections: 100_000,
          connectionsPerAddress: false,
          connectionsPerIdentity: false,
        },
      }),
    );
    const rows: Row[] = [];
    const rss = new Map<number, number>();
    for (let round = 0; round < ROUNDS; round++) {
      for (const workers of [1, 2]) {
        const s = await startServer(dir, workers);
        rss.set(workers, Math.min(rss.get(workers) ?? Infinity, s.idleRssMiB));
        try {
          for (const [name, mode, clients] of TESTS) {
            rows.push(await measure(s, workers, dir, name, mode, clients));
          }
        } finally {
          await stop(s.proc);
        }
      }
    }
    report(rows);
    console.log(
      `\nidle RSS after start: ${
        [...rss].map(([w, m]) => `${w} worker${w > 1 ? "s" : ""} ${m.toFixed(0)} MiB`).join(", ")
      }`,
    );
  } finally {
    for (const c of [...running]) await stop(c, "SIGKILL");
    await Deno.remove(dir, { recursive: true });
  }
}

/** The best round per row (other work on the machine only ever makes a round worse). */
function report(rows: Row[]): void {
  console.log(
    `${CORES} cores; ${PHASE_MS / 1000} s per row, best of ${ROUNDS} rounds; the generator is ` +
      `${CORES} Node.js processes on the same cores\n`,
  );
  console.log(
    "| test | workers | ops/s | p50 ms | p99 ms | server cores | server CPU ms/op | generator cores |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const [name] of TESTS) {
    for (const workers of [1, 2]) {
      const mine = rows.filter((r) => r.test === name && r.workers === workers);
      const best = name.includes("paced")
        ? mine.reduce((a, b) => (b.p99 < a.p99 ? b : a))
        : mine.reduce((a, b) => (b.rate > a.rate ? b : a));
      console.log(
        `| ${name} | ${workers} | ${best.rate.toFixed(0)} | ${best.p50.toFixed(2)} | ${
          best.p99.toFixed(1)
        } | ${best.serverCores.toFixed(2)} | ${best.cpuPerOpMs.toFixed(2)} | ${
          best.genCores.toFixed(2)
        } |${best.errors ? ` ${best.errors} errors` : ""}`,
      );
    }
  }
}

if (import.meta.main) {
  Deno.addSignalListener("SIGINT", async () => {
    for (const c of [...running]) await stop(c, "SIGKILL");
    Deno.exit(130);
  });
  await main();
}
