/**
 * The gateway when its upstream fails: killed in the middle of an SSE
 * stream and restarted (a real process, SIGKILL), hung (no response
 * headers), and an HTTPS upstream whose key does not match the pin. Each
 * failure reaches the caller as a JSON-RPC error with a stable reason code,
 * is logged once at warn with the peer, shows on /healthz, and the gateway
 * serves again once the upstream is back.
 */

import assert from "node:assert/strict";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { LoggingMessageNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import { readCertificate } from "../../src/cert/certificate.ts";
import { createMtlsFetch } from "../../src/mcp/client_fetch.ts";
import { collectingLogger, INITIALIZE, makeFixtures } from "../server/_fixtures.ts";
import { openSession, post, startGateway } from "./_gateway.ts";
import { startUpstream } from "./_upstream.ts";

const fx = await makeFixtures();
const UPSTREAM_MAIN = new URL("./_upstream.ts", import.meta.url).pathname;

/** The upstream as a child process, its announced lines readable one by one. */
async function spawnUpstream(port = 0) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", UPSTREAM_MAIN, String(port)],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines: string[] = [];
  const reading = (async () => {
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const chunk of child.stdout) {
      buffer += decoder.decode(chunk, { stream: true });
      const parts = buffer.split("\n");
      buffer = parts.pop()!;
      lines.push(...parts);
    }
  })();
  const waitFor = async (prefix: string) => {
    for (let i = 0; i < 1500; i++) {
      const hit = lines.find((l) => l.startsWith(prefix));
      if (hit) return hit;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`The upstream never printed "${prefix}"; got ${JSON.stringify(lines)}`);
  };
  const listening = await waitFor("listening ");
  return {
    port: Number(listening.split(" ")[1]),
    waitFor,
    async kill() {
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
      await child.status;
      await reading;
    },
  };
}

async function health(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.json() };
}

async function until(what: string, done: () => boolean | Promise<boolean>): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (await done()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`Timed out waiting for ${what}`);
}

Deno.test("serveGateway() answers upstream_unavailable when the upstream dies mid-stream, and recovers when it returns", async () => {
  let upstream = await spawnUpstream();
  const url = `http://127.0.0.1:${upstream.port}/mcp`;
  const { gateway, log } = await startGateway(fx, url, { health: { port: 0 } });
  const fetch = createMtlsFetch({
    cert: fx.alice.cert,
    key: fx.alice.key,
    ca: fx.ca,
    logger: collectingLogger(),
  });
  const client = new Client({ name: "failure", version: "1.0.0" });
  try {
    await client.connect(new StreamableHTTPClientTransport(new URL(gateway.url), { fetch }));
    assert.equal((await health(gateway.healthUrl!)).status, 200);
    const logged = Promise.withResolvers<void>();
    client.setNotificationHandler(LoggingMessageNotificationSchema, () => logged.resolve());
    const stalled = client.callTool({ name: "stall", arguments: {} })
      .then(() => undefined, (e: unknown) => e as { code?: number; data?: { reason?: string } });
    await logged.promise; // the call's SSE stream is under way
    await upstream.kill();
    const error = await stalled;
    assert.equal(error?.code, -32603);
    assert.deepEqual(error?.data, { reason: "upstream_unavailable", cause: "UND_ERR_SOCKET" });
    const failed = log.records.filter((r) => r.msg === "upstream request failed");
    assert.equal(failed[0].level, "warn");
    assert.equal(failed[0].fields.reason, "upstream_unavailable");
    assert.match(String(failed[0].fields.peer), /^127\.0\.0\.1:\d+$/);
    // While it is down: /healthz says so, and a new caller gets the code at once.
    const down = await health(gateway.healthUrl!);
    assert.equal(down.status, 503);
    assert.equal(down.body.status, "degraded");
    assert.equal((down.body.upstream as { state: string }).state, "down");
    const refused = await post(fx, gateway.url, fx.bob, INITIALIZE);
    assert.equal(refused.status, 502);
    assert.deepEqual(
      (refused.messages[0].error as { data: { reason: string; cause: string } }).data,
      { reason: "upstream_unavailable", cause: "ECONNREFUSED" },
    );
    // Our client raises it typed.
    const typed = await client.callTool({ name: "echo", arguments: { text: "x" } })
      .then(() => undefined, (e: unknown) => e as { code?: string });
    assert.equal(typed?.code, "upstream_unavailable");
    // Back on the same port: the health probe sees it, and sessions open again.
    upstream = await spawnUpstream(Number(new URL(url).port));
    await until(
      "the upstream to be up",
      async () => (await health(gateway.healthUrl!)).status === 200,
    );
    await openSession(fx, gateway.url, fx.bob);
  } finally {
    await client.close().catch(() => {});
    await fetch.close();
    await gateway.close();
    await upstream.kill();
  }
});

