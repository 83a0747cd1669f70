/**
 * The `upstream` option of the gateway: where the MCP server behind it
 * listens and how the gateway reaches it. Validated once, at start, with a
 * {@link ConfigError} naming the key.
 *
 * A plain `http:` upstream must be on loopback: the gateway tells the
 * upstream who the caller is in headers and `_meta`, and the upstream can
 * only trust them when nobody else can reach it (loopback, or mutual TLS
 * between gateway and upstream).
 *
 * @module
 */

import { isIP } from "node:net";
import { CertificateError, ConfigError, MtlsError } from "../errors.ts";
import type { PemInput } from "../tls/client/options.ts";
import { GATEWAY_HEADERS } from "./identity_headers.ts";
import { HOP_BY_HOP } from "./forward_headers.ts";

/**
 * Where the upstream MCP server is and how to reach it.
 *
 * @example A local upstream over plain HTTP
 * ```ts
 * import type { UpstreamOptions } from "@mtls/mcp/gateway";
 * const upstream: UpstreamOptions = { url: "http://127.0.0.1:3000/mcp" };
 * ```
 *
 * @example A remote upstream over mutual TLS, pinned
 * ```ts
 * import type { UpstreamOptions } from "@mtls/mcp/gateway";
 * const upstream: UpstreamOptions = {
 *   url: "https://mcp.internal:8443/mcp",
 *   ca: "-----BEGIN CERTIFICATE-----\n...",
 *   cert: "-----BEGIN CERTIFICATE-----\n...",
 *   key: "-----BEGIN PRIVATE KEY-----\n...",
 *   pins: ["sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="],
 * };
 * ```
 */
export interface UpstreamOptions {
  /** The upstream's MCP endpoint: `https://…`, or `http://…` on a loopback address. */
  url: string;
  /** CA certificate(s) the upstream's certificate must chain to (PEM). `https:` only. @default {the runtime's public roots} */
  ca?: PemInput | PemInput[];
  /** Certificate the gateway presents to the upstream (PEM). `https:` only; needs `key`. @default {none} */
  cert?: PemInput;
  /** Private key of `cert` (PEM). @default {none} */
  key?: PemInput;
  /** Accepted upstream keys (`sha256/…` SPKI or `cert-sha256/…`), checked inside the handshake. `https:` only. @default {[] (no pinning)} */
  pins?: string[];
  /** Time allowed for TCP connect (and TLS handshake), in milliseconds. @default {10000} */
  connectTimeoutMs?: number;
  /**
   * Time allowed from sending a request to the upstream's response headers,
   * in milliseconds; past it the caller gets `upstream_timeout`. A streamed
   * (SSE) response is not cut once its headers have arrived. @default {30000}
   */
  requestTimeoutMs?: number;
  /** Extra headers sent on every request to the upstream (an API key, say). @default {{}} */
  headers?: Record<string, string>;
}

/** {@link UpstreamOptions} after validation. */
export interface ResolvedUpstreamOptions {
  /** The parsed URL. */
  url: URL;
  /** Whether the upstream is reached over TLS. */
  tls: boolean;
  /** As given. */
  ca?: PemInput | PemInput[];
  /** As given. */
  cert?: PemInput;
  /** As given. */
  key?: PemInput;
  /** As given. */
  pins?: string[];
  /** Connect timeout, ms. */
  connectTimeoutMs: number;
  /** Time to the response headers, ms. */
  requestTimeoutMs: number;
  /** Extra headers, lower-case names. */
  headers: Record<string, string>;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

function fail(key: string, message: string): never {
  throw new ConfigError(`Option "upstream.${key}" ${message}`, { key: `upstream.${key}` });
}

function loopback(hostname: string): boolean {
  const bare = hostname.startsWith("[") ? hostname.slice(1, -1) : hostname;
  if (bare === "localhost") return true;
  if (isIP(bare) === 4) return bare.startsWith("127.");
  return bare === "::1";
}

function positiveInt(value: unknown, key: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    fail(key, `must be a positive integer of milliseconds, got "${value}"`);
  }
  return value;
}

