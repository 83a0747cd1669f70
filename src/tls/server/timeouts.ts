/**
 * The clocks of an admitted connection: idle (no request in progress), then,
 * once a request's first byte arrives, a deadline for its headers and one for
 * the whole request (headers and body). They bound *receiving* a request, never
 * the response: a long tool call or an open SSE stream is not cut.
 *
 * Why our own timers and not `node:http`'s `headersTimeout`/`requestTimeout`:
 * measured on Deno 2.9.6, those are checked only every
 * `connectionsCheckingInterval` (30 s by default), they also close an idle
 * keep-alive connection at `headersTimeout` (so an idle timeout longer than
 * the headers timeout cannot exist), and a connection is closed only by a
 * `clientError` listener, which is told `ERR_HTTP_REQUEST_TIMEOUT` again on
 * every check until it does.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { TLSSocket } from "node:tls";
import { PeerRejectedError } from "../../errors.ts";

/**
 * Settings of {@link watchConnection}.
 *
 * @example
 * ```ts ignore
 * const o: ConnectionClockOptions = {
 *   idleTimeoutMs: 30_000,
 *   headersTimeoutMs: 10_000,
 *   requestTimeoutMs: 30_000,
 *   onIdle: () => socket.destroy(),
 *   onRequestTimeout: (detail) => log.warn("connection refused", { reason: "request_timeout", detail }),
 * };
 * ```
 */
export interface ConnectionClockOptions {
  /** Close after this many ms with no request in progress. */
  idleTimeoutMs: number;
  /** A request's headers must be complete this many ms after its first byte. */
  headersTimeoutMs: number;
  /** A request (headers and body) must be complete this many ms after its first byte. */
  requestTimeoutMs: number;
  /** The connection was idle for `idleTimeoutMs`; the clock closes it after this call. */
  onIdle(): void;
  /**
   * A request was too slow to arrive (the caller logs it); the clock answers
   * 408, closes, and fails the request's body stream with a
   * `PeerRejectedError` of code `request_timeout`.
   */
  onRequestTimeout(detail: string): void;
}

/**
 * The clock of one connection.
 *
 * @example
 * ```ts ignore
 * server.on("request", (req, res) => clock.requestStarted(req, res));
 * ```
 */
export interface ConnectionClock {
  /** A request's headers have arrived: stop the headers clock, bound its body, pause the idle clock until its response closes. */
  requestStarted(req: IncomingMessage, res: ServerResponse): void;
  /**
   * Since when (`performance.now()` ms) the connection has had no request in
   * progress and no request arriving; `undefined` while it is busy.
   */
  idleSince(): number | undefined;
}

/** After a 408, how long the client has to read it and close before the socket is destroyed. */
const LINGER_MS = 1_000;

function timeoutBody(detail: string): string {
  return JSON.stringify({
    jsonrpc: "2.0",
    error: { code: -32000, message: detail, data: { reason: "request_timeout" } },
    id: null,
  });
}

/** Half-closes `s` (after what was written), and destroys it if the peer does not close in `LINGER_MS`. */
function closeGently(s: TLSSocket): void {
  // Destroying at once could reset the connection while a trickling client's bytes are
  // still arriving, and a reset may drop the 408 on the client's side.
  const timer = setTimeout(() => s.destroy(), LINGER_MS);
  s.once("close", () => clearTimeout(timer));
  s.end();
}

/**
 * Starts the clocks of admitted connection `s`. The idle clock runs from now;
 * the first byte received while idle starts the request clocks, and
 * {@link ConnectionClock.requestStarted} (the `request` event) takes over.
 * A request whose headers or body are late is answered
 * `408 Request Timeout` (a JSON-RPC error with reason `request_timeout`) if
 * its response has not started, and the connection is closed.
 *
 * @example Wiring it to a `node:http` server
 * ```ts ignore
 * import { watchConnection } from "./timeouts.ts";
 * const clock = watchConnection(tlsSocket, {
 *   idleTimeoutMs: 30_000,
 *   headersTimeoutMs: 10_000,
 *   requestTimeoutMs: 30_000,
 *   onIdle: () => {},
 *   onRequestTimeout: (detail) => console.warn(detail),
 * });
 * server.on("request", (req, res) => clock.requestStarted(req, res));
 * ```
 */
