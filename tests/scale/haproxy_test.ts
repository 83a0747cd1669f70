/**
 * The HAProxy recipe (examples/haproxy/haproxy.cfg) end to end: real HAProxy
 * on 127.0.0.1, in TCP mode with PROXY protocol v2, in front of two `serve`
 * instances (spawned CLI, as the recipe runs them). SDK clients over mTLS,
 * each from its own loopback address (127.0.0.2, 127.0.0.3), must be admitted
 * and logged with that address; stateless mode spreads requests over both
 * instances; stateful sessions stay on their instance with `balance source`;
 * killing that instance sends new sessions to the other.
 *
 * HAProxy is required: without it this test fails (tests/run_all.ts installs
 * it with apt-get when run as root).
 */

import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { Agent, type buildConnector, fetch as undiciFetch } from "undici";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { type Fixtures, makeFixtures } from "../server/_fixtures.ts";
import { requireProgram } from "../_system_packages.ts";

const fx: Fixtures = await makeFixtures();
const RECIPE = await Deno.readTextFile(
  new URL("../../examples/haproxy/haproxy.cfg", import.meta.url),
);
const CLI = new URL("../../src/cli/main.ts", import.meta.url).pathname;

const haproxyPath = () => requireProgram("haproxy");

/** A `serve` instance: its port, its JSON log lines, and a way to kill or stop it. */
interface Instance {
  port: number;
  lines(): Record<string, unknown>[];
  /** Peers of its "client admitted" lines. */
  admitted(): string[];
  kill(): void;
  stopped: Promise<unknown>;
}

async function startServe(env: Record<string, string>): Promise<Instance> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      CLI,
      "serve",
      "--certs",
      fx.dir,
      "--port",
      "0",
      "--log-format",
      "json",
      "--log-level",
      "debug",
      "--proxy-protocol",
      "127.0.0.1/32",
    ],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let out = "";
  let err = "";
  const pump = async (s: ReadableStream<Uint8Array>, add: (t: string) => void) => {
    for await (const t of s.pipeThrough(new TextDecoderStream())) add(t);
  };
  const pumps = Promise.all([
    pump(child.stdout, (t) => out += t),
    pump(child.stderr, (t) => err += t),
  ]);
  const lines = () => err.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  const port = await waitFor(() => {
    const m = /127\.0\.0\.1:(\d+)\/mcp/.exec(out);
    return m ? Number(m[1]) : undefined;
  }, () => `serve did not start: ${err}`);
  let killed = false;
  return {
    port,
    lines,
    admitted: () => lines().filter((l) => l.msg === "client admitted").map((l) => String(l.peer)),
    kill() {
      if (killed) return;
      killed = true;
      child.kill("SIGKILL");
    },
    stopped: Promise.all([child.status, pumps]),
  };
}

async function waitFor<T>(
  f: () => T | undefined | Promise<T | undefined>,
  why: () => string,
  ms = 20_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(why());
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A free port from the OS (bound, then closed: a small race, retried by the caller on failure). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * Runs HAProxy with the recipe, its ports replaced, on `front` (picked by
 * {@link freePort} before the instances started, so they accept it as their
 * Host: a small race, accepted); resolves once its frontend accepts.
 */
async function startHaproxy(
  front: number,
  a: Instance,
  b: Instance,
  balance: "source" | "roundrobin",
) {
  const dir = await Deno.makeTempDir({ prefix: "mcp-mtls-haproxy-" });
  let cfg = RECIPE.replace("bind 127.0.0.1:8443", `bind 127.0.0.1:${front}`)
    .replace("127.0.0.1:9443", `127.0.0.1:${a.port}`)
    .replace("127.0.0.1:9444", `127.0.0.1:${b.port}`)
    .replaceAll("inter 2s fall 2 rise 2", "inter 200 fall 1 rise 1");
  if (balance === "roundrobin") {
    cfg = cfg.replace("    balance source\n", "    balance roundrobin\n");
  }
  assert.ok(cfg.includes(`:${a.port} send-proxy-v2`) && cfg.includes(`balance ${balance}`));
  await Deno.writeTextFile(`${dir}/haproxy.cfg`, cfg);
  const child = new Deno.Command(haproxyPath(), {
    args: ["-db", "-f", `${dir}/haproxy.cfg`],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let log = "";
  const pumps = Promise.all([child.stdout, child.stderr].map(async (s) => {
    for await (const t of s.pipeThrough(new TextDecoderStream())) log += t;
  }));
  let exited = false;
  const status = child.status.then((s) => (exited = true, s));
  const stop = async () => {
    if (!exited) child.kill("SIGTERM");
    await Promise.all([status, pumps]);
    await Deno.remove(dir, { recursive: true });
  };
  const ready = await waitFor(async () => exited ? false : await accepts(front), () => log)
    .catch(() => false);
  if (!ready) {
    await stop();
    throw new Error(`HAProxy did not start on port ${front}: ${log}`);
  }
  return { url: `https://localhost:${front}/mcp`, stop };
}

function accepts(port: number): Promise<boolean | undefined> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(undefined));
  });
}

/**
 * An SDK client over mTLS from `from`; `fresh` opens a new connection per
 * request (so the balancer chooses again each time).
 */
