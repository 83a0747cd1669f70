/**
 * The token options of the mTLS client (`createMtlsFetch`,
 * `connectMcpClient`, `connect`), and how a request gets its
 * `Authorization: Bearer` header.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { PemInput } from "../tls/client/options.ts";
import type { FetchLike } from "./client_as_metadata.ts";
import { type ClientCredentialsOptions, clientCredentialsToken } from "./client_credentials.ts";
import { type TokenSource, toTokenSource } from "./token_source.ts";

/**
 * `client_credentials` settings for the client: {@link ClientCredentialsOptions}
 * plus whom to trust for the authorization server. The request goes over
 * mutual TLS with the client's own certificate and key.
 *
 * @example
 * ```ts
 * import type { ClientOAuthOptions } from "@mtls/mcp/auth";
 * const o: ClientOAuthOptions = { issuer: "https://127.0.0.1:9443", clientId: "agent-1" };
 * ```
 */
export interface ClientOAuthOptions extends ClientCredentialsOptions {
  /** CA certificate(s) the authorization server must chain to. @default {the client's `ca`} */
  ca?: PemInput | PemInput[];
}

/**
 * Token options of the mTLS client.
 *
 * @example A token renewed in a file by something else
 * ```ts
 * import { tokenFromFile, type ClientTokenOptions } from "@mtls/mcp/auth";
 * const o: ClientTokenOptions = { token: tokenFromFile("/run/secrets/mcp-token") };
 * ```
 *
 * @example Tokens from the authorization server, bound to our certificate
 * ```ts
 * import type { ClientTokenOptions } from "@mtls/mcp/auth";
 * const o: ClientTokenOptions = {
 *   oauth: { issuer: "https://127.0.0.1:9443", clientId: "agent-1", scope: "mcp:tools" },
 * };
 * ```
 */
export interface ClientTokenOptions {
  /**
   * Bearer token sent with every request: the token, or a {@link TokenSource}
   * (`tokenFromFile`, `clientCredentialsToken`, your own). A request that
   * already has an `Authorization` header keeps it.
   * @default {none: no token is sent}
   */
  token?: string | TokenSource;
  /**
   * Get tokens by `client_credentials` with `tls_client_auth` (RFC 8705), over
   * mutual TLS with this client's certificate. `connectMcpClient` and
   * `connect` set `resource` to the MCP URL unless given. Not with `token`.
   * @default {none}
   */
  oauth?: ClientOAuthOptions;
  /**
   * Hand a 401/403 that carries a `WWW-Authenticate` challenge back as a
   * response instead of rejecting with its reason code: for the MCP SDK's
   * own OAuth handling (an `authProvider`), which needs to see it.
   * @default {false}
   */
  returnAuthChallenges?: boolean;
}

/**
 * How the client uses its token: adds the header, and forgets a token the
 * server called invalid. Internal to the client.
 */
export interface ClientTokens {
  /** `init` with `Authorization: Bearer ...` unless it already has one. */
  authorize(init: RequestInit | undefined): Promise<RequestInit>;
  /** Looks at a 401/403: an `invalid_token` challenge invalidates the cached token. */
  refused(response: Response): void;
  close(): Promise<void>;
}

/**
 * Builds the client's token handling from its options; `asFetch` makes the
 * mTLS fetch for the authorization server (our certificate, `ca`).
 *
 * @param options the token options
 * @param asFetch makes an mTLS fetch trusting `ca` (or the client's own CAs)
 * @returns the token handling, or `undefined` when no token is configured
 *
 * @example
 * ```ts
 * import { resolveClientTokens } from "./client_token.ts";
 * const t = resolveClientTokens({ token: "abc" }, () => { throw new Error("unused"); });
 * console.log(await t?.authorize({})); // { headers: Headers { authorization: "Bearer abc" } }
 * ```
 */
export function resolveClientTokens(
  options: ClientTokenOptions,
  asFetch: (ca: PemInput | PemInput[] | undefined) => FetchLike & { close(): Promise<void> },
): ClientTokens | undefined {
  if (options.token !== undefined && options.oauth !== undefined) {
    throw new ConfigError('Options "token" and "oauth" cannot be used together', {
      key: "oauth",
    });
  }
  let source = toTokenSource(options.token);
  let closeFetch: (() => Promise<void>) | undefined;
  if (options.oauth !== undefined) {
    const { ca, ...grant } = options.oauth;
    // Validate before making a fetch that would need closing.
    const fetch = asFetch(ca);
    try {
      source = clientCredentialsToken(grant, fetch);
    } catch (e) {
      fetch.close().catch(() => {});
      throw e;
    }
    closeFetch = () => fetch.close();
  }
  if (!source) return undefined;
  const s = source;
  return {
    async authorize(init) {
      const headers = new Headers(init?.headers);
      if (!headers.has("authorization")) headers.set("authorization", `Bearer ${await s.token()}`);
      return { ...init, headers };
    },
    refused(response) {
      const challenge = response.headers.get("www-authenticate") ?? "";
      if (response.status === 401 && /error="?invalid_token/.test(challenge)) s.invalidate();
    },
    async close() {
      try {
        await s.close?.();
      } finally {
        await closeFetch?.();
      }
    },
  };
}
