// Shared machinery of the reliability suite: the stress switch, a seeded PRNG
// and mutators for fuzzing, certificates written to a temp folder, a server
// in a child process (so its RSS and file descriptors can be read from /proc),
// and a good client that keeps calling a tool while hostile peers do their worst.
import { connectMcpClient } from "../../src/mcp/mod.ts";
import { type CertificateBundle, createRootCa, issueCertificate } from "../../src/pki/mod.ts";
import { moduleTempDir } from "../_temp_dir.ts";

/** `MCP_MTLS_STRESS=1` selects the long variants (`deno task stress`). */
export const STRESS: boolean = Deno.env.get("MCP_MTLS_STRESS") === "1";

/** `short` in `deno task test`, `long` under MCP_MTLS_STRESS=1. */
export function scale<T>(short: T, long: T): T {
  return STRESS ? long : short;
}

/** Seed from MCP_MTLS_SEED when given (to replay a failure), else from the clock. */
export function seedFor(name: string): number {
  const fixed = Deno.env.get("MCP_MTLS_SEED");
  const seed = fixed ? Number(fixed) >>> 0 : (Date.now() ^ (Math.random() * 2 ** 32)) >>> 0;
  console.log(`[${name}] seed=${seed} (replay with MCP_MTLS_SEED=${seed})`);
  return seed;
}

/** mulberry32: small, fast, good enough to pick mutations reproducibly. */
export function prng(seed: number): { int(n: number): number; bytes(n: number): Uint8Array } {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    int: (n: number) => Math.floor(next() * n),
    bytes: (n: number) => Uint8Array.from({ length: n }, () => Math.floor(next() * 256)),
  };
}

export type Rng = ReturnType<typeof prng>;

/**
 * One mutation of `input`: bit flips, truncation, insertion, deletion,
 * duplication, or a corrupted DER length byte (a byte after a tag-like
 * byte set to 0x80..0x84 or 0xff, so lengths claim far more or less).
 */
