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

/** Sends one raw GET and collects what arrives; `onData` sees the text so far after each piece. */
function rawGet(
  port: number,
  onData: (text: string) => void = () => {},
): Promise<{ text: string }> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, "127.0.0.1");
    let text = "";
    c.on("data", (d) => {
      text += d.toString();
      onData(text);
    });
    c.on("error", reject);
    c.on("end", () => resolve({ text }));
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
  // The server writes the next piece only once the client has the previous one: a write
  // held until the end would never arrive, and after 5 s (only there to stop a hang) the
  // server gives up waiting and records it as held.
  let received = "";
  const waiting = new Map<string, () => void>();
  const arrived = (marker: string) =>
    new Promise<string>((resolve) => {
      const timer = setTimeout(() => (waiting.delete(marker), resolve(`${marker}: held`)), 5000);
      const done = () => (clearTimeout(timer), resolve(`${marker}: arrived`));
      if (received.includes(marker)) done();
      else waiting.set(marker, done);
    });
  const onData = (text: string) => {
    received = text;
    for (const [marker, done] of waiting) {
      if (text.includes(marker)) (waiting.delete(marker), done());
    }
  };
  const order: string[] = [];
  await withServer((req, res) => {
    coalesceWrites(res, req.socket);
    res.writeHead(200, { "content-type": "text/event-stream" });
    res.flushHeaders();
    res.write("data: early\n\n");
    void (async () => {
      order.push(await arrived("early"));
      res.write("data: progress\n\n"); // a later turn
      order.push(await arrived("progress"));
      res.end();
    })();
  }, async (port) => {
    const r = await rawGet(port, onData);
    assert.match(r.text, /data: early\n\n[\s\S]*data: progress\n\n[\s\S]*0\r\n\r\n$/);
  });
  assert.deepEqual(
    order,
    ["early: arrived", "progress: arrived"],
    "each piece left before the next",
  );
});

Deno.test("coalesceWrites: a socket destroyed while corked does not throw", async () => {
  await withServer((req, res) => {
    coalesceWrites(res, req.socket);
    res.writeHead(200);
    res.write("x");
    req.socket.destroy();
    res.end();
  }, async (port) => {
    const r = await rawGet(port).catch((e) => ({ text: String(e) }));
    assert.ok(!/HTTP\/1\.1 200[\s\S]*0\r\n\r\n$/.test(r.text), "no complete response arrived");
  });
});
