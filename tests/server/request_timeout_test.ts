// Timeouts while a request is arriving (headers, then body), against raw TLS
// clients that present a trusted certificate and then stall: each is answered
// 408 and closed with reason request_timeout, while a good SDK client keeps its
// session, its SSE stream and a tool call that outlasts the timeout.
import assert from "node:assert/strict";
import tls from "node:tls";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { demoServerFactory } from "../../src/mcp/demo_tools.ts";
import { isMtlsError } from "../../src/errors.ts";
import { serveMcp } from "../../src/mcp/server.ts";
import type { McpMtlsServer } from "../../src/mcp/server.ts";
import type { ObservableMcpServer } from "../../src/mcp/server.ts";
import {
  clientFetch,
  collectingLogger,
  type Credential,
  type Fixtures,
  makeFixtures,
  refusals,
  startServer,
} from "./_fixtures.ts";

const fx: Fixtures = await makeFixtures();

const HEADERS_TIMEOUT_MS = 800;
const REQUEST_TIMEOUT_MS = 1_500;

/** A raw TLS client presenting `cred`; collects what the server sends until it closes. */
async function rawTls(port: number, cred: Credential) {
  const s = tls.connect({
    host: "127.0.0.1",
    port,
    servername: "localhost",
    ca: fx.ca,
    cert: cred.cert,
    key: cred.key,
  });
  let received = "";
  s.on("data", (d: Uint8Array) => received += new TextDecoder().decode(d));
  s.on("error", () => {});
  const closed = new Promise<void>((resolve) => s.once("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    s.once("secureConnect", () => resolve());
    s.once("error", reject);
  });
  return { s, peer: `127.0.0.1:${s.localPort}`, closed, received: () => received };
}

/** Resolves once `cond()` holds, or rejects after `ms` (only to stop a hung test). */
async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: not after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Resolves when `p` settles, or rejects after `ms` (only to stop a hung test). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: still open after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

async function sdkClient(server: McpMtlsServer, cred: Credential) {
  const fetch = clientFetch(fx, cred);
  const client = new Client({ name: "timeout-test", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { fetch }));
  return {
    client,
    async close() {
      await client.close();
      await fetch.close();
    },
  };
}

const textOf = (r: unknown) => (r as { content: { text: string }[] }).content[0].text;

/** The demo tools plus `slow`, which answers after `ms` milliseconds. */
function slowFactory(ms: number) {
  return () => {
    const server = demoServerFactory();
    server.registerTool(
      "slow",
      { title: "Slow", description: "Answers after a while." },
      async () => {
        await new Promise((r) => setTimeout(r, ms));
        return { content: [{ type: "text", text: "done" }] };
      },
    );
    return server;
  };
}

Deno.test("serveMcp() answers 408 and closes 20 slow-body connections and a slow-headers one with request_timeout, while a good client is served", async () => {
  const { server, log } = await startServer(fx, {
    limits: { headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: REQUEST_TIMEOUT_MS },
  });
  const port = server.address.port;
  const slow: Awaited<ReturnType<typeof rawTls>>[] = [];
  const timers: ReturnType<typeof setInterval>[] = [];
  const good = await sdkClient(server, fx.bob);
  try {
    // 20 admitted clients declare a 100 KB body and send one byte of it; one of them
    // keeps sending a byte every 200 ms, which does not extend its deadline.
    for (let i = 0; i < 20; i++) {
      const c = await rawTls(port, fx.alice);
      c.s.write(
        `POST /mcp HTTP/1.1\r\nhost: localhost:${port}\r\ncontent-type: application/json\r\n` +
          "accept: application/json, text/event-stream\r\ncontent-length: 102400\r\n\r\n{",
      );
      if (i === 0) timers.push(setInterval(() => c.s.write(" "), 200));
      slow.push(c);
    }
    // One sends its headers a line at a time, forever.
    const headers = await rawTls(port, fx.alice);
    headers.s.write(`POST /mcp HTTP/1.1\r\nhost: localhost:${port}\r\n`);
    let n = 0;
    timers.push(setInterval(() => headers.s.write(`x-slow-${n++}: 1\r\n`), 200));

    // Meanwhile the good client is served.
    const who = JSON.parse(textOf(await good.client.callTool({ name: "whoami", arguments: {} })));
    assert.equal(who.identity.commonName, "bob");

    for (const c of [...slow, headers]) await within(c.closed, 15_000, c.peer);
    for (const c of slow) {
      assert.match(c.received(), /^HTTP\/1\.1 408 /, c.peer);
      assert.match(c.received(), /"reason":"request_timeout"/, c.peer);
    }
    assert.match(headers.received(), /^HTTP\/1\.1 408 /);

    const lines = refusals(log, "request_timeout");
    assert.deepEqual(
      lines.map((r) => r.fields.peer).sort(),
      [...slow, headers].map((c) => c.peer).sort(),
      "one line per closed connection, none for the good client",
    );
    assert.ok(lines.every((r) => r.level === "warn"));
    const detailOf = (peer: string) =>
      String(lines.find((r) => r.fields.peer === peer)!.fields.detail);
    assert.match(detailOf(slow[0].peer), /Request body not received within 1500 ms/);
    assert.match(detailOf(headers.peer), /Request headers not received within 800 ms/);
    assert.equal((server as ObservableMcpServer).metrics().handshakes.refused.request_timeout, 21);

    // The good client's session (and its SSE stream) outlived both timeouts.
    const again = JSON.parse(textOf(await good.client.callTool({ name: "whoami", arguments: {} })));
    assert.equal(again.identity.commonName, "bob");
    assert.deepEqual(log.records.filter((r) => r.level === "error"), []);
  } finally {
    for (const t of timers) clearInterval(t);
    for (const c of slow) c.s.destroy();
    await good.close();
    await server.close();
  }
});

