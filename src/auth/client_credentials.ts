/**
 * `clientCredentialsToken`: access tokens from the OAuth 2.0
 * `client_credentials` grant, the client authenticated by its TLS
 * certificate (`tls_client_auth`, RFC 8705 §2), so the authorization server
 * can bind each token to that certificate (RFC 8705 §3).
 *
 * @module
 */
import { ConfigError, MtlsError } from "../errors.ts";
import {
  type AuthorizationServerMetadata,
  discoverAuthorizationServer,
  type FetchLike,
  mtlsTokenEndpoint,
} from "./client_as_metadata.ts";
import { checkBearerToken, type TokenSource } from "./token_source.ts";

/**
 * Where and how to ask for tokens.
 *
 * @example
 * ```ts
 * import type { ClientCredentialsOptions } from "@mtls/mcp/auth";
 * const o: ClientCredentialsOptions = {
 *   issuer: "https://127.0.0.1:9443",
 *   clientId: "agent-1",
 *   resource: "https://127.0.0.1:8443/mcp",
 *   scope: ["mcp:tools"],
 * };
 * ```
 */
export interface ClientCredentialsOptions {
  /** Issuer identifier of the authorization server (https URL); its metadata is read from it. */
  issuer: string;
  /** Our `client_id` at the authorization server (registered with `tls_client_auth`). */
  clientId: string;
  /** RFC 8707 resource indicator: the MCP server's URL, the token's audience. @default {none: the server's default} */
  resource?: string;
  /** Scopes to ask for (an array, or one space-separated string). @default {none: the client's default scopes} */
  scope?: string | string[];
  /** Token endpoint to use instead of the metadata's. @default {from the metadata: `mtls_endpoint_aliases.token_endpoint`, else `token_endpoint`} */
  tokenEndpoint?: string;
  /** Ask for a new token this many seconds before the current one expires (at most half its lifetime). @default {30} */
  refreshBeforeExpirySec?: number;
  /** Time allowed for each request to the authorization server, in milliseconds. @default {10000} */
  timeoutMs?: number;
  /** The clock, in milliseconds since the epoch (for tests). @default {Date.now} */
  now?: () => number;
}

/**
 * A {@link TokenSource} for the `client_credentials` grant, with what it
 * learned about the authorization server.
 *
 * @example
 * ```ts ignore
 * const source: ClientCredentialsTokenSource = clientCredentialsToken(options, asFetch);
 * console.log((await source.metadata()).issuer);
 * ```
 */
export interface ClientCredentialsTokenSource extends TokenSource {
  /** The authorization server's metadata (read once, on first use). */
  metadata(): Promise<AuthorizationServerMetadata>;
  /** The token endpoint in use. */
  tokenEndpoint(): Promise<string>;
  /** The cached token when it is still fresh, without any request. */
  cached(): string | undefined;
  /** Caches a token obtained elsewhere (the MCP SDK's own token request). */
  store(accessToken: string, expiresInSec?: number): void;
  /** The options, validated. */
  readonly options: Readonly<ClientCredentialsOptions>;
}

/** Lifetime assumed when the server gives no `expires_in` (RFC 6749 §5.1 makes it optional). */
const DEFAULT_LIFETIME_SEC = 60;

/**
 * Gets tokens by `client_credentials` with `tls_client_auth`: one POST to
 * the token endpoint (its mTLS alias when published) with `grant_type`,
 * `client_id`, `resource` and `scope`, sent over `fetch`, which must present
 * the client certificate. A token is reused until `refreshBeforeExpirySec`
 * before it expires; concurrent callers share one request; `invalidate()`
 * (the server refused the token) forces a new one. Every failure rejects
 * with code `token_request_failed` and says what the server answered
 * (`error` and `error_description`, RFC 6749 §5.2).
 *
 * @param options the authorization server, client and token wanted
 * @param fetch an mTLS fetch presenting our certificate (createMtlsFetch)
 * @returns the token source
 *
 * @example With an mTLS fetch for the authorization server
 * ```ts ignore
 * import { createMtlsFetch } from "@mtls/mcp/mcp";
 * import { clientCredentialsToken } from "@mtls/mcp/auth";
 *
 * const asFetch = createMtlsFetch({ cert, key, ca });
 * const source = clientCredentialsToken({
 *   issuer: "https://127.0.0.1:9443",
 *   clientId: "agent-1",
 *   resource: "https://127.0.0.1:8443/mcp",
 *   scope: "mcp:tools",
 * }, asFetch);
 * console.log(await source.token()); // a JWT bound to our certificate
 * await asFetch.close();
 * ```
 */
