import assert from "node:assert/strict";
import { makeFixtures, startServer } from "./_fixtures.ts";

const fx = await makeFixtures();

/** Reads from `conn` until a full HTTP response head and a JSON body arrive, or the peer closes. */
async function readResponse(conn: Deno.TlsConn): Promise<string | null> {
  const buf = new Uint8Array(16384);
  let text = "";
  for (;;) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) return text || null;
    text += new TextDecoder().decode(buf.subarray(0, n));
    if (/\r\n\r\n[\s\S]*\}\s*$/.test(text) || /\r\n0\r\n\r\n$/.test(text)) return text;
  }
}

/** A POST without a session; Host names the port, as every HTTP client sends it (DNS-rebinding check). */
const request = (port: number) =>
  new TextEncoder().encode(
    `POST /mcp HTTP/1.1\r\nhost: localhost:${port}\r\ncontent-type: application/json\r\n` +
      "accept: application/json, text/event-stream\r\ncontent-length: 2\r\n\r\n{}",
  );

Deno.test("server keeps an idle keep-alive connection open for idleTimeoutMs, not Deno's 5 s default, then closes it", async () => {
  const { server, log } = await startServer(fx, { limits: { idleTimeoutMs: 8000 } });
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: server.address.port,
    caCerts: [fx.ca],
    cert: fx.alice.cert,
    key: fx.alice.key,
  });
  try {
    await conn.write(request(server.address.port));
    const first = await readResponse(conn);
    assert.match(first ?? "", /^HTTP\/1\.1 400/, "a POST without a session is answered (400)");
    assert.match(first ?? "", /keep-alive: timeout=8/i, "the advertised idle timeout is ours");
    await new Promise((r) => setTimeout(r, 6500));
    await conn.write(request(server.address.port));
    const second = await readResponse(conn);
    assert.match(
      second ?? "(closed)",
      /^HTTP\/1\.1 400/,
      "same connection still open after 6.5 s idle",
    );
    const n = await conn.read(new Uint8Array(64)).catch(() => null);
    assert.equal(n, null, "closed once idle");
    // Closed for being idle, with our timeout: nothing else closed it.
    const peer = `127.0.0.1:${(conn.localAddr as Deno.NetAddr).port}`;
    const closes = log.records.filter((r) => r.fields.peer === peer && r.msg.includes("closed"));
    assert.deepEqual(closes.map((r) => [r.msg, r.fields.idleMs]), [[
      "idle connection closed",
      8000,
    ]]);
  } finally {
    conn.close();
    await server.close();
  }
});