Deno.test("serveMcp() does not cut a tool call or an SSE stream that outlasts requestTimeoutMs", async () => {
  const { server, log } = await startServer(fx, {
    limits: { headersTimeoutMs: 300, requestTimeoutMs: 500 },
  }, slowFactory(1_500));
  const c = await sdkClient(server, fx.alice);
  try {
    assert.equal(textOf(await c.client.callTool({ name: "slow", arguments: {} })), "done");
    // A second call on a session whose GET stream has now been open for > 1.5 s.
    assert.equal(
      textOf(await c.client.callTool({ name: "echo", arguments: { text: "hi" } })),
      "hi",
    );
    assert.deepEqual(refusals(log, "request_timeout"), []);
  } finally {
    await c.close();
    await server.close();
  }
});

Deno.test("serveMcp() keeps an idle admitted connection open past headersTimeoutMs (idle is not a slow request)", async () => {
  const { server, log } = await startServer(fx, {
    limits: { headersTimeoutMs: 300, requestTimeoutMs: 500, idleTimeoutMs: 10_000 },
  });
  const c = await rawTls(server.address.port, fx.alice);
  try {
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(c.s.destroyed, false, "still open after 1 s of silence");
    c.s.write(`GET /elsewhere HTTP/1.1\r\nhost: localhost:${server.address.port}\r\n\r\n`);
    await waitFor(() => c.received().startsWith("HTTP/1.1 404 "), 5_000, "a 404 answer");
    assert.deepEqual(refusals(log, "request_timeout"), []);
  } finally {
    c.s.destroy();
    await c.closed;
    await server.close();
  }
});

Deno.test("serveMcp() does not take the tail of a body that arrives after its response for a slow request", async () => {
  const { server, log } = await startServer(fx, {
    limits: { headersTimeoutMs: 300, requestTimeoutMs: 500, idleTimeoutMs: 10_000 },
  });
  const port = server.address.port;
  const c = await rawTls(port, fx.alice);
  try {
    // Answered 404 before its body is read; the rest of the body comes afterwards.
    c.s.write(
      `POST /elsewhere HTTP/1.1\r\nhost: localhost:${port}\r\ncontent-length: 10\r\n\r\n12345`,
    );
    await waitFor(() => c.received().startsWith("HTTP/1.1 404 "), 5_000, "a 404 answer");
    c.s.write("67890");
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(c.s.destroyed, false, "still open, idle, after the body's tail");
    c.s.write(`GET /elsewhere HTTP/1.1\r\nhost: localhost:${port}\r\n\r\n`);
    await waitFor(() => c.received().split("HTTP/1.1 404 ").length === 3, 5_000, "a second 404");
    assert.deepEqual(refusals(log, "request_timeout"), []);
  } finally {
    c.s.destroy();
    await c.closed;
    await server.close();
  }
});

Deno.test("request timeout options are validated with the key named", async () => {
  const tlsOptions = { cert: fx.server.cert, key: fx.server.key, ca: fx.ca };
  for (const key of ["headersTimeoutMs", "requestTimeoutMs"]) {
    await assert.rejects(
      serveMcp(demoServerFactory, {
        port: 0,
        tls: tlsOptions,
        limits: { [key]: 0 },
        logger: collectingLogger(),
      }),
      (e) => isMtlsError(e, "invalid_config") && (e as { key?: string }).key === `limits.${key}`,
      key,
    );
  }
});
