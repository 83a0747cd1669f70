/**
 * Server CPU per keep-alive MCP `tools/call` (`echo`) over mutual TLS
 * (issue 15, "Per call"), for:
 *
 * - `stateful`, `stateless`: `serveMcp` on Deno with `sessions` set so;
 * - `bridge`, `bridge-shared`: `serveStdioMcp` (the `serve -- CMD` bridge) in
 *   front of examples/stdio_server.ts, a child per session or one shared; the
 *   children's CPU is reported apart from the server's;
 * - `node`, `node-stateless`, `bun`, `bun-stateless`: `serveMcp` from the npm
 *   build (`deno task build:npm`) on Node.js or Bun (bench/_runtime_server.mjs).
 *
 * CPU comes from /proc/PID/stat (utime + stime, all threads) over the
 * measured phase, divided by the calls answered: less sensitive to other load
 * on a shared machine than calls per second. Every server starts once; the
 * rounds take turns over the targets, and each cell reports the median and
 * the spread (min–max) over BENCH_ROUNDS rounds (default 3). Load: one Node.js
 * process (bench/_loadgen.mjs, OpenSSL) per cell, keep-alive, one connection
 * and one session per client, at 1 and 32 clients (BENCH_CLIENTS).
 * BENCH_SECONDS (default 2) per cell. BENCH_PROFILE=DIR runs the Deno servers
 * with `--cpu-prof` into DIR (see bench/profile_summary.ts). BENCH_BASE=DIR
 * adds targets `base-X`: target X served from another checkout in DIR (for
 * example `git archive HEAD | tar -x -C DIR`, with this file's server script
 * copied in), so a change is measured before and after in one run, the two
 * taking turns under the same load from the rest of the machine.
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

async function start(name: string, dir: string): Promise<Server> {
  // "base-X": target X from the tree in BENCH_BASE (before/after in one run, taking turns).
  const base = name.startsWith("base-") ? BASE : undefined;
  if (name.startsWith("base-") && !base) throw new Error(`${name}: set BENCH_BASE=DIR`);
  const root = base ? `${base}/bench/` : here;
  const plain = base ? name.slice(5) : name;
  const [runtime, variant] = plain.split("-");
  let c: Deno.ChildProcess;
  if (runtime === "node") {
    c = spawn("node", [`${root}_runtime_server.mjs`, dir, variant ?? ""]);
  } else if (runtime === "bun") {
    c = spawn(`${here}../npm/node_modules/.bin/bun`, [
      `${root}_runtime_server.mjs`,
      dir,
      variant ?? "",
    ]);
  } else {
    const prof = PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE}/${name}`] : [];
    c = spawn(Deno.execPath(), ["run", "-A", ...prof, `${root}_per_call_server.ts`, plain, dir]);
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
    const kids = childrenOf(s.pid);
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
    "| target | clients | server CPU ms/call, median (min–max) | child CPU ms/call | calls/s | generator cores |",
  );
  console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
  for (const [key, cell] of cells) {
    const [name, clients] = key.split("|");
    const kids = name.replace(/^base-/, "").startsWith("bridge") ? spread(cell.children) : "–";
    console.log(
      `| ${name} | ${clients} | ${spread(cell.server)} | ${kids} | ${
        median(cell.rate).toFixed(0)
      } | ${median(cell.gen).toFixed(2)} |`,
    );
  }
} finally {
  for (const s of servers) await stop(s.process);
  await Deno.remove(dir, { recursive: true });
}
