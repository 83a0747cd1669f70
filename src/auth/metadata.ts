/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728): the document a client
 * reads to learn which authorization servers issue tokens for this MCP
 * server, and where it is served.
 *
 * @module
 */

/**
 * The well-known path prefix of RFC 9728 §3.
 *
 * @example
 * ```ts
 * import { PROTECTED_RESOURCE_METADATA_PATH } from "@mtls/mcp/auth";
 * console.log(PROTECTED_RESOURCE_METADATA_PATH); // "/.well-known/oauth-protected-resource"
 * ```
 */
export const PROTECTED_RESOURCE_METADATA_PATH = "/.well-known/oauth-protected-resource";

/**
 * The metadata document (the fields this server publishes).
 *
 * @example
 * ```ts
 * import type { ProtectedResourceMetadata } from "@mtls/mcp/auth";
 * const m: ProtectedResourceMetadata = {
 *   resource: "https://mcp.example.com/mcp",
 *   authorization_servers: ["https://as.example.com"],
 *   bearer_methods_supported: ["header"],
 *   tls_client_certificate_bound_access_tokens: true,
 * };
 * ```
 */
export interface ProtectedResourceMetadata {
  /** The resource identifier (RFC 8707), this MCP endpoint's URL. */
  resource: string;
  /** Issuer identifiers of the authorization servers. */
  authorization_servers: string[];
  /** Scopes used in authorization rules. */
  scopes_supported?: string[];
  /** Only the `Authorization` header (RFC 6750 §2.1). */
  bearer_methods_supported: ["header"];
  /** Tokens must be bound to the client certificate (RFC 8705 §3.3). */
  tls_client_certificate_bound_access_tokens: boolean;
  /** Human-readable name. */
  resource_name?: string;
}

/**
 * The metadata URL of a resource (RFC 9728 §3.1): the well-known prefix
 * inserted between the resource URL's origin and its path.
 *
 * @example
 * ```ts
 * import { protectedResourceMetadataUrl } from "@mtls/mcp/auth";
 * protectedResourceMetadataUrl("https://127.0.0.1:8443/mcp");
 * // "https://127.0.0.1:8443/.well-known/oauth-protected-resource/mcp"
 * ```
 */
export function protectedResourceMetadataUrl(resource: string): string {
  const url = new URL(resource);
  const path = url.pathname === "/" ? "" : url.pathname;
  return `${url.origin}${PROTECTED_RESOURCE_METADATA_PATH}${path}`;
}

/**
 * The request paths that serve the metadata of `resource`: the bare
 * well-known path and the path-suffixed one.
 *
 * @example
 * ```ts
 * import { protectedResourceMetadataPaths } from "@mtls/mcp/auth";
 * protectedResourceMetadataPaths("https://h/mcp");
 * // ["/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/mcp"]
 * ```
 */
export function protectedResourceMetadataPaths(resource: string): string[] {
  const suffixed = new URL(protectedResourceMetadataUrl(resource)).pathname;
  return suffixed === PROTECTED_RESOURCE_METADATA_PATH
    ? [suffixed]
    : [PROTECTED_RESOURCE_METADATA_PATH, suffixed];
}