export function clientCredentialsToken(
  options: ClientCredentialsOptions,
  fetch: FetchLike,
): ClientCredentialsTokenSource {
  const o = validate(options);
  const { refreshBeforeExpirySec = 30, timeoutMs = 10_000, now = Date.now } = o;
  let metadata: Promise<AuthorizationServerMetadata> | undefined;
  let cached: { token: string; refreshAt: number } | undefined;
  let pending: Promise<string> | undefined;

  const getMetadata = () => {
    metadata ??= discoverAuthorizationServer(o.issuer, fetch, AbortSignal.timeout(timeoutMs));
    metadata.catch(() => metadata = undefined); // a failed discovery is retried next time
    return metadata;
  };
  const endpoint = async () => o.tokenEndpoint ?? mtlsTokenEndpoint(await getMetadata());
  const store = (token: string, expiresIn = DEFAULT_LIFETIME_SEC) => {
    const margin = Math.min(refreshBeforeExpirySec, expiresIn / 2);
    cached = { token, refreshAt: now() + (expiresIn - margin) * 1000 };
  };
  const fresh = () => cached && now() < cached.refreshAt ? cached.token : undefined;

  const request = async (): Promise<string> => {
    const url = await endpoint();
    const body = new URLSearchParams({ grant_type: "client_credentials", client_id: o.clientId });
    if (o.resource) body.set("resource", o.resource);
    const scope = scopeText(o.scope);
    if (scope) body.set("scope", scope);
    let response: Response;
    try {
      response = await fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          accept: "application/json",
        },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (cause) {
      throw new MtlsError(
        "token_request_failed",
        `Cannot get a token from "${url}": ${(cause as Error).message}`,
        { cause },
      );
    }
    const text = await response.text();
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(text);
    } catch {
      // reported below
    }
    if (!response.ok) {
      const what = typeof json?.error === "string"
        ? `${json.error}${
          typeof json.error_description === "string" ? ` (${json.error_description})` : ""
        }`
        : text.slice(0, 200);
      throw new MtlsError(
        "token_request_failed",
        `Authorization server refused the token request to "${url}" with HTTP ${response.status}: ${what}`,
      );
    }
    return accept(json, url);
  };

  const accept = (json: Record<string, unknown> | undefined, url: string): string => {
    const bad = (why: string) =>
      new MtlsError("token_request_failed", `Token response from "${url}" ${why}`);
    if (!json || typeof json.access_token !== "string") throw bad("has no access_token");
    // RFC 8705 bound tokens are still "Bearer" (§3); a DPoP or MAC token cannot be sent as one.
    if (typeof json.token_type !== "string" || json.token_type.toLowerCase() !== "bearer") {
      throw bad(`has token_type "${json.token_type}", expected "Bearer"`);
    }
    let token: string;
    try {
      token = checkBearerToken(json.access_token, `"${url}"`);
    } catch (cause) {
      throw bad(`has an access_token that cannot be sent: ${(cause as Error).message}`);
    }
    const expiresIn = typeof json.expires_in === "number" && json.expires_in > 0
      ? json.expires_in
      : undefined;
    store(token, expiresIn);
    return token;
  };

  return {
    options: o,
    token() {
      const hit = fresh();
      if (hit) return Promise.resolve(hit);
      pending ??= request().finally(() => pending = undefined);
      return pending;
    },
    invalidate() {
      cached = undefined;
    },
    cached: fresh,
    store: (token, expiresIn) => store(checkBearerToken(token, "the MCP SDK"), expiresIn),
    metadata: getMetadata,
    tokenEndpoint: endpoint,
  };
}

function scopeText(scope: string | string[] | undefined): string {
  return (Array.isArray(scope) ? scope.join(" ") : scope ?? "").trim();
}

function validate(options: ClientCredentialsOptions): ClientCredentialsOptions {
  const httpsUrl = (key: string, value: unknown, fragmentFree = false) => {
    let u: URL | undefined;
    try {
      u = new URL(String(value));
    } catch { /* below */ }
    if (!u || u.protocol !== "https:" || (fragmentFree && u.hash !== "")) {
      throw new ConfigError(
        `Option "${key}" must be an https URL${
          fragmentFree ? " without a fragment" : ""
        }, got "${value}"`,
        { key },
      );
    }
  };
  httpsUrl("oauth.issuer", options?.issuer);
  if (typeof options.clientId !== "string" || options.clientId === "") {
    throw new ConfigError(`Option "oauth.clientId" must be a non-empty string`, {
      key: "oauth.clientId",
    });
  }
  // RFC 8707 §2: an absolute URI without a fragment.
  if (options.resource !== undefined) httpsUrl("oauth.resource", options.resource, true);
  if (options.tokenEndpoint !== undefined) httpsUrl("oauth.tokenEndpoint", options.tokenEndpoint);
  const scopes = Array.isArray(options.scope) ? options.scope : [];
  for (const s of scopes) {
    if (typeof s !== "string" || !/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s)) {
      // RFC 6749 §3.3 scope-token: printable ASCII without space, '"' or '\'.
      throw new ConfigError(`Option "oauth.scope" has an invalid scope "${s}"`, {
        key: "oauth.scope",
      });
    }
  }
  for (const key of ["refreshBeforeExpirySec", "timeoutMs"] as const) {
    const v = options[key];
    if (v !== undefined && !(typeof v === "number" && Number.isFinite(v) && v >= 0)) {
      throw new ConfigError(`Option "oauth.${key}" must be a number >= 0, got "${v}"`, {
        key: `oauth.${key}`,
      });
    }
  }
  return { ...options };
}
