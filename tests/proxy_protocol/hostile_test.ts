/**
 * PROXY protocol on the mTLS listener, attacked first: garbage, truncated and
 * oversized headers from the trusted balancer, a header from an untrusted
 * address, a spoofed client address whose limits must apply to it (not to
 * the balancer), v1 UNKNOWN, v2 LOCAL and IPv6. Real TCP clients (node:net)
 * write the header, then run TLS over the same socket.
 */

import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
// @ts-types="@modelcontextprotocol/sdk/server/mcp"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { McpServerFactory } from "../../src/mcp/server_options.ts";
import { makeFixtures, startServer } from "../server/_fixtures.ts";
import { mcpOver, proxiedTls, refused, v1, v2 } from "./_proxy_client.ts";

const fx = await makeFixtures();

/** Serves one tool, `peer`, that returns what a tool handler sees as the caller's address. */
const peerFactory: McpServerFactory = () => {
  const s = new McpServer({ name: "peer", version: "1.0.0" });
  s.registerTool("peer", { description: "caller address" }, (extra) => ({
    content: [{ type: "text", text: String(extra.authInfo?.extra?.peer) }],
  }));
  return s;
};

const CALL_PEER = {
  jsonrpc: "2.0",
  id: 2,
  method: "tools/call",
  params: { name: "peer", arguments: {} },
};

/** A server whose only trusted balancer is 127.0.0.1; clients come from 127.0.0.2+. */
function start(limits: Record<string, unknown> = {}, maxHeaderBytes?: number) {
  return startServer(fx, {
    sessions: "stateless",
    detailedTls: true,
    limits: { handshakeTimeoutMs: 1500, ...limits },
    proxyProtocol: { trusted: ["127.0.0.1/32"], ...(maxHeaderBytes ? { maxHeaderBytes } : {}) },
  }, peerFactory);
}

/** The address a `peer` tool call through header `header` reports. */
async function peerSeen(port: number, header: Uint8Array, localAddress = "127.0.0.1") {
  const s = await proxiedTls(port, header, { fx, cred: fx.alice, localAddress });
  const r = await mcpOver(s, CALL_PEER);
  s.destroy();
  const json = r.json as { result?: { content: { text: string }[] } };
  assert.ok(json.result, `no result: ${JSON.stringify(r)}`);
  return json.result.content[0].text;
}

/** Writes raw bytes from the balancer's address and waits for the server to close. */
async function rawFromBalancer(port: number, bytes: Uint8Array, localAddress = "127.0.0.1") {
  const c = net.connect({ port, host: "127.0.0.1", localAddress });
  c.on("error", () => {});
  await new Promise((r) => c.once("connect", r));
  c.write(bytes);
  await new Promise((r) => c.once("close", r));
}

