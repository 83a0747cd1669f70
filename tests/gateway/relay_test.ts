/**
 * relaySse() on a real node:http response (127.0.0.1): chunks of whole,
 * unchanged events go on as they came, and everything else (a character or
 * an event split across chunks, an event the hook replaces) comes out as the
 * same text; a stream left early once settled is read to its end, not
 * destroyed.
 */

import assert from "node:assert/strict";
import http from "node:http";
import { Readable } from "node:stream";
import { type MessageHook, type RelayEnd, relaySse } from "../../src/gateway/relay.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

/** Serves one response relaying `chunks` through relaySse; resolves to the body read by a client. */
async function relayed(
  body: () => AsyncIterable<Uint8Array>,
  hook: MessageHook,
  settled?: () => boolean,
): Promise<{ text: string; end: RelayEnd }> {
  let end: RelayEnd | undefined;
  const server = http.createServer(async (_req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    end = await relaySse(body(), res, hook, settled);
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const { port } = server.address() as { port: number };
    const r = await fetch(`http://127.0.0.1:${port}/`);
    const text = new TextDecoder().decode(await r.arrayBuffer());
    return { text, end: end! };
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

Deno.test("relaySse() passes whole events as they came and splits across chunks as one text", async () => {
  const chunks = [
    'event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n',
    ": keep-alive\r\n\r\n",
    'data: {"jsonrpc":"2.0","id":2,"result":{"t":"Zo',
  ];
  // "ë" split between two chunks, then an event replaced by the hook, then an unterminated one.
  const e = bytes("ë");
  const parts = [
    ...chunks.map(bytes),
    e.slice(0, 1),
    new Uint8Array([
      ...e.slice(1),
      ...bytes('"}}\n\ndata: {"jsonrpc":"2.0","id":3,"result":{}}\n\n'),
    ]),
    bytes('data: {"jsonrpc":"2.0","id":4,"result":{}}'),
  ];
  const seen: unknown[] = [];
  const { text, end } = await relayed(
    async function* () {
      yield* parts;
    },
    (m) => {
      seen.push(m.id);
      return m.id === 3 ? { ...m, result: { filtered: true } } : undefined;
    },
  );
  assert.deepEqual(end, { kind: "complete" });
  assert.deepEqual(seen, [1, 2, 3]);
  assert.equal(
    text,
    'event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n' +
      ": keep-alive\r\n\r\n" +
      'data: {"jsonrpc":"2.0","id":2,"result":{"t":"Zoë"}}\n\n' +
      'data: {"jsonrpc":"2.0","id":3,"result":{"filtered":true}}\n\n' +
      'data: {"jsonrpc":"2.0","id":4,"result":{}}',
  );
});

Deno.test("relaySse() settled: answers at once and reads the rest of a Node stream without destroying it", async () => {
  let answered = false;
  let release!: () => void;
  const more = new Promise<void>((resolve) => release = resolve);
  let stream!: Readable;
  let failed: unknown;
  const { text, end } = await relayed(
    () => {
      stream = Readable.from((async function* () {
        yield bytes('data: {"jsonrpc":"2.0","id":1,"result":{}}\n\n');
        await more;
        yield bytes(": after the answer\n\n");
      })());
      stream.on("error", (e) => failed = e);
      return stream;
    },
    (m) => {
      answered = m.id === 1;
      return undefined;
    },
    () => answered,
  );
  assert.deepEqual(end, { kind: "settled" });
  assert.equal(text, 'data: {"jsonrpc":"2.0","id":1,"result":{}}\n\n');
  const closed = new Promise<void>((resolve) => stream.once("close", resolve));
  release();
  await closed;
  assert.equal(failed, undefined);
  assert.equal(stream.readableEnded, true);
});
