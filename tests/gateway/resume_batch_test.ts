/**
 * The parts of Streamable HTTP the SDK client does not drive on its own,
 * run as one body twice against the same kind of SDK-built upstream: once
 * directly (plain HTTP) and once through the gateway (mutual TLS). Both runs
 * must see the same messages:
 *
 * - a JSON-RPC batch (protocol 2025-03-26, where batches are defined): two
 *   requests and a notification in one POST, answered together;
 * - resumption: the GET stream is dropped by the client after one event, an
 *   event is sent while nobody listens, and a new GET with `Last-Event-ID`
 *   gets exactly the missed event replayed (the upstream keeps events in the
 *   SDK's in-memory event store).
 */

import assert from "node:assert/strict";
import { createMtlsFetch } from "../../src/mcp/client_fetch.ts";
import { collectingLogger, makeFixtures } from "../server/_fixtures.ts";
import { messagesOf, startGateway } from "./_gateway.ts";
import { startUpstream, type Upstream } from "./_upstream.ts";

const fx = await makeFixtures();
const VERSION = "2025-03-26";

type Fetch = (url: string, init: RequestInit) => Promise<Response>;

/** One SSE event: its `id:` and the JSON-RPC messages of its `data:`. */
interface Event {
  id?: string;
  messages: Record<string, unknown>[];
}

/** Reads SSE events from a response body, one at a time. */
function sseReader(body: ReadableStream<Uint8Array>) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  return {
    async next(): Promise<Event> {
      for (;;) {
        const end = buffered.indexOf("\n\n");
        if (end >= 0) {
          const text = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const id = /^id: ?(.*)$/m.exec(text)?.[1];
          const messages = text.includes("data:") ? messagesOf(text) : [];
          // The SDK's priming event and keep-alive comments carry no message.
          if (messages.length === 0 || Object.keys(messages[0]).length === 0) continue;
          return { id, messages };
        }
        let timer: ReturnType<typeof setTimeout> | undefined;
        const { value, done } = await Promise.race([
          reader.read(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error("No SSE event within 10 s")), 10_000);
          }),
        ]).finally(() => clearTimeout(timer));
        if (done) throw new Error("The SSE stream ended before the next event");
        buffered += value;
      }
    },
    cancel: () => reader.cancel().catch(() => {}),
  };
}

/** The body both paths run; what it saw, for comparison. */
async function exercise(fetch: Fetch, url: string, upstream: Upstream) {
  const base = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
  };
  const post = async (headers: Record<string, string>, body: unknown) => {
    const r = await fetch(url, { method: "POST", headers, body: JSON.stringify(body) });
    return { status: r.status, headers: r.headers, messages: messagesOf(await r.text()) };
  };
  const init = await post(base, {
    jsonrpc: "2.0",
    id: 0,
    method: "initialize",
    params: { protocolVersion: VERSION, capabilities: {}, clientInfo: { name: "t", version: "1" } },
  });
  const session = init.headers.get("mcp-session-id");
  assert.ok(session, `initialize: HTTP ${init.status}`);
  const headers = { ...base, "mcp-session-id": session, "mcp-protocol-version": VERSION };
  await post(headers, { jsonrpc: "2.0", method: "notifications/initialized" });

  const batch = await post(headers, [
    {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "echo", arguments: { text: "a" } },
    },
    { jsonrpc: "2.0", method: "notifications/roots/list_changed" },
    {
      jsonrpc: "2.0",
      id: 2,
      method: "prompts/get",
      params: { name: "greeting", arguments: { name: "z" } },
    },
  ]);
  const out: Record<string, unknown> = {
    batchStatus: batch.status,
    batch: batch.messages.sort((a, b) => Number(a.id) - Number(b.id)),
  };

  const uri = "file:///public/readme";
  const sub = await post(headers, {
    jsonrpc: "2.0",
    id: 3,
    method: "resources/subscribe",
    params: { uri },
  });
  out.subscribed = sub.messages;

  // The GET stream: one update arrives, then the client drops the stream.
  const abort = new AbortController();
  const first = await fetch(url, {
    method: "GET",
    headers: { ...headers, accept: "text/event-stream" },
    signal: AbortSignal.any([abort.signal, AbortSignal.timeout(15_000)]),
  });
  out.getStatus = first.status;
  const events = sseReader(first.body!);
  await upstream.updated(uri);
  const seen = await events.next();
  assert.ok(seen.id, "the upstream's events carry ids (it has an event store)");
  out.seen = seen.messages;
  abort.abort();
  await events.cancel();

  // Sent while nobody listens: only the event store has it.
  await upstream.updated(uri);

  const again = await fetch(url, {
    method: "GET",
    headers: { ...headers, accept: "text/event-stream", "last-event-id": seen.id! },
    signal: AbortSignal.timeout(15_000),
  });
  out.resumeStatus = again.status;
  const replay = sseReader(again.body!);
  const missed = await replay.next();
  out.replayed = missed.messages;
  out.replayedNewId = missed.id !== undefined && missed.id !== seen.id;
  await replay.cancel();
  return out;
}

Deno.test("serveGateway() passes batches and Last-Event-ID resumption of a dropped GET stream like the upstream itself", async () => {
  const direct = await startUpstream();
  const behind = await startUpstream();
  const { gateway } = await startGateway(fx, behind.url);
  const mtls = createMtlsFetch({
    cert: fx.alice.cert,
    key: fx.alice.key,
    ca: fx.ca,
    logger: collectingLogger(),
  });
  try {
    const directly = await exercise(fetch, direct.url, direct);
    const through = await exercise(mtls, gateway.url, behind);
    assert.deepEqual(through, directly);
    // The body really saw something: spot checks of the shared results.
    assert.equal(directly.batchStatus, 200);
    assert.deepEqual((directly.batch as { id: number }[]).map((m) => m.id), [1, 2]);
    assert.match(JSON.stringify(directly.batch), /"text":"a"/);
    assert.deepEqual(directly.seen, [{
      jsonrpc: "2.0",
      method: "notifications/resources/updated",
      params: { uri: "file:///public/readme" },
    }]);
    assert.deepEqual(directly.replayed, directly.seen);
    assert.equal(directly.replayedNewId, true);
    // The upstream behind the gateway really got Last-Event-ID from it.
    assert.ok(behind.log.some((r) => r.method === "GET" && r.headers["last-event-id"]));
  } finally {
    await mtls.close();
    await gateway.close();
    await direct.close();
    await behind.close();
  }
});