Deno.test("serveGateway() answers upstream_timeout when the upstream sends no headers in time, and stays healthy", async () => {
  const upstream = await startUpstream({ hang: true });
  const { gateway, log } = await startGateway(fx, { url: upstream.url, requestTimeoutMs: 300 }, {
    health: { port: 0 },
  });
  try {
    const r = await post(fx, gateway.url, fx.alice, INITIALIZE);
    assert.equal(r.status, 504);
    assert.deepEqual(r.messages[0], {
      jsonrpc: "2.0",
      id: 1,
      error: {
        code: -32603,
        message: (r.messages[0].error as { message: string }).message,
        data: { reason: "upstream_timeout", cause: "UND_ERR_HEADERS_TIMEOUT" },
      },
    });
    assert.match(
      (r.messages[0].error as { message: string }).message,
      /^The upstream MCP server did not answer in time: /,
    );
    const failed = log.records.filter((x) => x.msg === "upstream request failed");
    assert.equal(failed.length, 1);
    assert.equal(failed[0].fields.reason, "upstream_timeout");
    assert.equal(upstream.log.length, 1);
    // A slow answer is not a dead upstream.
    assert.equal((await health(gateway.healthUrl!)).status, 200);
    assert.equal(gateway.sessionCount, 0);
  } finally {
    await gateway.close();
    await upstream.close();
  }
});

Deno.test("serveGateway() refuses an HTTPS upstream whose key is not pinned, before sending it anything", async () => {
  const upstream = await startUpstream({
    tls: { cert: fx.server.cert, key: fx.server.key, ca: fx.ca },
  });
  const wrongPin = readCertificate(fx.otherCaClient.cert).spkiPin;
  const rightPin = readCertificate(fx.server.cert).spkiPin;
  const via = (pins: string[]) => ({
    url: upstream.url,
    ca: fx.ca,
    cert: fx.bob.cert,
    key: fx.bob.key,
    pins,
  });
  const pinned = await startGateway(fx, via([wrongPin]));
  try {
    const r = await post(fx, pinned.gateway.url, fx.alice, INITIALIZE);
    assert.equal(r.status, 502);
    const error = r.messages[0].error as { data: { reason: string; cause: string } };
    assert.deepEqual(error.data, { reason: "upstream_unavailable", cause: "pin_mismatch" });
    assert.equal(upstream.log.length, 0, "the upstream received a request");
    const failed = pinned.log.records.filter((x) => x.msg === "upstream request failed");
    assert.equal(failed.length, 1);
    assert.equal(failed[0].fields.cause, "pin_mismatch");
  } finally {
    await pinned.gateway.close();
  }
  // The right pin, and the gateway's own certificate for the upstream's mTLS: served.
  const good = await startGateway(fx, via([rightPin]));
  try {
    await openSession(fx, good.gateway.url, fx.alice);
    assert.ok(upstream.log.length >= 2);
  } finally {
    await good.gateway.close();
    await upstream.close();
  }
});