Deno.test("proxyProtocol refuses garbage from the trusted balancer with proxy_protocol_invalid", async () => {
  const { server, log } = await start();
  try {
    await rawFromBalancer(server.address.port, new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"));
    const r = await log.waitForReason("proxy_protocol_invalid");
    assert.match(String(r.fields.peer), /^127\.0\.0\.1:\d+$/);
    assert.equal(
      r.fields.detail,
      "Expected a PROXY protocol header, got bytes starting 47 45 54 20 2f 20 48 54",
    );
    // A TLS ClientHello with no header at all is refused the same way.
    assert.ok(await refused(proxiedTls(server.address.port, undefined, { fx, cred: fx.alice })));
    assert.equal(log.reasons().filter((x) => x === "proxy_protocol_invalid").length, 2);
    assert.ok(!log.records.some((x) => x.msg === "client admitted"));
  } finally {
    await server.close();
  }
});

Deno.test("proxyProtocol gives a truncated v2 header the handshake timeout", async () => {
  const { server, log } = await start();
  try {
    const whole = v2({ src: "203.0.113.7", dst: "127.0.0.1" });
    await rawFromBalancer(server.address.port, whole.subarray(0, 20)); // declares 12 address bytes, sends 4
    const r = await log.waitForReason("handshake_timeout");
    assert.equal(r.fields.detail, "PROXY protocol header not received within 1500 ms");
    assert.match(String(r.fields.peer), /^127\.0\.0\.1:\d+$/);
  } finally {
    await server.close();
  }
});

Deno.test("proxyProtocol refuses a v2 header whose TLVs exceed maxHeaderBytes, before reading them", async () => {
  const { server, log } = await start({}, 256);
  try {
    // Declares 12 address bytes and a 60,000-byte TLV; only the first 16 bytes matter.
    const header = v2({ src: "203.0.113.7", dst: "127.0.0.1", declaredLength: 60_012 });
    await rawFromBalancer(server.address.port, header);
    const r = await log.waitForReason("proxy_protocol_invalid");
    assert.equal(r.fields.detail, "PROXY v2 header of 60028 bytes exceeds the limit of 256 bytes");
    // A TLV whose length runs past the header is refused too.
    const bad = v2({ src: "203.0.113.7", dst: "127.0.0.1", tlvs: [0x04, 0x00, 0x09, 1, 2] });
    await rawFromBalancer(server.address.port, bad);
    await waitFor(() => log.reasons().filter((x) => x === "proxy_protocol_invalid").length === 2);
    assert.equal(
      log.records.filter((x) => x.fields.reason === "proxy_protocol_invalid")[1].fields.detail,
      "PROXY v2 TLV runs past the end of the header",
    );
  } finally {
    await server.close();
  }
});

Deno.test("proxyProtocol refuses a header from an untrusted address and never believes it", async () => {
  const { server, log } = await start();
  try {
    // 127.0.0.3 is not a balancer: its claim to be 198.51.100.1 is refused.
    const claim = v1("TCP4", "198.51.100.1", "127.0.0.1");
    assert.ok(
      await refused(
        proxiedTls(server.address.port, claim, { fx, cred: fx.alice, localAddress: "127.0.0.3" }),
      ),
    );
    const r = await log.waitForReason("proxy_protocol_untrusted");
    assert.match(String(r.fields.peer), /^127\.0\.0\.3:\d+$/);
    assert.equal(
      r.fields.detail,
      'PROXY protocol header from "127.0.0.3", which is not a trusted balancer (proxyProtocol.trusted)',
    );
    assert.ok(!JSON.stringify(log.records).includes("198.51.100.1"));
    // The same address without a header is an ordinary client.
    const s = await proxiedTls(server.address.port, undefined, {
      fx,
      cred: fx.alice,
      localAddress: "127.0.0.3",
    });
    const ok = await mcpOver(s, CALL_PEER);
    assert.match(JSON.stringify(ok.json), /127\.0\.0\.3:\d+/);
  } finally {
    await server.close();
  }
});

Deno.test("proxyProtocol applies per-address limits to the spoofed client, not the balancer", async () => {
  const { server, log } = await start({ connectionsPerAddress: { limit: 1, windowMs: 60_000 } });
  try {
    const port = server.address.port;
    // 203.0.113.7 spends its one unit without a certificate ...
    assert.ok(await refused(proxiedTls(port, v1("TCP4", "203.0.113.7", "127.0.0.1"), { fx })));
    const first = await log.waitForReason("no_client_cert");
    assert.match(String(first.fields.peer), /^203\.0\.113\.7:51000$/);
    // ... so its next connection is refused at accept, before any TLS work ...
    assert.ok(
      await refused(
        proxiedTls(port, v1("TCP4", "203.0.113.7", "127.0.0.1", 51001), { fx, cred: fx.alice }),
      ),
    );
    const limited = await log.waitForReason("rate_limited");
    assert.equal(limited.fields.peer, "203.0.113.7:51001");
    assert.match(String(limited.fields.detail), /from "203\.0\.113\.7"/);
    // ... while another client behind the same balancer is admitted, and sees its own address.
    assert.equal(
      await peerSeen(port, v1("TCP4", "203.0.113.8", "127.0.0.1", 52000)),
      "203.0.113.8:52000",
    );
    const admitted = log.records.find((r) => r.msg === "client admitted");
    assert.equal(admitted?.fields.peer, "203.0.113.8:52000");
  } finally {
    await server.close();
  }
});

Deno.test("proxyProtocol keeps the balancer's address for v1 UNKNOWN and v2 LOCAL", async () => {
  const { server } = await start();
  try {
    const port = server.address.port;
    const unknown = new TextEncoder().encode("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n");
    assert.match(await peerSeen(port, unknown), /^127\.0\.0\.1:\d+$/);
    assert.match(await peerSeen(port, v2({ command: "local" })), /^127\.0\.0\.1:\d+$/);
    // LOCAL ignores an address block even when one is sent.
    const local = v2({ command: "local", src: "203.0.113.9", dst: "127.0.0.1" });
    assert.match(await peerSeen(port, local), /^127\.0\.0\.1:\d+$/);
  } finally {
    await server.close();
  }
});

Deno.test("proxyProtocol carries IPv6 client addresses in v1 and v2", async () => {
  const { server, log } = await start();
  try {
    const port = server.address.port;
    assert.equal(
      await peerSeen(port, v1("TCP6", "2001:db8::7", "::1", 40000)),
      "[2001:db8::7]:40000",
    );
    // The detailed TLS line and the audit line name the client too.
    for (const msg of ["TLS handshake", "client admitted"]) {
      const line = log.records.find((r) => r.msg === msg);
      assert.equal(line?.fields.peer, "[2001:db8::7]:40000", msg);
    }
    assert.equal(
      await peerSeen(port, v2({ src: "2001:db8:0:0:1:0:0:1", dst: "::1", sport: 40001 })),
      "[2001:db8::1:0:0:1]:40001",
    );
    assert.equal(
      await peerSeen(
        port,
        v2({ src: "203.0.113.5", dst: "127.0.0.1", sport: 40002, tlvs: [0x04, 0, 1, 7] }),
      ),
      "203.0.113.5:40002",
    );
    // A v1 line whose address is not of its family is refused.
    await rawFromBalancer(port, v1("TCP6", "203.0.113.5", "::1"));
    const r = await log.waitForReason("proxy_protocol_invalid");
    assert.match(String(r.fields.detail), /has an address or port that is not IPv6$/);
  } finally {
    await server.close();
  }
});

Deno.test("proxyProtocol refuses a bad trusted list at start", async () => {
  await assert.rejects(
    () => startServer(fx, { proxyProtocol: { trusted: ["10.0.0.0/33"] } }),
    (e: Error & { code?: string }) =>
      e.code === "invalid_config" &&
      e.message ===
        'Option "proxyProtocol.trusted" has "10.0.0.0/33": expected an IP address or CIDR block such as "10.0.0.0/8"',
  );
});

async function waitFor(ok: () => boolean, ms = 5000) {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("proxyProtocol logs a failed handshake behind the balancer with the client's address", async () => {
  const { server, log } = await start();
  try {
    const header = v1("TCP4", "203.0.113.20", "127.0.0.1", 53000);
    // A TLS record that is not a ClientHello, after a valid header.
    await rawFromBalancer(
      server.address.port,
      Uint8Array.from([...header, 0x16, 3, 1, 0, 5, 1, 2, 3, 4, 5]),
    );
    // A header, then silence until the handshake timeout.
    const silent = v1("TCP4", "203.0.113.21", "127.0.0.1", 53001);
    await rawFromBalancer(server.address.port, silent);
    await waitFor(() =>
      log.records.filter((r) => String(r.fields.peer).startsWith("203.0.113.2")).length >= 2
    );
    const peers = log.records.map((r) => r.fields.peer).filter((p) => p !== undefined);
    assert.ok(peers.includes("203.0.113.20:53000"), JSON.stringify(log.records));
    assert.ok(peers.includes("203.0.113.21:53001"), JSON.stringify(log.records));
    assert.ok(!peers.includes("unknown"), JSON.stringify(log.records));
  } finally {
    await server.close();
  }
});

Deno.test("proxyProtocol keeps a proxied connection alive across requests", async () => {
  const { server, log } = await startServer(fx, {
    sessions: "stateless",
    jsonResponse: true,
    proxyProtocol: { trusted: ["127.0.0.1/32"] },
  }, peerFactory);
  try {
    const port = server.address.port;
    const s = await proxiedTls(port, v1("TCP4", "203.0.113.30", "127.0.0.1", 54000), {
      fx,
      cred: fx.alice,
    });
    let closed = false;
    s.once("close", () => closed = true);
    let buf = "";
    s.on("data", (d: Uint8Array) => buf += new TextDecoder().decode(d));
    const body = JSON.stringify(CALL_PEER);
    for (let i = 0; i < 3; i++) {
      buf = "";
      s.write(
        `POST /mcp HTTP/1.1\r\nHost: localhost:${port}\r\nContent-Type: application/json\r\n` +
          `Accept: application/json, text/event-stream\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
      );
      await waitFor(() => buf.includes("203.0.113.30:54000") || closed);
      assert.ok(!closed, `closed after ${i} responses`);
      assert.match(buf, /^HTTP\/1\.1 200 /);
    }
    s.destroy();
    assert.equal(log.records.filter((r) => r.msg === "client admitted").length, 1);
  } finally {
    await server.close();
  }
});

Deno.test("proxyProtocol believes only the balancer's header: a second one from the client is TLS garbage", async () => {
  const { server, log } = await start();
  try {
    const port = server.address.port;
    // HAProxy writes its header, then relays whatever the client sends: here, a forged header.
    const forged = v1("TCP4", "198.51.100.66", "127.0.0.1", 6666);
    const both = Uint8Array.from([...v1("TCP4", "203.0.113.40", "127.0.0.1", 55000), ...forged]);
    assert.ok(await refused(proxiedTls(port, both, { fx, cred: fx.alice })));
    await waitFor(() => log.records.some((r) => r.fields.peer === "203.0.113.40:55000"));
    assert.ok(!JSON.stringify(log.records).includes("198.51.100.66"), JSON.stringify(log.records));
    assert.ok(!log.records.some((r) => r.msg === "client admitted"));
  } finally {
    await server.close();
  }
});

Deno.test("proxyProtocol accepts a header that arrives in pieces", async () => {
  const { server } = await start();
  try {
    const port = server.address.port;
    const header = v2({ src: "203.0.113.50", dst: "127.0.0.1", sport: 56000 });
    const raw = net.connect({ port, host: "127.0.0.1" });
    await new Promise((r) => raw.once("connect", r));
    for (const piece of [header.subarray(0, 5), header.subarray(5, 14), header.subarray(14)]) {
      await new Promise<void>((r) => raw.write(piece, () => r()));
      await new Promise((r) => setTimeout(r, 30));
    }
    const s = tls.connect({
      socket: raw,
      ca: fx.ca,
      servername: "localhost",
      cert: fx.alice.cert,
      key: fx.alice.key,
    });
    await new Promise((r, j) => (s.once("secureConnect", r), s.once("error", j)));
    s.destroy();
    // Connected: now through the helper, which checks what a tool sees.
    assert.equal(await peerSeen(port, header), "203.0.113.50:56000");
  } finally {
    await server.close();
  }
});
