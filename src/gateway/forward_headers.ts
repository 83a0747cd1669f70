/**
 * Which headers cross the gateway, each way. Hop-by-hop headers (RFC 9110
 * §7.6.1, and any a `Connection` header names) belong to one connection and
 * never cross. Towards the upstream, the client's identity-bearing and
 * forwarding headers are replaced by the gateway's own; `Accept-Encoding` is
 * dropped so answers the gateway must read (list results) arrive as plain
 * JSON. Everything else the MCP transport uses (`Mcp-Session-Id`,
 * `MCP-Protocol-Version`, `Last-Event-ID`, `Accept`, `Content-Type`,
 * `Authorization`) passes unchanged.
 *
 * @module
 */

import type { IncomingHttpHeaders } from "node:http";
import { GATEWAY_HEADERS } from "./identity_headers.ts";

/**
 * Hop-by-hop header names (lower case), plus `host`, which names the hop.
 *
 * @example
 * ```ts
 * import { HOP_BY_HOP } from "./forward_headers.ts";
 * HOP_BY_HOP.includes("transfer-encoding"); // true
 * ```
 */
export const HOP_BY_HOP: readonly string[] = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
];

/** Forwarding headers a client could forge; the gateway sets its own. */
const FORWARDING = [
  "forwarded",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "x-real-ip",
  // How `serve --workers N` hands a verified caller to the worker holding its
  // session (src/workers/session_forward.ts); from a client it is a forgery.
  "x-mcp-mtls-forwarded-peer",
];

const NEVER_UP = new Set([
  ...HOP_BY_HOP,
  ...GATEWAY_HEADERS,
  ...FORWARDING,
  "content-length",
  "expect",
  "accept-encoding",
]);
const NEVER_DOWN = new Set([...HOP_BY_HOP, "content-length"]);

/** `Connection: keep-alive` (nearly every request and response) names a header dropped anyway. */
const NO_TOKENS: readonly string[] = Object.freeze([]);

/** Names listed in a `Connection` header: hop-by-hop for this message. */
function connectionTokens(value: string | string[] | undefined): readonly string[] {
  if (value === undefined || value === "keep-alive") return NO_TOKENS;
  return (Array.isArray(value) ? value.join(",") : value).split(",")
    .map((t) => t.trim().toLowerCase()).filter((t) => t !== "");
}

/**
 * The headers of the request to the upstream: the client's, less what never
 * crosses, plus the operator's `extra` headers, the caller's `identity`
 * headers and `X-Forwarded-For`/`X-Forwarded-Proto`.
 *
 * @example
 * ```ts
 * import { upstreamRequestHeaders } from "./forward_headers.ts";
 * const h = upstreamRequestHeaders(
 *   { "client-cert": ":Zm9yZ2Vk:", "mcp-session-id": "s1", connection: "keep-alive" },
 *   {},
 *   {},
 *   "192.0.2.1",
 * );
 * // { "mcp-session-id": "s1", "x-forwarded-for": "192.0.2.1", "x-forwarded-proto": "https" }
 * ```
 */
export function upstreamRequestHeaders(
  incoming: IncomingHttpHeaders,
  extra: Readonly<Record<string, string>>,
  identity: Readonly<Record<string, string>>,
  clientAddress: string,
): Record<string, string | string[]> {
  const dropped = connectionTokens(incoming.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (value === undefined || NEVER_UP.has(name) || dropped.includes(name)) continue;
    out[name] = value;
  }
  Object.assign(out, extra, identity);
  out["x-forwarded-for"] = clientAddress;
  out["x-forwarded-proto"] = "https";
  return out;
}

/**
 * The upstream's response headers as sent to the client: less hop-by-hop
 * headers and `Content-Length` (the gateway may rewrite the body; Node
 * frames it again).
 *
 * @example
 * ```ts
 * import { clientResponseHeaders } from "./forward_headers.ts";
 * clientResponseHeaders({ "content-type": "text/event-stream", "transfer-encoding": "chunked" });
 * // { "content-type": "text/event-stream" }
 * ```
 */
export function clientResponseHeaders(
  upstream: Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const dropped = connectionTokens(upstream.connection);
  const out: Record<string, string | string[]> = {};
  for (const name in upstream) {
    const value = upstream[name];
    if (value === undefined || NEVER_DOWN.has(name) || dropped.includes(name)) continue;
    out[name] = value;
  }
  return out;
}
