/**
 * The connection clocks share one timer that is re-armed lazily (a deadline
 * moving later leaves it alone): after keep-alive requests have pushed the
 * idle deadline out, a slow request on the same connection must still be cut
 * at its own, earlier deadline.
 */
import assert from "node:assert/strict";
import tls from "node:tls";
import { type Fixtures, makeFixtures, startServer } from "./_fixtures.ts";

const fx: Fixtures = await makeFixtures();

/** A raw TLS client presenting alice's certificate; collects what arrives until the server closes. */
async function rawTls(port: number) {
  const s = tls.connect({
    host: "127.0.0.1",
    port,
    servername: "localhost",
    ca: fx.ca,
    cert: fx.alice.cert,
    key: fx.alice.key,
  });
  let received = "";
  s.on("data", (d: Uint8Array) => received += new TextDecoder().decode(d));
  s.on("error", () => {});
  const closed = new Promise<void>((resolve) => s.once("close", () => resolve()));
  await new Promise<void>((resolve, reject) => {
    s.once("secureConnect", () => resolve());
    s.once("error", reject);
  });
  return { s, closed, received: () => received };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 15_000; // only to stop a hung test
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what}: not within 15 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits for the server to close `c` (rejects after 15 s, only to stop a hung test). */
async function closedWithin(c: Awaited<ReturnType<typeof rawTls>>): Promise<void> {
  let done = false;
  c.closed.then(() => done = true);
  await until(() => done, "close");
}

/** Sends `n` small keep-alive requests (answered 404) one after the other. */
async function keepAlive(c: Awaited<ReturnType<typeof rawTls>>, port: number, n: number) {
  for (let i = 1; i <= n; i++) {
    c.s.write(`GET /nope HTTP/1.1\r\nhost: localhost:${port}\r\n\r\n`);
    await until(() => c.received().split("HTTP/1.1 404").length - 1 === i, `answer ${i}`);
  }
}

for (const slow of ["headers", "body"] as const) {
  Deno.test(`serveMcp() answers 408 to slow ${slow} that follow keep-alive requests on the same connection`, async () => {
    const { server, log } = await startServer(fx, {
      limits: { idleTimeoutMs: 60_000, headersTimeoutMs: 400, requestTimeoutMs: 700 },
    });
    const port = server.address.port;
    const c = await rawTls(port);
    try {
      await keepAlive(c, port, 5);
      const head = `POST /mcp HTTP/1.1\r\nhost: localhost:${port}\r\n`;
      c.s.write(
        slow === "headers" ? head : `${head}content-type: application/json\r\n` +
          "accept: application/json, text/event-stream\r\ncontent-length: 100\r\n\r\n{",
      );
      await closedWithin(c);
      const detail = slow === "headers"
        ? "Request headers not received within 400 ms"
        : "Request body not received within 700 ms of its first byte";
      assert.match(c.received(), /HTTP\/1\.1 408 /);
      assert.ok(c.received().includes(`"message":"${detail}"`), c.received());
      assert.ok(
        log.records.some((e) =>
          e.fields.reason === "request_timeout" && e.fields.detail === detail
        ),
        JSON.stringify(log.records),
      );
    } finally {
      c.s.destroy();
      await server.close();
    }
  });
}

Deno.test("serveMcp() closes a connection idle for idleTimeoutMs after keep-alive requests", async () => {
  const { server } = await startServer(fx, {
    limits: { idleTimeoutMs: 600, headersTimeoutMs: 5_000, requestTimeoutMs: 5_000 },
  });
  const port = server.address.port;
  const c = await rawTls(port);
  try {
    await keepAlive(c, port, 5);
    await closedWithin(c);
    assert.doesNotMatch(c.received(), /408/);
  } finally {
    c.s.destroy();
    await server.close();
  }
});
