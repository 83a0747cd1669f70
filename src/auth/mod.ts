/**
 * OAuth 2.1 bearer tokens bound to the client certificate (RFC 8705) for
 * MCP servers over mutual TLS, and the protected resource metadata of
 * RFC 9728 that tells MCP clients where to get them. Give `serveMcp`,
 * `serveGateway` or the stdio bridge an `auth` option; each request must
 * then carry `Authorization: Bearer <token>` whose `cnf["x5t#S256"]` is the
 * thumbprint of the certificate the client connected with.
 *
 * @example Serving MCP with bound tokens
 * ```ts ignore
 * import { serveMcp, demoServerFactory } from "@mtls/mcp/mcp";
 * const server = await serveMcp(demoServerFactory, {
 *   tls: { cert, key, ca },
 *   auth: {
 *     resource: "https://127.0.0.1:8443/mcp",
 *     authorizationServers: ["https://as.example.com"],
 *     jwks: { url: "https://as.example.com/jwks" },
 *   },
 * });
 * ```
 *
 * @module
 */
export {
  type AuthOptions,
  DEFAULT_ALGORITHMS,
  type IntrospectionOptions,
  type JsonWebKeySet,
  type RemoteJwksOptions,
  resolveAuthOptions,
  type ResolvedAuthOptions,
  type ResolvedIntrospection,
  type ResolvedRemoteJwks,
} from "./options.ts";
export {
  PROTECTED_RESOURCE_METADATA_PATH,
  type ProtectedResourceMetadata,
  protectedResourceMetadataPaths,
  protectedResourceMetadataUrl,
} from "./metadata.ts";
export { certificateThumbprint, sameThumbprint, thumbprintOfFingerprint } from "./thumbprint.ts";
export { type BearerChallenge, bearerChallenge } from "./www_authenticate.ts";
export {
  invalidToken,
  isTokenRefusal,
  tokenFromClaims,
  type TokenRefusal,
  type VerifiedToken,
} from "./token.ts";
export { type AuthFetch, createJwtVerifier, type JwtVerifier } from "./jwt.ts";
export { createIntrospector, type Introspector } from "./introspection.ts";
export { type BearerChecker, createBearerChecker, type TokenPeer } from "./bearer.ts";
export {
  type AuthPeer,
  createServerAuth,
  type ServerAuth,
  type TokenAuthInfo,
} from "./server_auth.ts";
// Client side: presenting a bound token (tokens from a value, a file, or the
// client_credentials grant with tls_client_auth; the MCP SDK's OAuth seam).
export { checkBearerToken, staticToken, type TokenSource, toTokenSource } from "./token_source.ts";
export { type TokenFileOptions, tokenFromFile } from "./token_source_file.ts";
export {
  type AuthorizationServerMetadata,
  discoverAuthorizationServer,
  type FetchLike,
  metadataUrls,
  mtlsTokenEndpoint,
} from "./client_as_metadata.ts";
export {
  type ClientCredentialsOptions,
  clientCredentialsToken,
  type ClientCredentialsTokenSource,
} from "./client_credentials.ts";
export { type ClientOAuthOptions, type ClientTokenOptions } from "./client_token.ts";
export { mtlsClientCredentialsProvider, type OAuthProviderSeam } from "./client_provider.ts";
export { type TokenBinding, tokenBinding } from "./client_binding.ts";
