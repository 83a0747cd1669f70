/**
 * What the caller gets when the upstream fails: a JSON-RPC error per
 * request it had sent, with the reason code in `error.data.reason` and the
 * underlying error in `error.data.cause`. Before any response header went
 * out: an HTTP 502 (504 for `upstream_timeout`) whose body is the error (an
 * array for a batch). On an SSE stream already under way: one `message`
 * event per request still unanswered, then the stream ends.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { ServerResponse } from "node:http";
import type { UpstreamFailure } from "./upstream_errors.ts";

/** JSON-RPC error code of an upstream failure (internal error: the caller did nothing wrong). */
export const UPSTREAM_ERROR = -32603;

function errorMessage(id: unknown, failure: UpstreamFailure): Record<string, unknown> {
  const what = failure.reason === "upstream_timeout"
    ? "The upstream MCP server did not answer in time"
    : "The upstream MCP server is unavailable";
  return {
    jsonrpc: "2.0",
    id: typeof id === "string" || typeof id === "number" ? id : null,
    error: {
      code: UPSTREAM_ERROR,
      message: `${what}: ${failure.detail}`,
      data: { reason: failure.reason, cause: failure.cause },
    },
  };
}

/**
 * Answers a request the upstream could not take: HTTP 502 or 504 with the
 * JSON-RPC error(s). `ids` are the ids of the requests in the body (none for
 * notifications, GET and DELETE: one error with id `null`).
 *
 * @example
 * ```ts ignore
 * answerFailure(res, { reason: "upstream_unavailable", cause: "ECONNREFUSED", detail: "..." }, [1]);
 * ```
 */
export function answerFailure(
  res: ServerResponse,
  failure: UpstreamFailure,
  ids: readonly unknown[],
  batch: boolean,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const errors = ids.length === 0
    ? [errorMessage(null, failure)]
    : ids.map((id) => errorMessage(id, failure));
  const body = JSON.stringify(batch && ids.length > 0 ? errors : errors[0]);
  res.writeHead(failure.reason === "upstream_timeout" ? 504 : 502, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

/**
 * SSE events answering `ids` with the failure, for a stream the upstream
 * dropped before answering them.
 *
 * @example
 * ```ts
 * import { failureEvents } from "./failure_answer.ts";
 * failureEvents([7], { reason: "upstream_unavailable", cause: "UND_ERR_SOCKET", detail: "other side closed" });
 * // 'event: message\ndata: {"jsonrpc":"2.0","id":7,"error":{...}}\n\n'
 * ```
 */
export function failureEvents(ids: Iterable<unknown>, failure: UpstreamFailure): string {
  let out = "";
  for (const id of ids) {
    out += `event: message\ndata: ${JSON.stringify(errorMessage(id, failure))}\n\n`;
  }
  return out;
}
