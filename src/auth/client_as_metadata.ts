/**
 * Authorization server metadata (RFC 8414) as the client needs it: where
 * the token endpoint is, preferring its mutual-TLS alias (RFC 8705 §5).
 *
 * @module
 */
import { MtlsError } from "../errors.ts";

/**
 * A `fetch` the client uses to reach the authorization server; in practice
 * an mTLS fetch (`createMtlsFetch`), so `tls_client_auth` can work.
 *
 * @example
 * ```ts
 * import type { FetchLike } from "@mtls/mcp/auth";
 * const f: FetchLike = (input, init) => fetch(input, init);
 * ```
 */
export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

/**
 * The fields of an authorization server's metadata the client reads.
 *
 * @example
 * ```ts
 * import type { AuthorizationServerMetadata } from "@mtls/mcp/auth";
 * const m: AuthorizationServerMetadata = {
 *   issuer: "https://as.example.org",
 *   token_endpoint: "https://as.example.org/token",
 *   mtls_endpoint_aliases: { token_endpoint: "https://mtls.as.example.org/token" },
 * };
 * ```
 */
export interface AuthorizationServerMetadata {
  /** The issuer identifier; must equal the one the metadata was fetched for. */
  issuer: string;
  /** The token endpoint (RFC 6749 §3.2). */
  token_endpoint?: string;
  /** Endpoints that ask for a client certificate (RFC 8705 §5); preferred for the token request. */
  mtls_endpoint_aliases?: { token_endpoint?: string; [name: string]: unknown };
  /** Client authentication methods it accepts (`tls_client_auth` for us). */
  token_endpoint_auth_methods_supported?: string[];
  /** Whether it issues certificate-bound access tokens (RFC 8705 §3.3). */
  tls_client_certificate_bound_access_tokens?: boolean;
  /** Any other metadata field. */
  [name: string]: unknown;
}

/**
 * The well-known URLs to try for `issuer`, in order: RFC 8414 §3.1 (path
 * inserted after the host), then OpenID Connect Discovery (path appended).
 *
 * @param issuer the issuer identifier
 * @returns the URLs
 *
 * @example
 * ```ts
 * import { metadataUrls } from "@mtls/mcp/auth";
 * console.log(metadataUrls("https://as.example.org/tenant"));
 * // ["https://as.example.org/.well-known/oauth-authorization-server/tenant",
 * //  "https://as.example.org/tenant/.well-known/openid-configuration"]
 * ```
 */
export function metadataUrls(issuer: string): string[] {
  const u = new URL(issuer);
  const path = u.pathname === "/" ? "" : u.pathname.replace(/\/$/, "");
  return [
    `${u.origin}/.well-known/oauth-authorization-server${path}`,
    `${u.origin}${path}/.well-known/openid-configuration`,
  ];
}

/**
 * Fetches the metadata of `issuer` and checks that it names itself
 * `issuer` (RFC 8414 §3.3: a document for another issuer is an attack, not
 * a fallback). Rejects with `token_request_failed`.
 *
 * @param issuer the issuer identifier (https URL)
 * @param fetch how to reach it
 * @param signal aborts the requests
 * @returns the metadata
 *
 * @example
 * ```ts ignore
 * import { createMtlsFetch } from "@mtls/mcp/mcp";
 * import { discoverAuthorizationServer } from "@mtls/mcp/auth";
 * const m = await discoverAuthorizationServer("https://127.0.0.1:9443", createMtlsFetch({ cert, key, ca }));
 * console.log(m.mtls_endpoint_aliases?.token_endpoint ?? m.token_endpoint);
 * ```
 */
export async function discoverAuthorizationServer(
  issuer: string,
  fetch: FetchLike,
  signal?: AbortSignal,
): Promise<AuthorizationServerMetadata> {
  const tried: string[] = [];
  for (const url of metadataUrls(issuer)) {
    let response: Response;
    try {
      response = await fetch(url, { headers: { accept: "application/json" }, signal });
    } catch (cause) {
      throw new MtlsError(
        "token_request_failed",
        `Cannot read the metadata of authorization server "${issuer}" at "${url}": ${
          (cause as Error).message
        }`,
        { cause },
      );
    }
    if (response.status === 404) {
      await response.body?.cancel();
      tried.push(`${url} (HTTP 404)`);
      continue;
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new MtlsError(
        "token_request_failed",
        `Cannot read the metadata of authorization server "${issuer}": HTTP ${response.status} from "${url}"`,
      );
    }
    let metadata: AuthorizationServerMetadata;
    try {
      metadata = await response.json();
    } catch (cause) {
      throw new MtlsError(
        "token_request_failed",
        `Metadata of authorization server "${issuer}" at "${url}" is not JSON`,
        { cause },
      );
    }
    if (metadata?.issuer !== issuer) {
      throw new MtlsError(
        "token_request_failed",
        `Metadata at "${url}" names issuer "${metadata?.issuer}", expected "${issuer}" (RFC 8414 §3.3)`,
      );
    }
    return metadata;
  }
  throw new MtlsError(
    "token_request_failed",
    `Authorization server "${issuer}" publishes no metadata: tried ${tried.join(", ")}`,
  );
}

/**
 * The token endpoint to use with a client certificate: the RFC 8705 §5
 * `mtls_endpoint_aliases.token_endpoint` when present, else `token_endpoint`.
 *
 * @param metadata the authorization server metadata
 * @returns the https URL
 *
 * @example
 * ```ts
 * import { mtlsTokenEndpoint } from "@mtls/mcp/auth";
 * console.log(mtlsTokenEndpoint({ issuer: "https://a", token_endpoint: "https://a/token" }));
 * ```
 */
export function mtlsTokenEndpoint(metadata: AuthorizationServerMetadata): string {
  const endpoint = metadata.mtls_endpoint_aliases?.token_endpoint ?? metadata.token_endpoint;
  if (typeof endpoint !== "string" || !endpoint.startsWith("https://")) {
    throw new MtlsError(
      "token_request_failed",
      `Authorization server "${metadata.issuer}" has no https token endpoint (got "${endpoint}")`,
    );
  }
  return endpoint;
}
