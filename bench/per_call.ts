/**
 * Server CPU per keep-alive MCP `tools/call` (`echo`) over mutual TLS
 * (issue 15, "Per call"), for:
 *
 * - `stateful`, `stateless`: `serveMcp` on Deno with `sessions` set so;
 * - `bridge`, `bridge-shared`: `serveStdioMcp` (the `serve -- CMD` bridge) in
 *   front of examples/stdio_server.ts, a child per session or one shared; the
 *   children's CPU is reported apart from the server's;
 * - `node`, `node-stateless`, `bun`, `bun-stateless`: `serveMcp` from the npm
 *   build (`deno task build:npm`) on Node.js or Bun (bench/_runtime_server.mjs);
 * - `gateway`, `node-gateway`, `bun-gateway`: `serveGateway` (`serve
 *   --upstream URL`) in front of one SDK upstream on plain HTTP (bench/
 *   gateway.ts's `upstream` role, one process shared by every gateway target,
 *   started from this tree); the upstream's CPU per call is reported in the
 *   child column.
 *
 * CPU comes from /proc/PID/stat (utime + stime, all threads) over the
 * measured phase, divided by the calls answered: less sensitive to other load
 * on a shared machine than calls per second. Every server starts once; the
 * rounds take turns over the targets, and each cell reports the median and
 * the spread (min–max) over BENCH_ROUNDS rounds (default 3). Load: one Node.js
 * process (bench/_loadgen.mjs, OpenSSL) per cell, keep-alive, one connection
 * and one session per client, at 1 and 32 clients (BENCH_CLIENTS).
 * BENCH_SECONDS (default 2) per cell. BENCH_PROFILE=DIR runs the Deno and
 * Node.js servers with `--cpu-prof` into DIR (see bench/profile_summary.ts). BENCH_BASE=DIR
 * adds targets `base-X`: target X served from another checkout in DIR (for
 * example `git archive HEAD | tar -x -C DIR`, with this file's server script
 * copied in), so a change is measured before and after in one run, the two
 * taking turns under the same load from the rest of the machine.
 * BENCH_V8_FLAGS passes `--v8-flags=...` to the Deno servers.
 *
 * Usage: deno run -A bench/per_call.ts [target ...]   (default: stateful stateless bridge)
 */
import { loadavg } from "node:os";
import { lines } from "./_child_lines.ts";
import { childrenOf, cpuSeconds } from "./_proc.ts";
import { createRootCa, issueCertificate } from "../src/pki/mod.ts";

const PHASE_MS = Number(Deno.env.get("BENCH_SECONDS") ?? 2) * 1000;
const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? 3);
const CLIENTS = (Deno.env.get("BENCH_CLIENTS") ?? "1,32").split(",").map(Number);
const PROFILE = Deno.env.get("BENCH_PROFILE");
const BASE = Deno.env.get("BENCH_BASE");
const V8_FLAGS = Deno.env.get("BENCH_V8_FLAGS");
const here = new URL(".", import.meta.url).pathname;
const running = new Set<Deno.ChildProcess>();

function spawn(cmd: string, args: string[]): Deno.ChildProcess {
  const c = new Deno.Command(cmd, { args, stdin: "piped", stdout: "piped", stderr: "inherit" })
    .spawn();
  running.add(c);
  return c;
}

async function stop(c: Deno.ChildProcess): Promise<void> {
  if (!running.has(c)) return;
  const timer = setTimeout(() => {
    try {
      c.kill("SIGKILL"); // only our own child
    } catch { /* gone */ }
  }, 5000);
  try {
    await c.stdin.close();
  } catch { /* closed */ }
  await c.status;
  clearTimeout(timer);
  running.delete(c);
}

async function makeCerts(dir: string) {
  const ca = await createRootCa({ commonName: "Bench CA" });
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
  return { cert: `${dir}/client.crt`, key: `${dir}/client.key`, ca: `${dir}/ca.crt` };
}

interface Server {
  name: string;
  url: string;
  pid: number;
  process: Deno.ChildProcess;
}

/** The SDK upstream the gateway targets proxy to (one process, this tree's). */
let upstream: { url: string; pid: number; process: Deno.ChildProcess } | undefined;

async function startUpstream(): Promise<string> {
  if (!upstream) {
    const c = spawn(Deno.execPath(), ["run", "-A", `${here}gateway.ts`, "upstream"]);
    upstream = { url: JSON.parse(await lines(c)(60_000)).url, pid: c.pid, process: c };
  }
  return upstream.url;
}

