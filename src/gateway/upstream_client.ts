/**
 * The gateway's connections to its upstream: one undici `Pool` of kept-alive
 * HTTP/1.1 connections to the upstream's origin. Over `https:` the
 * connections are opened by the mTLS client's connector
 * (`../tls/client/connector.ts`): the upstream's chain, host name, EKU and
 * pins are checked inside the handshake, so an upstream that fails them never
 * receives a byte of a caller's request, and the gateway can present its own
 * certificate.
 *
 * undici's `request` (not `fetch`): no WHATWG streams on the hot path, and
 * the body comes as a Node stream that is piped to the caller as it arrives.
 *
 * @module
 */

import { EventEmitter } from "node:events";
// undici's own declarations need @types/node in Deno: undici_types.d.ts says why.
// By file, not by name: Bun answers a bare "undici" with a stub of its own whose
// Pool cannot request or be destroyed (Bun 1.4.4); the file is the real undici everywhere.
// @ts-types="../tls/client/undici_types.d.ts"
import { type Dispatcher, Pool } from "undici/index.js";
import type { Logger } from "../log/logger.ts";
import { createTlsConnector } from "../tls/client/connector.ts";
import { resolveClientOptions } from "../tls/client/options.ts";
import { type ResolvedUpstreamOptions, underUpstream } from "./upstream_options.ts";

/**
 * Aborts one upstream request: an EventEmitter that emits `abort`, which
 * undici takes in place of an `AbortSignal`. Built per request, it costs
 * less than an `AbortController` (whose signal is an EventTarget; on Node.js
 * building one was about 3 % of the gateway's CPU per call).
 *
 * @example
 * ```ts
 * import { UpstreamAbort } from "./upstream_client.ts";
 * const abort = new UpstreamAbort();
 * abort.abort();
 * abort.aborted; // true
 * ```
 */
export class UpstreamAbort extends EventEmitter {
  /** Whether {@link UpstreamAbort.abort} was called. */
  aborted = false;
  /** Aborts the request (once). */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.emit("abort");
  }
}

/**
 * One request to the upstream's MCP endpoint.
 *
 * @example
 * ```ts
 * import type { UpstreamRequest } from "./upstream_client.ts";
 * const r: UpstreamRequest = { method: "DELETE", headers: { "mcp-session-id": "s1" } };
 * ```
 */
export interface UpstreamRequest {
  /** HTTP method. */
  method: "GET" | "POST" | "DELETE";
  /** Request headers, lower-case names. */
  headers: Record<string, string | string[]>;
  /** The body (POST). */
  body?: string;
  /** Aborts the request (the caller went away). */
  signal?: AbortSignal | UpstreamAbort;
  /** Time to the response headers, ms. @default {the upstream's requestTimeoutMs} */
  headersTimeoutMs?: number;
}

/**
 * The pool of connections to the upstream.
 *
 * @example
 * ```ts ignore
 * const upstream = createUpstreamClient(resolveUpstreamOptions("http://127.0.0.1:3000/mcp"), logger);
 * const response = await upstream.request({ method: "GET", headers: { accept: "text/event-stream" } });
 * ```
 */
export interface UpstreamClient {
  /** The upstream endpoint, for logs. */
  readonly url: string;
  /** Sends one request; rejects when no response headers came (see `upstream_errors.ts`). */
  request(r: UpstreamRequest): Promise<Dispatcher.ResponseData>;
  /** Closes every connection (requests in flight are aborted). */
  close(): Promise<void>;
}

/**
 * Opens the pool (no connection is made before the first request).
 *
 * @throws {ConfigError} or `CertificateError` for unusable `ca`, `cert`, `key` or `pins`
 *
 * @example
 * ```ts ignore
 * const upstream = createUpstreamClient(resolved, logger);
 * await upstream.close();
 * ```
 */
export function createUpstreamClient(o: ResolvedUpstreamOptions, logger: Logger): UpstreamClient {
  const { url } = o;
  const path = `${url.pathname}${url.search}`;
  let connect: Pool.Options["connect"] = { timeout: o.connectTimeoutMs };
  if (o.tls) {
    let client;
    try {
      client = resolveClientOptions({
        ca: o.ca,
        cert: o.cert,
        key: o.key,
        pins: o.pins,
        connectTimeout: o.connectTimeoutMs,
        logger,
      });
    } catch (e) {
      throw underUpstream(e);
    }
    connect = createTlsConnector(client).connect;
  }
  const pool = new Pool(url.origin, {
    connect,
    keepAliveTimeout: 4_000,
    headersTimeout: o.requestTimeoutMs,
    // An SSE stream may stay silent for long: only the headers are timed.
    bodyTimeout: 0,
    allowH2: false,
  });
  return {
    url: url.href,
    request(r) {
      return pool.request({
        path,
        method: r.method,
        headers: r.headers,
        body: r.body,
        signal: r.signal,
        headersTimeout: r.headersTimeoutMs ?? o.requestTimeoutMs,
        bodyTimeout: 0,
      });
    },
    async close() {
      await pool.destroy();
    },
  };
}
