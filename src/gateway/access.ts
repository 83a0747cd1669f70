/**
 * What one caller may see and use on an MCP server, applied to JSON-RPC
 * messages: which requests are refused before they reach the server
 * (`tools/call`, `resources/read`, `resources/subscribe`, `prompts/get`,
 * and `completion/complete` for a prompt or resource template) and what is
 * removed from list results (`tools/list`, `resources/list`,
 * `resources/templates/list`, `prompts/list`).
 *
 * Plain functions over plain messages, so the gateway and the stdio bridge
 * apply the same rules.
 *
 * @module
 */

import type { ToolPermission } from "../policy/authorization.ts";

/**
 * A caller's permissions for tools, resources and prompts.
 *
 * @example
 * ```ts
 * import type { Access } from "./access.ts";
 * const readOnly: Access = { tool: () => false, resource: () => true, prompt: () => true };
 * ```
 */
export interface Access {
  /** May call the tool of this name. */
  tool(name: string): boolean;
  /** May list, read or subscribe to the resource at this URI (or see this template). */
  resource(uri: string): boolean;
  /** May list or get the prompt of this name. */
  prompt(name: string): boolean;
}

const allow = () => true;

/**
 * The {@link Access} of a permission made by `compileAuthorization`; a
 * permission without `resource`/`prompt` (made by hand) restricts tools only.
 *
 * @example
 * ```ts
 * import { accessOf } from "./access.ts";
 * accessOf(() => false).resource("file:///a"); // true: a hand-made permission restricts tools only
 * ```
 */
export function accessOf(mayCall: ToolPermission): Access {
  return { tool: mayCall, resource: mayCall.resource ?? allow, prompt: mayCall.prompt ?? allow };
}

/** The list methods whose results are filtered, and the field holding the list. */
export const LIST_FIELDS: Readonly<Record<string, string>> = {
  "tools/list": "tools",
  "resources/list": "resources",
  "resources/templates/list": "resourceTemplates",
  "prompts/list": "prompts",
};

/**
 * A JSON-RPC message as far as access looks into it.
 *
 * @example
 * ```ts
 * import type { McpMessageLike } from "./access.ts";
 * const m: McpMessageLike = { id: 1, method: "prompts/get", params: { name: "p" } };
 * ```
 */
export interface McpMessageLike {
  /** Request id. */
  id?: unknown;
  /** Method name. */
  method?: unknown;
  /** Params. */
  params?: unknown;
}

/** A request `access` refuses: its id, and the sentence naming what was refused. */
export interface DeniedRequest {
  /** The request's id. */
  id: unknown;
  /** `Tool "x"`, `Resource "file:///a"`, `Prompt "p"`: what was refused. */
  what: string;
  /** What kind of thing was refused, and its name or URI (for `ToolPermission.scopesFor`). */
  kind?: "tool" | "resource" | "prompt";
  /** The refused name or URI, when it is a string. */
  name?: string;
}

function field(params: unknown, name: string): unknown {
  return typeof params === "object" && params !== null
    ? (params as Record<string, unknown>)[name]
    : undefined;
}

/**
 * Whether `access` refuses `message`; `undefined` when it may go on. A
 * name or URI that is not a string names nothing the rules allow, so it is
 * refused too.
 *
 * @example
 * ```ts
 * import { deniedRequest } from "./access.ts";
 * const access = { tool: () => true, resource: (u: string) => u.startsWith("file:///public/"), prompt: () => true };
 * deniedRequest({ id: 3, method: "resources/read", params: { uri: "file:///etc/passwd" } }, access);
 * // { id: 3, what: 'Resource "file:///etc/passwd"' }
 * ```
 */
export function deniedRequest(message: McpMessageLike, access: Access): DeniedRequest | undefined {
  const { id, method, params } = message;
  let kind: "tool" | "resource" | "prompt";
  let name: unknown;
  switch (method) {
    case "tools/call":
      kind = "tool";
      name = field(params, "name");
      break;
    case "resources/read":
    case "resources/subscribe":
      kind = "resource";
      name = field(params, "uri");
      break;
    case "prompts/get":
      kind = "prompt";
      name = field(params, "name");
      break;
    case "completion/complete": {
      const ref = field(params, "ref");
      const type = field(ref, "type");
      if (type === "ref/prompt") {
        kind = "prompt";
        name = field(ref, "name");
      } else if (type === "ref/resource") {
        kind = "resource";
        name = field(ref, "uri");
      } else return undefined;
      break;
    }
    default:
      return undefined;
  }
  if (typeof name === "string" && access[kind](name)) return undefined;
  const label = kind === "tool" ? "Tool" : kind === "resource" ? "Resource" : "Prompt";
  return {
    id,
    what: `${label} "${typeof name === "string" ? name : String(name)}"`,
    kind,
    name: typeof name === "string" ? name : undefined,
  };
}

/**
 * The first request of `messages` that `access` refuses.
 *
 * @example
 * ```ts
 * import { firstDenied } from "./access.ts";
 * const none = { tool: () => false, resource: () => false, prompt: () => false };
 * firstDenied([{ id: 1, method: "ping" }, { id: 2, method: "prompts/get", params: { name: "p" } }], none)?.id; // 2
 * ```
 */
export function firstDenied(
  messages: readonly McpMessageLike[],
  access: Access,
): DeniedRequest | undefined {
  for (const m of messages) {
    const denied = deniedRequest(m, access);
    if (denied) return denied;
  }
  return undefined;
}

/**
 * The result of a list request (`method`) with what `access` refuses
 * removed; the same object when nothing was.
 *
 * @example
 * ```ts
 * import { filterListResult } from "./access.ts";
 * const access = { tool: (n: string) => n !== "rm", resource: () => true, prompt: () => true };
 * filterListResult("tools/list", { tools: [{ name: "ls" }, { name: "rm" }] }, access);
 * // { tools: [{ name: "ls" }] }
 * ```
 */
export function filterListResult(
  method: string,
  result: unknown,
  access: Access,
): unknown {
  const key = LIST_FIELDS[method];
  const list = key === undefined ? undefined : field(result, key);
  if (!Array.isArray(list)) return result;
  const allowed = (item: unknown): boolean => {
    switch (method) {
      case "tools/list":
        return access.tool(String(field(item, "name")));
      case "resources/list":
        return access.resource(String(field(item, "uri")));
      case "resources/templates/list":
        return access.resource(String(field(item, "uriTemplate")));
      default:
        return access.prompt(String(field(item, "name")));
    }
  };
  const kept = list.filter(allowed);
  if (kept.length === list.length) return result;
  return { ...(result as Record<string, unknown>), [key]: kept };
}