/**
 * Checks the `upstream` option and applies the defaults.
 *
 * @throws {ConfigError} naming `upstream.KEY`
 *
 * @example
 * ```ts
 * import { resolveUpstreamOptions } from "./upstream_options.ts";
 * resolveUpstreamOptions("http://127.0.0.1:3000/mcp").requestTimeoutMs; // 30000
 * ```
 */
export function resolveUpstreamOptions(
  options: UpstreamOptions | string,
): ResolvedUpstreamOptions {
  const o = typeof options === "string" ? { url: options } : options;
  if (!o || typeof o !== "object") {
    throw new ConfigError(`Option "upstream" must be a URL or { url, ... }, got "${o}"`, {
      key: "upstream",
    });
  }
  let url: URL;
  try {
    url = new URL(o.url);
  } catch {
    fail("url", `must be an "http:" or "https:" URL, got "${o.url}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    fail("url", `must be an "http:" or "https:" URL, got "${o.url}"`);
  }
  if (url.username || url.password) {
    fail("url", `must not hold credentials (use "upstream.headers"), got "${url.host}"`);
  }
  const tls = url.protocol === "https:";
  if (!tls && !loopback(url.hostname)) {
    fail(
      "url",
      `uses "http:" with the non-loopback host "${url.hostname}": the caller's identity would cross the network in clear text and anyone there could forge it; use "https:" (with "upstream.cert" and "upstream.key")`,
    );
  }
  if (!tls) {
    for (const key of ["ca", "cert", "key", "pins"] as const) {
      if (o[key] !== undefined) fail(key, `needs an "https:" upstream URL, got "${o.url}"`);
    }
  }
  if ((o.cert === undefined) !== (o.key === undefined)) {
    fail(
      o.cert === undefined ? "key" : "cert",
      `needs "upstream.${o.cert === undefined ? "cert" : "key"}" too`,
    );
  }
  if (o.pins !== undefined && (!Array.isArray(o.pins) || o.pins.length === 0)) {
    fail("pins", `must be a non-empty list of pins, got "${o.pins}"`);
  }
  return {
    url,
    tls,
    ca: o.ca,
    cert: o.cert,
    key: o.key,
    pins: o.pins,
    connectTimeoutMs: positiveInt(o.connectTimeoutMs, "connectTimeoutMs", 10_000),
    requestTimeoutMs: positiveInt(o.requestTimeoutMs, "requestTimeoutMs", 30_000),
    headers: extraHeaders(o.headers),
  };
}

/** Names the gateway sets or that belong to one connection: not for the operator to set. */
const RESERVED = new Set([
  ...HOP_BY_HOP,
  ...GATEWAY_HEADERS,
  "content-length",
  "content-type",
  "mcp-session-id",
  "mcp-protocol-version",
  "last-event-id",
]);

function extraHeaders(headers: unknown): Record<string, string> {
  if (headers === undefined) return {};
  if (typeof headers !== "object" || headers === null || Array.isArray(headers)) {
    fail("headers", `must be an object of header names to values, got "${headers}"`);
  }
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (!TOKEN.test(name)) fail("headers", `has "${name}", which is not a header name`);
    if (RESERVED.has(lower)) {
      fail("headers", `cannot set "${name}": the gateway sets it, or it belongs to one hop`);
    }
    if (typeof value !== "string" || /[\r\n\0]/.test(value)) {
      fail("headers", `has a value for "${name}" that is not one line of text`);
    }
    out[lower] = value;
  }
  return out;
}

/**
 * A client-TLS {@link ConfigError} or certificate error renamed to the
 * `upstream.` key it came from (the client options say `Option "cert"`).
 *
 * @example
 * ```ts ignore
 * try { resolveClientOptions(...) } catch (e) { throw underUpstream(e); }
 * ```
 */
export function underUpstream(error: unknown): unknown {
  if (!(error instanceof MtlsError)) return error;
  const message = error.message.replace(/^Option "/, 'Option "upstream.');
  if (error instanceof ConfigError) {
    return new ConfigError(message, { key: `upstream.${error.key ?? ""}`, cause: error });
  }
  if (error instanceof CertificateError) {
    return new CertificateError(
      error.code as ConstructorParameters<typeof CertificateError>[0],
      message,
      { cause: error },
    );
  }
  return error;
}
