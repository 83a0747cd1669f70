/**
 * Moving an upstream response body to the caller as it arrives, with
 * backpressure: raw (bytes as they come), or SSE event by event, where each
 * JSON-RPC message in a `data:` field can be looked at and replaced (list
 * results filtered, answered requests noted). Nothing is buffered beyond
 * the event being read. Comments (`: keep-alive`), `id:`, `event:` and
 * `retry:` lines pass unchanged.
 *
 * @module
 */

import type { ServerResponse } from "node:http";

/**
 * How a relay ended: the upstream finished the body, the upstream failed
 * mid-body (`error`), or the caller went away first.
 *
 * @example
 * ```ts
 * import type { RelayEnd } from "./relay.ts";
 * const end: RelayEnd = { kind: "upstream_failed", error: new Error("other side closed") };
 * ```
 */
export type RelayEnd =
  | { kind: "complete" }
  | { kind: "settled" }
  | { kind: "upstream_failed"; error: unknown }
  | { kind: "client_gone" };

/** Looks at one JSON-RPC message of an SSE event; returns a replacement, or `undefined` to keep it. */
export type MessageHook = (message: Record<string, unknown>) => Record<string, unknown> | undefined;

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

async function pump(
  body: AsyncIterable<Uint8Array>,
  res: ServerResponse,
  transform: (chunk: Uint8Array) => string | Uint8Array,
  flush: () => string,
  settled: () => boolean = () => false,
): Promise<RelayEnd> {
  // The iterator is driven by hand, not by `for await`: leaving a `for await` early calls
  // `return()`, and a Node stream's iterator then destroys the unfinished stream with an
  // AbortError whose stack is formatted (about a tenth of the gateway's CPU per call when
  // every POST ended "settled"). Leaving early on purpose calls `return()` explicitly.
  const it = body[Symbol.asyncIterator]();
  try {
    for (;;) {
      const next = await it.next();
      if (next.done) break;
      if (res.destroyed) return stopped(it, { kind: "client_gone" });
      const out = transform(next.value);
      if (out.length > 0 && !res.write(out)) await drained(res);
      if (settled()) {
        discardRest(it);
        return { kind: "settled" };
      }
    }
  } catch (error) {
    return stopped(
      it,
      res.destroyed ? { kind: "client_gone" } : { kind: "upstream_failed", error },
    );
  }
  if (res.destroyed) return { kind: "client_gone" };
  const rest = flush();
  if (rest.length > 0) res.write(rest);
  return { kind: "complete" };
}

/** Ends the iteration (a Node stream is destroyed: the upstream request is dropped). */
function stopped(it: AsyncIterator<Uint8Array>, end: RelayEnd): RelayEnd {
  it.return?.()?.catch(() => {/* the stream was done with anyway */});
  return end;
}

/**
 * Reads what is left of the body and drops it, so that the upstream
 * connection finishes its response and goes back to the pool.
 */
function discardRest(it: AsyncIterator<Uint8Array>): void {
  (async () => {
    while (!(await it.next()).done) { /* dropped */ }
  })().catch(() => {/* the stream was done with anyway */});
}

/**
 * Relays `body` unchanged. Does not end `res`: the caller decides what a
 * failure looks like.
 *
 * @example
 * ```ts ignore
 * const end = await relayRaw(response.body, res);
 * if (end.kind !== "client_gone") res.end();
 * ```
 */
export function relayRaw(body: AsyncIterable<Uint8Array>, res: ServerResponse): Promise<RelayEnd> {
  return pump(body, res, (chunk) => chunk, () => "");
}

const BOUNDARY = /\r\n\r\n|\n\n|\r\r/;

/**
 * Relays an SSE `body` event by event, calling `hook` with each JSON-RPC
 * message (a batch's messages one by one). Does not end `res`.
 *
 * `settled`, asked after each write, says that the caller has what it came
 * for (every request of a POST answered): the relay then ends with
 * `{ kind: "settled" }` at once, without waiting for the upstream to close
 * its stream, and the rest of the body is read and dropped. The answer and
 * the end of the response then leave in one write, not two (an upstream
 * SHOULD close a POST's stream once it has sent every response, so nothing
 * the caller needs follows).
 *
 * @example
 * ```ts ignore
 * const end = await relaySse(response.body, res, (m) => (m.id === 2 ? filtered(m) : undefined));
 * ```
 */
