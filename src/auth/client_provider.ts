/**
 * `mtlsClientCredentialsProvider`: the MCP SDK's `OAuthClientProvider` seam
 * for the `client_credentials` grant with `tls_client_auth` (RFC 8705).
 *
 * @module
 */
// The SDK's types by their path without ".js": see tests/publish/types_test.ts.
// @ts-types="@modelcontextprotocol/sdk/client/auth"
import type {
  OAuthClientProvider,
  OAuthDiscoveryState,
} from "@modelcontextprotocol/sdk/client/auth.js";
// @ts-types="@modelcontextprotocol/sdk/shared/auth"
import type {
  AuthorizationServerMetadata as SdkAuthorizationServerMetadata,
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from "@modelcontextprotocol/sdk/shared/auth.js";
import { MtlsError } from "../errors.ts";
import type { FetchLike } from "./client_as_metadata.ts";
import {
  type ClientCredentialsOptions,
  clientCredentialsToken,
  type ClientCredentialsTokenSource,
} from "./client_credentials.ts";

/**
 * The MCP SDK's `OAuthClientProvider` (`@modelcontextprotocol/sdk/client/auth.js`)
 * as our API names it: every SDK provider fits. Why not the SDK's own type:
 * it drags a dozen SDK types into our published documentation (deno doc
 * --lint calls each a private type). To hand a provider from
 * {@link mtlsClientCredentialsProvider} to the SDK's transport yourself,
 * cast it: `authProvider: provider as OAuthClientProvider`.
 *
 * @example
 * ```ts ignore
 * import type { OAuthProviderSeam } from "@mtls/mcp/auth";
 * const seam: OAuthProviderSeam = mtlsClientCredentialsProvider(options, asFetch);
 * ```
 */
export interface OAuthProviderSeam {
  /** The tokens to send now (the SDK's `OAuthTokens`), if any. */
  tokens(): unknown;
  /** The registered client (`client_id`, ...). */
  clientInformation(): unknown;
  /** The client's metadata (RFC 7591). */
  readonly clientMetadata: unknown;
  /** Where the browser returns after authorization; `undefined` for machine clients. */
  readonly redirectUrl: unknown;
}

/**
 * An SDK `OAuthClientProvider` for machine clients that authenticate to the
 * authorization server with their TLS certificate. Give it to
 * `StreamableHTTPClientTransport` (or `connectMcpClient`) as `authProvider`,
 * with an mTLS `fetch`. The SDK then does the work its own way: a request
 * without a token gets 401, the SDK reads the server's RFC 9728 metadata,
 * and posts the `client_credentials` request (with `resource` and the
 * scope the server asked for) over the transport's mTLS fetch; this provider
 * only adds `client_id` (no secret: the certificate authenticates us).
 *
 * Two choices differ from the SDK's defaults, for safety: the authorization
 * server is the configured `issuer`, never one the resource server names
 * (a resource server must not be able to send our certificate-authenticated
 * requests elsewhere), and its token endpoint is its mutual-TLS alias
 * (RFC 8705 §5) when it publishes one. `options.scope`, when set, replaces
 * the scope the SDK picks.
 *
 * `fetch` reads the authorization server's metadata; the token request goes
 * over the transport's fetch, so that fetch must trust the authorization
 * server too (same `ca`, no server pins that exclude it).
 *
 * @param options issuer, client id, scope (resource comes from the SDK)
 * @param fetch an mTLS fetch to the authorization server
 * @returns the provider
 *
 * @example
 * ```ts ignore
 * import { connectMcpClient, createMtlsFetch } from "@mtls/mcp/mcp";
 * import { mtlsClientCredentialsProvider } from "@mtls/mcp/auth";
 *
 * const asFetch = createMtlsFetch({ cert, key, ca });
 * const client = await connectMcpClient("https://127.0.0.1:8443/mcp", {
 *   cert, key, ca,
 *   authProvider: mtlsClientCredentialsProvider(
 *     { issuer: "https://127.0.0.1:9443", clientId: "agent-1" },
 *     asFetch,
 *   ),
 * });
 * ```
 */
export function mtlsClientCredentialsProvider(
  options: ClientCredentialsOptions,
  fetch: FetchLike,
): OAuthProviderSeam {
  return createProvider(options, fetch);
}

function createProvider(options: ClientCredentialsOptions, fetch: FetchLike): OAuthClientProvider {
  const source: ClientCredentialsTokenSource = clientCredentialsToken(options, fetch);
  const { clientId, issuer, scope } = source.options;
  const configuredScope = Array.isArray(scope) ? scope.join(" ") : scope;
  let resourceState: Pick<OAuthDiscoveryState, "resourceMetadata" | "resourceMetadataUrl"> = {};
  const notInteractive = () => {
    throw new MtlsError(
      "invalid_argument",
      "The client_credentials provider has no user interaction (no redirect, no code verifier)",
    );
  };
  return {
    get redirectUrl(): undefined {
      return undefined;
    },
    get clientMetadata(): OAuthClientMetadata {
      return {
        redirect_uris: [],
        grant_types: ["client_credentials"],
        token_endpoint_auth_method: "tls_client_auth",
        ...(configuredScope ? { scope: configuredScope } : {}),
      };
    },
    clientInformation: (): OAuthClientInformationMixed => ({ client_id: clientId }),
    tokens(): OAuthTokens | undefined {
      const token = source.cached();
      return token ? { access_token: token, token_type: "Bearer" } : undefined;
    },
    saveTokens(tokens: OAuthTokens): void {
      source.store(tokens.access_token, tokens.expires_in);
    },
    redirectToAuthorization: notInteractive,
    saveCodeVerifier: notInteractive,
    codeVerifier: notInteractive,
    prepareTokenRequest(sdkScope?: string): URLSearchParams {
      const params = new URLSearchParams({ grant_type: "client_credentials" });
      const s = configuredScope || sdkScope;
      if (s) params.set("scope", s);
      return params;
    },
    // tls_client_auth (RFC 8705 §2): client_id in the body, the certificate does the rest.
    addClientAuthentication(_headers: Headers, params: URLSearchParams): void {
      params.set("client_id", clientId);
    },
    invalidateCredentials(what: "all" | "client" | "tokens" | "verifier" | "discovery"): void {
      if (what === "all" || what === "tokens") source.invalidate();
      if (what === "all" || what === "discovery") resourceState = {};
    },
    async discoveryState(): Promise<OAuthDiscoveryState> {
      const metadata = await source.metadata();
      return {
        authorizationServerUrl: issuer,
        authorizationServerMetadata: {
          ...metadata,
          token_endpoint: await source.tokenEndpoint(),
        } as unknown as SdkAuthorizationServerMetadata,
        ...resourceState,
      };
    },
    saveDiscoveryState(state: OAuthDiscoveryState): void {
      // Only what the resource server said; the authorization server stays the configured one.
      resourceState = {
        resourceMetadata: state.resourceMetadata,
        resourceMetadataUrl: state.resourceMetadataUrl,
      };
    },
  };
}
