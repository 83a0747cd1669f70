/**
 * Small HTTP helpers of the MCP server: bounded body reading and JSON-RPC
 * error responses carrying a reason code.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import type { IncomingMessage, ServerResponse } from "node:http";

/**
 * Sends a JSON-RPC error response. `reason`, when given, goes to `error.data.reason`.
 *
 * @example
 * ```ts ignore
 * sendJsonRpcError(res, 403, -32001, "Tool not allowed", { reason: "identity_denied" });
 * ```
 */
export function sendJsonRpcError(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  extra: { reason?: string; id?: unknown; close?: boolean } = {},
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const body = JSON.stringify({
    jsonrpc: "2.0",
    error: { code, message, ...(extra.reason ? { data: { reason: extra.reason } } : {}) },
    // Only a JSON-RPC id (string or number) is echoed: anything else the client sent is not one.
    id: typeof extra.id === "string" || typeof extra.id === "number" ? extra.id : null,
  });
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    ...(extra.close ? { connection: "close" } : {}),
  });
  res.end(body);
}

/**
 * Reads the request body, or resolves `undefined` as soon as it exceeds `limit` bytes.
 *
 * @example
 * ```ts ignore
 * const body = await readBody(req, 1_048_576);
 * ```
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Uint8Array | undefined> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    let done = false;
    req.on("data", (chunk: Uint8Array) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        resolve(undefined);
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => {
      if (done) return;
      done = true;
      resolve(Buffer.concat(chunks));
    });
    req.on("error", (e) => {
      if (!done) reject(e);
      done = true;
    });
  });
}

/** A JSON-RPC message as far as the server looks into it. */
export interface JsonRpcLike {
  method?: unknown;
  id?: unknown;
  params?: { name?: unknown } & Record<string, unknown>;
}

/**
 * The messages of a parsed body (a single message or a batch).
 *
 * @example
 * ```ts
 * import { jsonRpcMessages } from "./server_http.ts";
 * jsonRpcMessages([{ method: "ping" }]).length; // 1
 * ```
 */
export function jsonRpcMessages(body: unknown): JsonRpcLike[] {
  const list = Array.isArray(body) ? body : [body];
  return list.filter((m): m is JsonRpcLike => typeof m === "object" && m !== null);
}
