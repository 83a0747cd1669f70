/**
 * How a stdio MCP server behind `serve -- COMMAND` learns who is calling.
 *
 * The bridge hands the caller's verified certificate identity to the child in
 * two ways, so a child can use whichever suits it:
 *
 * 1. **Environment** (one child per session only): the child is spawned for one
 *    client, so its environment names that client:
 *    `MCP_MTLS_PEER_IDENTITY` (the whole {@link PeerIdentity} as JSON),
 *    `MCP_MTLS_PEER_SPIFFE_ID`, `MCP_MTLS_PEER_CN`,
 *    `MCP_MTLS_PEER_FINGERPRINT` (SHA-256 of the certificate, hex) and
 *    `MCP_MTLS_PEER_LABEL` (the SPIFFE ID, else `cn:NAME`, else
 *    `sha256:FINGERPRINT`). A variable is absent when the certificate has no
 *    such field; all are absent for an anonymous client.
 * 2. **`_meta` on every request** the bridge forwards:
 *    `params._meta["io.github.mcp-mtls/identity"]` holds the same JSON
 *    object. SDK tool handlers read it as
 *    `extra._meta?.["io.github.mcp-mtls/identity"]`. The bridge first deletes
 *    any value a client put under that key (in requests and notifications,
 *    and in `result._meta` or `error.data` of its responses to the child's
 *    own requests), so the child can trust it.
 *
 * Both carry the {@link PeerIdentity} admission computed, the same value the
 * authorization rules, pins and logs use: names are never read from the
 * certificate a second way here, and a certificate with several CNs or
 * several URI SANs beside a SPIFFE ID never gets this far (it is refused at
 * admission with `ambiguous_identity`), so `MCP_MTLS_PEER_CN` and
 * `MCP_MTLS_PEER_SPIFFE_ID` are never one of two names.
 *
 * @module
 */
import { identityLabel, type PeerIdentity } from "../policy/identity.ts";

/**
 * The `_meta` key under which forwarded requests carry the caller's identity.
 *
 * @example Reading it in an SDK tool handler
 * ```ts
 * import { IDENTITY_META_KEY } from "./bridge_identity.ts";
 * const handler = (_args: unknown, extra: { _meta?: Record<string, unknown> }) =>
 *   extra._meta?.[IDENTITY_META_KEY];
 * ```
 */
export const IDENTITY_META_KEY = "io.github.mcp-mtls/identity";

/**
 * Environment variables describing `identity` for a child spawned for it.
 *
 * @example
 * ```ts
 * import { identityEnv } from "./bridge_identity.ts";
 * identityEnv(undefined); // {} for an anonymous client
 * ```
 */
export function identityEnv(identity: PeerIdentity | undefined): Record<string, string> {
  if (!identity) return {};
  const env: Record<string, string> = {
    MCP_MTLS_PEER_IDENTITY: JSON.stringify(identity),
    MCP_MTLS_PEER_FINGERPRINT: identity.fingerprint,
    MCP_MTLS_PEER_LABEL: identityLabel(identity),
  };
  if (identity.spiffeId) env.MCP_MTLS_PEER_SPIFFE_ID = identity.spiffeId;
  if (identity.commonName) env.MCP_MTLS_PEER_CN = identity.commonName;
  return env;
}

/** A JSON-RPC message as the bridge looks into it. */
export interface BridgeMessage {
  jsonrpc: "2.0";
  id?: string | number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: unknown };
}

/**
 * A copy of a client message with our `_meta` key removed and, for a request
 * (`id` and `method`), set to `identity`. In a response (to a request of the
 * child's) the key is removed from `result._meta`, and from `error.data` and
 * `error.data._meta`, so a client cannot pass a forged identity that way either.
 *
 * @example
 * ```ts
 * import { withIdentityMeta } from "./bridge_identity.ts";
 * const forged = { jsonrpc: "2.0" as const, method: "notifications/x", params: { _meta: { "io.github.mcp-mtls/identity": "root" } } };
 * withIdentityMeta(forged, undefined).params?._meta; // {}
 * ```
 */
export function withIdentityMeta(
  message: BridgeMessage,
  identity: PeerIdentity | undefined,
): BridgeMessage {
  if (message.method === undefined) return responseWithoutIdentity(message);
  const isRequest = message.id !== undefined;
  const params = message.params;
  const meta = params?._meta;
  if (!holdsKey(meta) && !(isRequest && identity)) return message;
  const cleanMeta = withoutKey(meta);
  if (isRequest && identity) cleanMeta[IDENTITY_META_KEY] = identity;
  return { ...message, params: { ...params, _meta: cleanMeta } };
}

/** A response with our key gone from `result._meta`, `error.data` and `error.data._meta`. */
function responseWithoutIdentity(message: BridgeMessage): BridgeMessage {
  let out = message;
  const meta = message.result?._meta;
  if (holdsKey(meta)) out = { ...out, result: { ...out.result, _meta: withoutKey(meta) } };
  const data = message.error?.data;
  if (isObject(data) && (holdsKey(data) || holdsKey(data._meta))) {
    const clean = withoutKey(data);
    if (holdsKey(data._meta)) clean._meta = withoutKey(data._meta);
    out = { ...out, error: { ...message.error!, data: clean } };
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function holdsKey(value: unknown): boolean {
  return isObject(value) && IDENTITY_META_KEY in value;
}

function withoutKey(value: unknown): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown> | undefined) };
  delete copy[IDENTITY_META_KEY];
  return copy;
}
