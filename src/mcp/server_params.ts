/**
 * Params of the methods the server reads itself, before the SDK sees them:
 * `initialize` (which opens a session) and `tools/call` (whose tool name the
 * authorization rules check). Malformed params there get a JSON-RPC
 * invalid-params error, never an exception (an HTTP 500) nor a refusal that
 * names a tool the client never named.
 *
 * The SDK's own request schemas decide, so this check accepts exactly what
 * the SDK would accept: the SDK answers invalid params with a -32603
 * "internal error" carrying a zod dump, which is the client's fault, not ours.
 *
 * @module
 */

// The SDK's types by their path without ".js": see tests/publish/types_test.ts.
// @ts-types="@modelcontextprotocol/sdk/types"
import { CallToolRequestSchema, InitializeRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { jsonRpcMessages } from "./server_http.ts";

/** What zod reports per problem, as far as the message needs it. */
interface Issue {
  path: PropertyKey[];
  message: string;
}

/** A schema as far as this check uses it. */
interface Schema {
  safeParse(value: unknown): { success: boolean; error?: { issues: Issue[] } };
}

const SCHEMAS: Record<string, Schema> = {
  initialize: InitializeRequestSchema,
  "tools/call": CallToolRequestSchema,
};

/** A malformed request: the JSON-RPC id to answer (`null` unless a string or number) and the message. */
export interface InvalidParams {
  /** The request's id when it is a string or a number, else `null`. */
  id: string | number | null;
  /** `Invalid params for "METHOD" at "PATH": WHAT`. */
  message: string;
}

/**
 * The first `initialize` or `tools/call` in `body` (one message or a batch)
 * whose params the SDK would refuse, if any.
 *
 * @example
 * ```ts
 * import { invalidParams } from "./server_params.ts";
 * const call = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: { a: 1 } } };
 * invalidParams(call)?.message;
 * // 'Invalid params for "tools/call" at "params.name": Invalid input: expected string, received object'
 * ```
 */
export function invalidParams(body: unknown): InvalidParams | undefined {
  for (const m of jsonRpcMessages(body)) {
    const method = m.method;
    if (typeof method !== "string" || !Object.hasOwn(SCHEMAS, method)) continue;
    const parsed = SCHEMAS[method].safeParse(m);
    if (parsed.success) continue;
    const issue = parsed.error?.issues[0];
    const path = issue?.path.length ? issue.path.map(String).join(".") : "params";
    const id = typeof m.id === "string" || typeof m.id === "number" ? m.id : null;
    return {
      id,
      message: `Invalid params for "${method}" at "${path}": ${issue?.message ?? "not valid"}`,
    };
  }
  return undefined;
}