export function relaySse(
  body: AsyncIterable<Uint8Array>,
  res: ServerResponse,
  hook: MessageHook,
  settled?: () => boolean,
): Promise<RelayEnd> {
  const decoder = new TextDecoder();
  let pending = "";
  // The decoder holds no bytes and no event is half read: true before the first chunk, and
  // after a chunk that ended on a line break with nothing pending.
  let clean = true;
  return pump(body, res, (chunk) => {
    // A chunk of whole events none of which changed goes on as it came (no string to encode).
    // A client decoding it (WHATWG UTF-8, as the gateway's decoder) reads what the gateway read.
    const whole = clean;
    pending += decoder.decode(chunk, { stream: true });
    let out = "";
    let same = true;
    for (;;) {
      const m = BOUNDARY.exec(pending);
      if (!m) break;
      const event = pending.slice(0, m.index);
      const rewritten = rewriteEvent(event, hook);
      if (rewritten !== event) same = false;
      out += `${rewritten}${m[0]}`;
      pending = pending.slice(m.index + m[0].length);
    }
    const last = chunk[chunk.length - 1];
    clean = pending === "" && (last === 0x0a || last === 0x0d);
    return whole && same && clean ? chunk : out;
  }, () => {
    // An unterminated last event: passed on as it came.
    const rest = pending + decoder.decode();
    pending = "";
    return rest;
  }, settled);
}

/** One event's text (without its blank line), its data's messages passed through `hook`. */
function rewriteEvent(event: string, hook: MessageHook): string {
  const text = dataOf(event);
  if (text === undefined) return event;
  const first = text.trimStart()[0];
  if (first !== "{" && first !== "[") return event;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return event;
  }
  let changed = false;
  const look = (m: unknown): unknown => {
    if (typeof m !== "object" || m === null || Array.isArray(m)) return m;
    const replaced = hook(m as Record<string, unknown>);
    if (replaced === undefined) return m;
    changed = true;
    return replaced;
  };
  const result = Array.isArray(parsed) ? parsed.map(look) : look(parsed);
  if (!changed) return event;
  const kept = event.split(/\r\n|\n|\r/).filter((l) => !l.startsWith("data:"));
  return [...kept, `data: ${JSON.stringify(result)}`].join("\n");
}

const LINE_END = /\r\n|\n|\r/g;

/**
 * The event's data: its `data:` lines' values joined by "\n", or `undefined`
 * when it has none. Reads the lines in place (an event is usually one
 * `event:` and one `data:` line): no array of lines per event.
 */
function dataOf(event: string): string | undefined {
  let data: string | undefined;
  let at = 0;
  for (;;) {
    LINE_END.lastIndex = at;
    const m = LINE_END.exec(event);
    const end = m ? m.index : event.length;
    if (event.startsWith("data:", at)) {
      const value = event.slice(at + (event.startsWith("data: ", at) ? 6 : 5), end);
      data = data === undefined ? value : `${data}\n${value}`;
    }
    if (!m) return data;
    at = end + m[0].length;
  }
}

/**
 * The whole of `body` as text, or `undefined` past `limit` bytes (the rest
 * is discarded). For answers the gateway must read whole: a JSON list
 * result to filter, the start of a 5xx body for the log.
 *
 * @example
 * ```ts ignore
 * const text = await readAll(response.body, 16 * 1024 * 1024);
 * ```
 */
export async function readAll(
  body: AsyncIterable<Uint8Array>,
  limit: number,
): Promise<string | undefined> {
  const decoder = new TextDecoder();
  let text = "";
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) {
      (body as { destroy?: () => void }).destroy?.();
      return undefined;
    }
    text += decoder.decode(chunk, { stream: true });
  }
  return text + decoder.decode();
}
