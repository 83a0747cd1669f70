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
  try {
    for await (const chunk of body) {
      if (res.destroyed) return { kind: "client_gone" };
      const out = transform(chunk);
      if (out.length > 0 && !res.write(out)) await drained(res);
      if (settled()) {
        discardRest(body);
        return { kind: "settled" };
      }
    }
  } catch (error) {
    return res.destroyed ? { kind: "client_gone" } : { kind: "upstream_failed", error };
  }
  if (res.destroyed) return { kind: "client_gone" };
  const rest = flush();
  if (rest.length > 0) res.write(rest);
  return { kind: "complete" };
}

/**
 * Reads what is left of `body` and drops it, so that the upstream
 * connection finishes its response and goes back to the pool.
 */
function discardRest(body: AsyncIterable<Uint8Array>): void {
  (async () => {
    for await (const _ of body) { /* dropped */ }
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
  return pump(body, res, (chunk) => {
    pending += decoder.decode(chunk, { stream: true });
    let out = "";
    for (;;) {
      const m = BOUNDARY.exec(pending);
      if (!m) break;
      out += `${rewriteEvent(pending.slice(0, m.index), hook)}${m[0]}`;
      pending = pending.slice(m.index + m[0].length);
    }
    return out;
  }, () => {
    // An unterminated last event: passed on as it came.
    const rest = pending + decoder.decode();
    pending = "";
    return rest;
  }, settled);
}

/** One event's text (without its blank line), its data's messages passed through `hook`. */
function rewriteEvent(event: string, hook: MessageHook): string {
  const lines = event.split(/\r\n|\n|\r/);
  const data: string[] = [];
  for (const line of lines) {
    if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
  }
  if (data.length === 0) return event;
  const text = data.join("\n");
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
  const kept = lines.filter((l) => !l.startsWith("data:"));
  return [...kept, `data: ${JSON.stringify(result)}`].join("\n");
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
