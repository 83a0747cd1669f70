// The per-address connection budget on every runtime (issue 10, item 3): bare
// TCP connects spend nothing, so they cannot lock an address out; handshakes
// that fail without a certificate do, so a handshake flood is still throttled.
// What a runtime lets the server observe differs (Bun's TLS socket counts only
// decrypted bytes), which is why this runs on Deno, Node.js and Bun.
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { test } from "node:test";
import { assertGoodClientServed, serverFixtures, startMcp } from "./_server_fixtures.ts";

/** Opens a TCP connection that sends nothing, and closes it. */
function bareConnect(port: number): Promise<void> {
  return new Promise((resolve) => {
    const c = net.connect(port, "127.0.0.1", () => c.destroy());
    c.on("close", () => resolve());
    c.on("error", () => resolve());
  });
}

/** A full TLS handshake without a client certificate; resolves when the server has closed it. */
function handshakeWithoutCertificate(port: number, ca: string): Promise<void> {
  return new Promise((resolve) => {
    const c = tls.connect({ port, host: "127.0.0.1", servername: "localhost", ca });
    c.on("secureConnect", () => c.write("GET /mcp HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    c.on("data", () => {});
    c.on("close", () => resolve());
    c.on("error", () => {});
  });
}

test("60 bare connects spend no budget: a good client from the same address is admitted", {
  timeout: 60_000,
}, async () => {
  const fx = await serverFixtures();
  const s = await startMcp(fx, {
    limits: { connectionsPerAddress: { limit: 5, windowMs: 60_000 } },
  });
  try {
    const { port } = s.server.address;
    for (let i = 0; i < 60; i++) await bareConnect(port);
    await assertGoodClientServed(fx, s.server.url);
    assert.equal(s.refusals().filter((l) => l.reason === "rate_limited").length, 0);
  } finally {
    await s.server.close();
  }
});

test("handshakes without a certificate spend the budget: the sixth is refused rate_limited", {
  timeout: 60_000,
}, async () => {
  const fx = await serverFixtures();
  const s = await startMcp(fx, {
    limits: { connectionsPerAddress: { limit: 5, windowMs: 60_000 } },
  });
  try {
    const { port } = s.server.address;
    for (let i = 0; i < 8; i++) await handshakeWithoutCertificate(port, fx.ca);
    const noCert = s.refusals().filter((l) => l.reason === "no_client_cert");
    assert.equal(noCert.length, 5, JSON.stringify(s.refusals()));
    const limited = await s.waitForRefusal("rate_limited");
    assert.equal(limited.level, "warn");
    assert.match(String(limited.peer), /^127\.0\.0\.1:\d+$/);
  } finally {
    await s.server.close();
  }
});
