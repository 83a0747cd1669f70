import assert from "node:assert/strict";
import http from "node:http";
import net from "node:net";
import type { AddressInfo } from "node:net";
import { coalesceWrites } from "../../src/tls/server/coalesce_writes.ts";

/** Counts the writes that reach a real socket's handle (a writev of several chunks counts once). */
function countHandleWrites(socket: net.Socket): () => number {
  let n = 0;
  const s = socket as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const name of ["_write", "_writev"]) {
    const orig = s[name];
    s[name] = function (this: unknown, ...a: unknown[]) {
      n++;
      return orig.apply(this, a);
    };
  }
  return () => n;
}

async function withServer(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  run: (port: number) => Promise<void>,
) {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    await run((server.address() as AddressInfo).port);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

/** Sends one raw GET and collects what arrives, with the time (ms from sending) of each piece. */
function rawGet(port: number): Promise<{ text: string; pieces: { at: number; text: string }[] }> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, "127.0.0.1");
    const t0 = performance.now();
    const pieces: { at: number; text: string }[] = [];
    c.on("data", (d) => pieces.push({ at: performance.now() - t0, text: d.toString() }));
    c.on("error", reject);
    c.on("end", () => resolve({ text: pieces.map((p) => p.text).join(""), pieces }));
    c.write("GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
  });
}

Deno.test("coalesceWrites: headers, chunks and the end written in one turn leave in one socket write", async () => {
  let writes: (() => number) | undefined;
  const handler = (coalesce: boolean) => (req: http.IncomingMessage, res: http.ServerResponse) => {
    writes = countHandleWrites(req.socket);
    if (coalesce) coalesceWrites(res, req.socket);
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.flushHeaders();
    // As the SDK's stream arrives: each piece in a later microtask of the same turn.
    void Promise.resolve()
      .then(() => res.write("event: message\ndata: 1\n\n"))
      .then(() => res.end());
  };
  for (const coalesce of [false, true]) {
    await withServer(handler(coalesce), async (port) => {
      const r = await rawGet(port);
      assert.match(r.text, /^HTTP\/1\.1 200/);
      assert.match(r.text, /data: 1/);
      assert.match(r.text, /0\r\n\r\n$/, "the chunked end arrived");
      if (coalesce) assert.equal(writes!(), 1, "one write with coalescing");
      else assert.ok(writes!() >= 2, `without coalescing: ${writes!()} writes`);
    });
  }
});

Deno.test("coalesceWrites: a write in a later turn is sent at once, not held until the end", async () => {
  await withServer((req, res) => {
    coalesceWrites(res, req.socket);
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.flushHeaders();
    res.write("data: early\n\n");
    setTimeout(() => res.write("data: progress\n\n"), 300);
    setTimeout(() => res.end(), 600);
  }, async (port) => {
    const r = await rawGet(port);
    const arrival = (s: string) => r.pieces.find((p) => p.text.includes(s))?.at ?? Infinity;
    assert.ok(arrival("early") < 250, `early chunk at ${arrival("early")} ms`);
    assert.ok(
      arrival("progress") < 550,
      `progress chunk at ${arrival("progress")} ms, before the end at 600`,
    );
    assert.match(r.text, /0\r\n\r\n$/);
  });
});

Deno.test("coalesceWrites: a socket destroyed while corked does not throw", async () => {
  await withServer((req, res) => {
    coalesceWrites(res, req.socket);
    res.writeHead(200);
    res.write("x");
    req.socket.destroy();
    res.end();
  }, async (port) => {
    const r = await rawGet(port).catch((e) => ({ text: String(e), pieces: [] }));
    assert.ok(!/HTTP\/1\.1 200[\s\S]*0\r\n\r\n$/.test(r.text), "no complete response arrived");
  });
});
