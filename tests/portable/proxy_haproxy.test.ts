// A real HAProxy (TCP mode, `send-proxy-v2`, health checks with a PROXY v2
// LOCAL header) in front of `serveMcp` running in the runtime under test
// (Deno, Node.js, Bun). Clients from 127.0.0.2 and 127.0.0.3 run mTLS and an
// MCP session through it; the server must see and log each client's own
// address, never HAProxy's, and refuse nothing (its health checks included).
//
// HAProxy is required: without it this test fails (tests/run_all.ts installs
// it with apt-get when run as root), as tests/scale/haproxy_test.ts does.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import net from "node:net";
import { join } from "node:path";
import process from "node:process";
import { test } from "node:test";
import { withTempDir } from "./_env.ts";
import { proxiedTls } from "./_proxy_peer.ts";
import { admitted, mcpSession, peerFactory } from "./_proxy_server.ts";
import { serverFixtures, startMcp } from "./_server_fixtures.ts";

function haproxyPath(): string {
  const dirs = ["/usr/sbin", "/usr/local/sbin", ...(process.env.PATH ?? "").split(":")];
  const found = dirs.map((d) => join(d, "haproxy")).find((p) => existsSync(p));
  if (!found) throw new Error("HAProxy is required (apt-get install haproxy)");
  return found;
}

/** A free port from the OS (bound, then closed: a small race, accepted). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("connect", () => (s.destroy(), resolve(true)));
    s.once("error", () => resolve(false));
  });
}

const config = (front: number, backend: number) => `
global
    maxconn 256
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend mcp
    bind 127.0.0.1:${front}
    default_backend mcp_serve
backend mcp_serve
    server a 127.0.0.1:${backend} send-proxy-v2 check check-send-proxy inter 200 fall 1 rise 1
`;

/** Runs HAProxy with `cfg` until `fn` ends; waits until `front` accepts first. */
async function withHaproxy(dir: string, cfg: string, front: number, fn: () => Promise<void>) {
  const file = join(dir, "haproxy.cfg");
  await writeFile(file, cfg);
  const child = spawn(haproxyPath(), ["-db", "-f", file], { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  child.stdout!.on("data", (c) => log += c);
  child.stderr!.on("data", (c) => log += c);
  const exited = new Promise((r) => child.once("exit", r));
  try {
    // 10 s at most: only stops a hang.
    let up = false;
    for (let i = 0; i < 200 && !up && child.exitCode === null; i++) {
      up = await accepts(front);
      if (!up) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(up, `HAProxy did not start on ${front}: ${log}`);
    await fn();
  } finally {
    if (child.exitCode === null) child.kill("SIGTERM");
    await exited;
  }
}

test(
  "serveMcp() behind a real HAProxy with send-proxy-v2: each client is admitted and served with its own address",
  { timeout: 60_000 },
  async () => {
    const fx = await serverFixtures();
    const front = await freePort();
    const s = await startMcp(fx, {
      proxyProtocol: { trusted: ["127.0.0.1/32"] },
      // Clients dial HAProxy's port, not the server's own.
      allowedHosts: [`localhost:${front}`],
    }, peerFactory);
    try {
      await withTempDir(async (dir) => {
        await withHaproxy(dir, config(front, s.server.address.port), front, async () => {
          for (const from of ["127.0.0.2", "127.0.0.3", "127.0.0.2"]) {
            const sock = await proxiedTls(front, undefined, {
              ca: fx.ca,
              pair: fx.alice,
              localAddress: from,
            });
            const seen = await mcpSession(sock);
            assert.match(seen, new RegExp(`^${from.replaceAll(".", "\\.")}:\\d+$`));
            assert.equal(admitted(s).at(-1), seen);
          }
          // Served at all: HAProxy's health checks (a PROXY v2 LOCAL header, then a
          // reset) found the server up; they must not be refused either (below).
        });
      });
      assert.equal(admitted(s).length, 3);
      assert.deepEqual(s.lines.filter((l) => l.level === "warn" || l.level === "error"), []);
    } finally {
      await s.server.close();
    }
  },
);