async function start(name: string, dir: string): Promise<Server> {
  // "base-X": target X from the tree in BENCH_BASE (before/after in one run, taking turns).
  const base = name.startsWith("base-") ? BASE : undefined;
  if (name.startsWith("base-") && !base) throw new Error(`${name}: set BENCH_BASE=DIR`);
  const root = base ? `${base}/bench/` : here;
  const plain = base ? name.slice(5) : name;
  const [runtime, variant] = plain.split("-");
  const up = plain.endsWith("gateway") ? [await startUpstream()] : [];
  let c: Deno.ChildProcess;
  if (runtime === "node") {
    const prof = PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE}/${name}`] : [];
    c = spawn("node", [...prof, `${root}_runtime_server.mjs`, dir, variant ?? "", ...up]);
  } else if (runtime === "bun") {
    c = spawn(`${here}../npm/node_modules/.bin/bun`, [
      `${root}_runtime_server.mjs`,
      dir,
      variant ?? "",
      ...up,
    ]);
  } else {
    const prof = PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE}/${name}`] : [];
    // BENCH_V8_FLAGS: V8 flags for the Deno servers (e.g. a larger young generation).
    if (V8_FLAGS) prof.push(`--v8-flags=${V8_FLAGS}`);
    c = spawn(Deno.execPath(), [
      "run",
      "-A",
      ...prof,
      `${root}_per_call_server.ts`,
      plain,
      dir,
      ...up,
    ]);
  }
  const { url } = JSON.parse(await lines(c)(60_000));
  return { name, url, pid: c.pid, process: c };
}

interface Cell {
  server: number[];
  children: number[];
  rate: number[];
  gen: number[];
}

async function measure(s: Server, clients: number, files: object, cell: Cell): Promise<void> {
  const gen = spawn("node", [
    `${here}_loadgen.mjs`,
    JSON.stringify({
      mode: "keepalive",
      kind: "mcp",
      url: s.url,
      clients,
      ms: PHASE_MS,
      warmMs: 500,
      tls: files,
      stateless: s.name.endsWith("stateless"),
    }),
  ]);
  const read = lines(gen);
  try {
    const ready = await read(60_000);
    if (ready !== "ready") throw new Error(`load generator: ${ready}`);
    // A gateway's "children" are its upstream.
    const kids = s.name.endsWith("gateway") ? [upstream!.pid] : childrenOf(s.pid);
    const s0 = cpuSeconds([s.pid]), k0 = cpuSeconds(kids);
    const w = gen.stdin.getWriter();
    await w.write(new TextEncoder().encode("go\n"));
    w.releaseLock();
    const r = JSON.parse(await read(PHASE_MS + 30_000)) as {
      ops: number;
      seconds: number;
      cpu: number;
      errors: number;
      firstError?: string;
    };
    const server = cpuSeconds([s.pid]) - s0, children = cpuSeconds(kids) - k0;
    if (r.errors) console.error(`${s.name} x${clients}: ${r.errors} errors: ${r.firstError}`);
    cell.server.push((server / r.ops) * 1000);
    cell.children.push((children / r.ops) * 1000);
    cell.rate.push(r.ops / r.seconds);
    cell.gen.push(r.cpu / r.seconds);
  } finally {
    await stop(gen);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const spread = (xs: number[], d = 3) =>
  `${median(xs).toFixed(d)} (${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)})`;

const names = Deno.args.length ? Deno.args : ["stateful", "stateless", "bridge"];
const dir = await Deno.makeTempDir({ prefix: "per_call_bench_" });
const servers: Server[] = [];
const onSignal = () => {
  for (const c of running) {
    try {
      c.kill("SIGKILL");
    } catch { /* gone */ }
  }
  Deno.exit(130);
};
Deno.addSignalListener("SIGINT", onSignal);
try {
  const files = await makeCerts(dir);
  for (const n of names) servers.push(await start(n, dir));
  const cells = new Map<string, Cell>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of servers) {
      for (const c of CLIENTS) {
        const key = `${s.name}|${c}`;
        if (!cells.has(key)) cells.set(key, { server: [], children: [], rate: [], gen: [] });
        await measure(s, c, files, cells.get(key)!);
      }
    }
  }
  console.log(
    `\nload avg ${loadavg().map((x) => x.toFixed(2)).join(" ")}, ${ROUNDS} rounds of ${
      PHASE_MS / 1000
    } s`,
  );
  console.log(
    "| target | clients | server CPU ms/call, median (min–max) | child (bridge) / upstream (gateway) CPU ms/call | calls/s | generator cores |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const [key, cell] of cells) {
    const [name, clients] = key.split("|");
    const plain = name.replace(/^base-/, "");
    const kids = plain.startsWith("bridge") || plain.endsWith("gateway")
      ? spread(cell.children)
      : "–";
    console.log(
      `| ${name} | ${clients} | ${spread(cell.server)} | ${kids} | ${
        median(cell.rate).toFixed(0)
      } | ${median(cell.gen).toFixed(2)} |`,
    );
  }
} finally {
  for (const s of servers) await stop(s.process);
  if (upstream) await stop(upstream.process);
  await Deno.remove(dir, { recursive: true });
}