export function watchConnection(s: TLSSocket, o: ConnectionClockOptions): ConnectionClock {
  let active = 0;
  let idleFrom: number | undefined = performance.now();
  /** When the headers of the request now arriving are late; `undefined` when none is arriving. */
  let headersDue: number | undefined;
  /** When the first byte of the request now arriving came, while no request was in progress. */
  let firstByteAt: number | undefined;
  /** The last request, while its body may still be arriving (possibly after its response). */
  let unfinished: IncomingMessage | undefined;
  /** Requests whose response is open, each with the time its body is late. */
  const bodies: { req: IncomingMessage; res: ServerResponse; due: number }[] = [];
  // One timer for all three clocks, re-armed lazily: a deadline that moves later (the next
  // keep-alive request) leaves the timer as it is; when it fires, `wake` checks every clock
  // and sets it again for the earliest one still running. Setting and clearing two or three
  // timers per request cost more than the rest of this file (bench/per_call.ts).
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timerDue = Infinity;

  const schedule = (due: number) => {
    if (due >= timerDue || s.destroyed) return; // fires earlier, and wakes to look again
    clearTimeout(timer);
    timerDue = due;
    timer = setTimeout(wake, Math.max(0, due - performance.now()));
  };
  const idleDue = () =>
    active === 0 && headersDue === undefined && idleFrom !== undefined
      ? idleFrom + o.idleTimeoutMs
      : Infinity;
  function wake() {
    timer = undefined;
    timerDue = Infinity;
    if (s.destroyed) return;
    const now = performance.now();
    if (headersDue !== undefined && now >= headersDue) {
      headersDue = undefined;
      const ms = Math.min(o.headersTimeoutMs, o.requestTimeoutMs);
      return timedOut(`Request headers not received within ${ms} ms`);
    }
    let next = headersDue ?? Infinity;
    for (const b of bodies) {
      if (b.req.complete) continue;
      if (now >= b.due) {
        const detail =
          `Request body not received within ${o.requestTimeoutMs} ms of its first byte`;
        return timedOut(detail, b.req, b.res);
      }
      next = Math.min(next, b.due);
    }
    const idle = idleDue();
    if (now >= idle) {
      o.onIdle();
      s.destroy();
      return;
    }
    next = Math.min(next, idle);
    if (next !== Infinity) schedule(next);
  }

  const armIdle = () => {
    idleFrom = performance.now();
    schedule(idleFrom + o.idleTimeoutMs);
  };
  const timedOut = (detail: string, req?: IncomingMessage, res?: ServerResponse) => {
    if (s.destroyed) return;
    o.onRequestTimeout(detail);
    // The handler may still be reading the body: fail its read with the refusal, so it
    // ends (and knows the refusal is logged) instead of waiting for bytes that never come.
    const fail = () => {
      if (req && !req.complete && !req.destroyed) {
        req.destroy(new PeerRejectedError("request_timeout", detail));
      }
    };
    const body = timeoutBody(detail);
    const head = {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
      connection: "close",
    };
    if (res === undefined) {
      // No response object exists before the headers are complete: write the answer raw.
      const lines = Object.entries(head).map(([k, v]) => `${k}: ${v}\r\n`).join("");
      s.write(`HTTP/1.1 408 Request Timeout\r\n${lines}\r\n${body}`);
      closeGently(s);
    } else if (!res.headersSent) {
      // Failed once the socket is closed: destroying the request earlier would destroy the
      // socket with it, before the 408 is out.
      s.once("close", fail);
      res.writeHead(408, head).end(body, () => closeGently(s));
    } else {
      fail(); // destroys the socket too
      s.destroy();
    }
  };

  // Runs after the HTTP parser's own listener (added first), so a chunk that completes
  // a request's headers has already started that request here.
  s.on("data", () => {
    // A request answered before its body was read (a 404, a 403) may still be receiving
    // that body: those bytes are not a new request. A chunk with a body's tail and the
    // start of the next request leaves that request to the idle clock.
    const tail = unfinished !== undefined;
    if (unfinished?.complete) unfinished = undefined;
    if (active > 0 || headersDue !== undefined || tail) return;
    idleFrom = undefined;
    firstByteAt = performance.now();
    headersDue = firstByteAt + Math.min(o.headersTimeoutMs, o.requestTimeoutMs);
    schedule(headersDue);
  });
  s.once("close", () => {
    clearTimeout(timer);
    timer = undefined;
    bodies.length = 0;
  });
  armIdle();

  return {
    idleSince: () => (active === 0 && headersDue === undefined ? idleFrom : undefined),
    requestStarted(req, res) {
      idleFrom = undefined;
      headersDue = undefined;
      const start = firstByteAt ?? performance.now();
      firstByteAt = undefined;
      unfinished = req.complete ? undefined : req;
      active++;
      // `complete` turns true once the parser has the whole message, read by the handler or
      // not (measured on Deno 2.9.6), so a GET, or a body merely waiting to be read, is safe.
      const watched = { req, res, due: start + o.requestTimeoutMs };
      bodies.push(watched);
      schedule(watched.due);
      res.once("close", () => {
        const i = bodies.indexOf(watched);
        if (i >= 0) bodies.splice(i, 1);
        if (--active === 0 && !s.destroyed) armIdle();
      });
    },
  };
}