export function mutate(input: Uint8Array, rng: Rng): { bytes: Uint8Array; how: string } {
  const b = input.slice();
  const at = () => rng.int(Math.max(1, b.length));
  switch (rng.int(7)) {
    case 0: {
      const flips = 1 + rng.int(8);
      for (let i = 0; i < flips; i++) b[at()] ^= 1 << rng.int(8);
      return { bytes: b, how: `flip x${flips}` };
    }
    case 1: {
      const n = at();
      return { bytes: b.slice(0, n), how: `truncate to ${n}` };
    }
    case 2: {
      const i = at();
      const extra = rng.bytes(1 + rng.int(64));
      return {
        bytes: concat(b.slice(0, i), extra, b.slice(i)),
        how: `insert ${extra.length} at ${i}`,
      };
    }
    case 3: {
      const i = at();
      const n = 1 + rng.int(64);
      return { bytes: concat(b.slice(0, i), b.slice(i + n)), how: `delete ${n} at ${i}` };
    }
    case 4: {
      const i = at();
      const n = 1 + rng.int(256);
      return { bytes: concat(b.slice(0, i + n), b.slice(i)), how: `duplicate ${n} at ${i}` };
    }
    case 5: {
      // Length-field corruption: find a SEQUENCE/SET/OCTET STRING/INTEGER tag and break its length.
      const tags = [0x30, 0x31, 0x04, 0x02, 0x03, 0xa0];
      for (let tries = 0; tries < 50; tries++) {
        const i = at();
        if (i + 1 < b.length && tags.includes(b[i])) {
          const values = [0x00, 0x7f, 0x80, 0x81, 0x82, 0x83, 0x84, 0x88, 0xff];
          const v = values[rng.int(values.length)];
          b[i + 1] = v;
          return { bytes: b, how: `length at ${i + 1} := 0x${v.toString(16)}` };
        }
      }
      b[at()] = 0xff;
      return { bytes: b, how: "byte := 0xff" };
    }
    default: {
      const i = at();
      const v = [0x00, 0xff, 0x7f, 0x80][rng.int(4)];
      const n = 1 + rng.int(16);
      for (let k = 0; k < n && i + k < b.length; k++) b[i + k] = v;
      return { bytes: b, how: `fill ${n} at ${i} with 0x${v.toString(16)}` };
    }
  }
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Rejects when `p` takes longer than `ms` (a hang is a finding). */
export async function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`HANG: ${what} took over ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export interface Pki {
  dir: string;
  ca: CertificateBundle;
  files: {
    ca: string;
    serverCert: string;
    serverKey: string;
    clientCert: string;
    clientKey: string;
  };
  server: { cert: string; key: string };
  client: { cert: string; key: string };
  caPem: string;
}

/**
 * A CA, a server certificate for localhost/127.0.0.1 and a client certificate, as files in
 * a folder removed when the test module unloads (also when the test fails before its end).
 */
export async function makePki(prefix: string): Promise<Pki> {
  const dir = await moduleTempDir(`rel-${prefix}-`);
  const ca = await createRootCa({ commonName: "Reliability CA", exportable: true });
  const server = await issueCertificate(ca, "server", {
    commonName: "localhost",
    subjectAltNames: "dns:localhost,ip:127.0.0.1",
    exportable: true,
  });
  const client = await issueCertificate(ca, "client", {
    commonName: "good-agent",
    exportable: true,
  });
  const files = {
    ca: `${dir}/ca.crt`,
    serverCert: `${dir}/server.crt`,
    serverKey: `${dir}/server.key`,
    clientCert: `${dir}/client.crt`,
    clientKey: `${dir}/client.key`,
  };
  await Deno.writeTextFile(files.ca, ca.certificatePem);
  await Deno.writeTextFile(files.serverCert, server.certificatePem);
  await Deno.writeTextFile(files.serverKey, server.privateKeyPem!, { mode: 0o600 });
  await Deno.writeTextFile(files.clientCert, client.certificatePem);
  await Deno.writeTextFile(files.clientKey, client.privateKeyPem!, { mode: 0o600 });
  return {
    dir,
    ca,
    files,
    caPem: ca.certificatePem,
    server: { cert: server.certificatePem, key: server.privateKeyPem! },
    client: { cert: client.certificatePem, key: client.privateKeyPem! },
  };
}

export interface LogRecord {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}

export interface ChildServer {
  pid: number;
  port: number;
  url: string;
  /** Every log record the server wrote so far. */
  records: LogRecord[];
  /** VmRSS of the server process, in KiB. */
  rssKiB(): Promise<number>;
  /** Open file descriptors of the server process. */
  fdCount(): Promise<number>;
  /** Asks the server to run a full GC (it runs with --expose-gc); resolves with the live JS heap in KiB. */
  gc(): Promise<{ heapUsedKiB: number; externalKiB: number }>;
  stop(): Promise<void>;
}

export interface ChildServerConfig {
  cert: string;
  key: string;
  ca: string;
  limits?: Record<string, unknown>;
  sessions?: "stateful" | "stateless";
}

/** Starts `_server_child.ts` (serveMcp with the demo tools) and waits for its port. */
export async function startChildServer(config: ChildServerConfig): Promise<ChildServer> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      // expose-gc: RSS is read after a full GC. min-semi-space-size: V8 grows its young
      // generation once under load (measured: a one-time +30 MiB step), fix it from the start.
      "--v8-flags=--expose-gc,--min-semi-space-size=16",
      new URL("./_server_child.ts", import.meta.url).pathname,
      JSON.stringify(config),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const records: LogRecord[] = [];
  const waiters: { match: (l: LogRecord) => boolean; resolve: (l: LogRecord) => void }[] = [];
  const stdin = child.stdin.getWriter();
  const reading = (async () => {
    let buf = "";
    const dec = new TextDecoder();
    for await (const chunk of child.stdout) {
      buf += dec.decode(chunk, { stream: true });
      let nl;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.trim()) continue;
        let rec: LogRecord;
        try {
          rec = JSON.parse(line);
        } catch {
          rec = { level: "raw", msg: line };
        }
        records.push(rec);
        for (const w of [...waiters]) {
          if (w.match(rec)) {
            waiters.splice(waiters.indexOf(w), 1);
            w.resolve(rec);
          }
        }
      }
    }
  })();
  const waitFor = (match: (l: LogRecord) => boolean, ms: number, what: string) => {
    const found = records.find(match);
    if (found) return Promise.resolve(found);
    return within(ms, new Promise<LogRecord>((resolve) => waiters.push({ match, resolve })), what);
  };
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      await stdin.write(new TextEncoder().encode("stop\n")).catch(() => {});
      await within(5_000, child.status, "server child stop").catch(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      });
    } finally {
      await stdin.close().catch(() => {});
      await child.status;
      await reading.catch(() => {});
    }
  };
  let ready: LogRecord;
  try {
    ready = await waitFor((r) => r.msg === "listening", 30_000, "server child start");
  } catch (e) {
    await stop();
    throw e;
  }
  const url = String(ready.fields?.url);
  let gcCount = 0;
  return {
    pid: child.pid,
    port: Number(new URL(url).port),
    url,
    records,
    async rssKiB() {
      const status = await Deno.readTextFile(`/proc/${child.pid}/status`);
      return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
    },
    async fdCount() {
      let n = 0;
      for await (const _ of Deno.readDir(`/proc/${child.pid}/fd`)) n++;
      return n;
    },
    async gc() {
      const id = ++gcCount;
      await stdin.write(new TextEncoder().encode(`gc ${id}\n`));
      const r = await waitFor((r) => r.msg === "gc done" && r.fields?.id === id, 10_000, "gc");
      return {
        heapUsedKiB: Math.round(Number(r.fields?.heapUsed) / 1024),
        externalKiB: Math.round(Number(r.fields?.external) / 1024),
      };
    },
    stop,
  };
}

/** Polls `probe` until it returns true or `ms` pass; returns the last result. */
export async function eventually(
  probe: () => boolean | Promise<boolean>,
  ms: number,
): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await probe()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return await probe();
}

type TextContent = { content: { type: string; text: string }[] };

/**
 * A good client calling `echo` in a loop until stopped; counts successes and
 * keeps every failure. Used to show the server keeps serving during an attack.
 */
export async function goodClientLoop(url: string, pki: Pki, pauseMs = 25) {
  const client = await connectMcpClient(url, { ...pki.client, ca: pki.caPem });
  const stats = { ok: 0, failures: [] as string[] };
  let running = true;
  const loop = (async () => {
    let i = 0;
    while (running) {
      const text = `ping ${i++}`;
      try {
        const r = await client.callTool({ name: "echo", arguments: { text } }) as TextContent;
        if (r.content?.[0]?.text === text) stats.ok++;
        else stats.failures.push(`wrong answer ${JSON.stringify(r)}`);
      } catch (e) {
        stats.failures.push(String(e));
      }
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  })();
  return {
    stats,
    /** Successful calls so far (a snapshot to compare before/after a phase). */
    get ok() {
      return stats.ok;
    },
    async stop() {
      running = false;
      await loop;
      await client.close();
    },
  };
}