async function sdkClient(url: string, from: string, fresh: boolean) {
  // Deno's tls.connect ignores `localAddress` (measured: HAProxy saw 127.0.0.1), so the
  // TCP connection is made from `from` with node:net and TLS runs over it.
  const connect: buildConnector.connector = (o, cb) => {
    const raw = net.connect({ host: o.hostname, port: Number(o.port), localAddress: from });
    raw.once("error", (e) => cb(e, null));
    raw.once("connect", () => {
      const s = tls.connect({
        socket: raw,
        ca: fx.ca,
        cert: fx.alice.cert,
        key: fx.alice.key,
        servername: "localhost",
      });
      s.once("secureConnect", () => cb(null, s));
      s.once("error", (e) => cb(e, null));
    });
  };
  const agents: Agent[] = [];
  const agent = () => {
    const a = new Agent({ connect });
    agents.push(a);
    return a;
  };
  const shared = agent();
  // undici's fetch with our dispatcher; its Request/Response types differ from Deno's.
  type UndiciInit = Parameters<typeof undiciFetch>[1];
  const fetch = ((input: string | URL, init?: RequestInit) =>
    undiciFetch(input, {
      ...(init as UndiciInit),
      dispatcher: fresh ? agent() : shared,
    })) as unknown as typeof globalThis.fetch;
  const client = new Client({ name: "haproxy-test", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(url), { fetch });
  await client.connect(transport);
  return {
    client,
    sessionId: () => transport.sessionId,
    async close() {
      await client.close().catch(() => {});
      await Promise.all(agents.map((a) => a.close().catch(() => {})));
    },
  };
}

const ENV = (sessions: string, front: number) => ({
  MCP_MTLS_SESSIONS: sessions,
  // Clients dial the balancer's port, not the instance's own (as the recipe says).
  MCP_MTLS_ALLOWED_HOSTS: `localhost:${front}`,
});

async function twoInstances(sessions: string, front: number) {
  const a = await startServe(ENV(sessions, front));
  try {
    return [a, await startServe(ENV(sessions, front))] as const;
  } catch (e) {
    a.kill();
    await a.stopped;
    throw e;
  }
}

Deno.test("HAProxy + PROXY v2, stateless: clients are admitted with their own addresses and any instance serves any request", async () => {
  haproxyPath();
  const front = await freePort();
  const [a, b] = await twoInstances("stateless", front);
  const lb = await startHaproxy(front, a, b, "roundrobin").catch(async (e) => {
    a.kill(), b.kill();
    await Promise.all([a.stopped, b.stopped]);
    throw e;
  });
  try {
    for (const from of ["127.0.0.2", "127.0.0.3"]) {
      const c = await sdkClient(lb.url, from, true);
      try {
        for (let i = 0; i < 4; i++) {
          const r = await c.client.callTool({ name: "echo", arguments: { text: `hi ${i}` } });
          assert.deepEqual(r.content, [{ type: "text", text: `hi ${i}` }]);
        }
      } finally {
        await c.close();
      }
    }
    const seen = [...a.admitted(), ...b.admitted()];
    // Every admitted client is logged with its own address, never the balancer's.
    assert.ok(seen.length >= 10, JSON.stringify(seen));
    assert.ok(seen.every((p) => /^127\.0\.0\.[23]:\d+$/.test(p)), JSON.stringify(seen));
    // Round robin over fresh connections: both instances served each client.
    for (const inst of [a, b]) {
      for (const from of ["127.0.0.2", "127.0.0.3"]) {
        assert.ok(inst.admitted().some((p) => p.startsWith(`${from}:`)), `${from} on ${inst.port}`);
      }
    }
  } finally {
    await lb.stop();
    a.kill(), b.kill();
    await Promise.all([a.stopped, b.stopped]);
  }
});

Deno.test("HAProxy + PROXY v2, stateful: balance source keeps a session on its instance; killing it fails new sessions over", async () => {
  haproxyPath();
  const front = await freePort();
  const [a, b] = await twoInstances("stateful", front);
  const lb = await startHaproxy(front, a, b, "source").catch(async (e) => {
    a.kill(), b.kill();
    await Promise.all([a.stopped, b.stopped]);
    throw e;
  });
  try {
    const c = await sdkClient(lb.url, "127.0.0.2", true);
    let owner: Instance, other: Instance;
    try {
      // Each call on a new connection: the balancer picks again, by source address.
      for (let i = 0; i < 4; i++) {
        const r = await c.client.callTool({ name: "echo", arguments: { text: `s${i}` } });
        assert.deepEqual(r.content, [{ type: "text", text: `s${i}` }]);
      }
      const onA = a.admitted().filter((p) => p.startsWith("127.0.0.2:")).length;
      const onB = b.admitted().filter((p) => p.startsWith("127.0.0.2:")).length;
      assert.ok((onA === 0) !== (onB === 0), `admitted on a: ${onA}, on b: ${onB}`);
      [owner, other] = onA > 0 ? [a, b] : [b, a];
      assert.ok(
        owner.lines().some((l) => l.msg === "session opened" && l.session === c.sessionId()) ||
          owner.admitted().length >= 5,
      );
    } finally {
      await c.close();
    }

    owner.kill();
    await owner.stopped;
    // HAProxy notices (failed check, or a refused connect redispatched): a new session from
    // the same address opens on the surviving instance.
    const before = other.admitted().length;
    const fresh = await waitFor(async () => {
      try {
        return await sdkClient(lb.url, "127.0.0.2", false);
      } catch {
        return undefined;
      }
    }, () => "no new session after the failover");
    try {
      const r = await fresh.client.callTool({ name: "echo", arguments: { text: "after" } });
      assert.deepEqual(r.content, [{ type: "text", text: "after" }]);
      assert.ok(other.admitted().slice(before).some((p) => p.startsWith("127.0.0.2:")));
    } finally {
      await fresh.close();
    }
  } finally {
    await lb.stop();
    a.kill(), b.kill();
    await Promise.all([a.stopped, b.stopped]);
  }
});
