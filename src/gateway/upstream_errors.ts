/**
 * Why a request to the upstream failed, as the caller is told: one of two
 * reason codes (`upstream_timeout` when the upstream was too slow,
 * `upstream_unavailable` for everything else: refused, unreachable, TLS
 * refusal, reset, 5xx, a stream dropped before its answer) and a `cause`
 * naming the underlying error code (`ECONNREFUSED`, `pin_mismatch`,
 * `UND_ERR_HEADERS_TIMEOUT`, `http_503`, ...).
 *
 * @module
 */

import { MtlsError } from "../errors.ts";

/**
 * A failed upstream request, classified.
 *
 * @example
 * ```ts
 * import type { UpstreamFailure } from "./upstream_errors.ts";
 * const f: UpstreamFailure = { reason: "upstream_unavailable", cause: "ECONNREFUSED", detail: "connection refused" };
 * ```
 */
export interface UpstreamFailure {
  /** The reason code the caller gets. */
  reason: "upstream_unavailable" | "upstream_timeout";
  /** The underlying error code. */
  cause: string;
  /** What happened, for the message and the log. */
  detail: string;
}

const TIMEOUTS = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_CONNECT_TIMEOUT", "ETIMEDOUT"]);

/**
 * Classifies an error thrown by the upstream client.
 *
 * @example
 * ```ts
 * import { classifyUpstreamError } from "./upstream_errors.ts";
 * const e = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
 * classifyUpstreamError(e).reason; // "upstream_unavailable"
 * ```
 */
export function classifyUpstreamError(error: unknown): UpstreamFailure {
  // undici wraps some socket errors; the connector's own (pins, chain) come as they are.
  const inner = error instanceof MtlsError
    ? error
    : (error as { cause?: unknown })?.cause instanceof MtlsError
    ? (error as { cause: MtlsError }).cause
    : error;
  const code = String((inner as { code?: unknown })?.code ?? "unknown");
  const message = inner instanceof Error ? inner.message : String(inner);
  const timedOut = TIMEOUTS.has(code) ||
    (inner instanceof MtlsError && /within \d+ ms/.test(message));
  return {
    reason: timedOut ? "upstream_timeout" : "upstream_unavailable",
    cause: code,
    detail: message,
  };
}

/**
 * An upstream answer with a 5xx status, classified.
 *
 * @example
 * ```ts
 * import { serverErrorFailure } from "./upstream_errors.ts";
 * serverErrorFailure(503, "").cause; // "http_503"
 * ```
 */
export function serverErrorFailure(status: number, text: string): UpstreamFailure {
  const snippet = text.length > 200 ? `${text.slice(0, 200)}…` : text;
  return {
    reason: status === 504 ? "upstream_timeout" : "upstream_unavailable",
    cause: `http_${status}`,
    detail: `The upstream answered HTTP ${status}${snippet ? `: ${snippet}` : ""}`,
  };
}
