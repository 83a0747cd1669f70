/**
 * The `auth` option of a server, compiled once: the token checker (with
 * the mTLS fetches it needs for a remote key set and introspection), the
 * RFC 9728 metadata document, the `WWW-Authenticate` challenges, and the
 * SDK `AuthInfo` a tool handler receives. The request router calls it.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Logger } from "../log/logger.ts";
import { createMtlsFetch } from "../mcp/client_fetch.ts";
import type { AuthorizationOptions } from "../policy/authorization.ts";
import { identityLabel, type PeerIdentity } from "../policy/identity.ts";
import { type BearerChecker, createBearerChecker, type TokenPeer } from "./bearer.ts";
import { createIntrospector } from "./introspection.ts";
import { createJwtVerifier } from "./jwt.ts";
import {
  type ProtectedResourceMetadata,
  protectedResourceMetadataPaths,
  protectedResourceMetadataUrl,
} from "./metadata.ts";
import { type AuthOptions, resolveAuthOptions, type ResolvedAuthOptions } from "./options.ts";
import type { TokenRefusal, VerifiedToken } from "./token.ts";
import { bearerChallenge } from "./www_authenticate.ts";

/**
 * What a tool handler receives as `extra.authInfo`: the MCP SDK's
 * `AuthInfo` shape (declared here so the public API names no SDK type).
 *
 * @example
 * ```ts
 * import type { TokenAuthInfo } from "@mtls/mcp/auth";
 * const info: TokenAuthInfo = { token: "eyJ...", clientId: "agent-1", scopes: ["mcp:tools"] };
 * ```
 */
export interface TokenAuthInfo {
  /** The bearer token. */
  token: string;
  /** The token's `client_id` (else `azp`, else the certificate identity label). */
  clientId: string;
  /** The token's scopes. */
  scopes: string[];
  /** The token's `exp`, seconds since the epoch. */
  expiresAt?: number;
  /** The resource the token was checked for (`auth.resource`). */
  resource?: URL;
  /** `identity` (the certificate), `trusted`, `peer`, `sub`, `bound`, `claims`. */
  extra?: Record<string, unknown>;
}

/**
 * A server's compiled `auth` option.
 *
 * @example
 * ```ts ignore
 * const auth = createServerAuth(options.auth, { logger, authorization: options.authorization });
 * ```
 */
export interface ServerAuth extends BearerChecker {
  /** The validated options. */
  readonly options: ResolvedAuthOptions;
  /** Where token-check failures underneath (fetch errors) are logged. */
  readonly logger: Logger;
  /** The URL of the metadata document (the `resource_metadata` of challenges). */
  readonly metadataUrl: string;
  /** The metadata document. */
  readonly metadata: ProtectedResourceMetadata;
  /** Whether `path` is one the metadata document is served at. */
  isMetadataPath(path: string): boolean;
  /** Answers a request for the metadata (GET or HEAD; others get 405). */
  sendMetadata(req: IncomingMessage, res: ServerResponse): void;
  /** The `WWW-Authenticate` value of a refusal; `undefined` for `auth_unavailable`. */
  challenge(refusal: TokenRefusal): string | undefined;
  /** What a tool handler gets as `extra.authInfo`. */
  authInfo(token: VerifiedToken, peer: AuthPeer): TokenAuthInfo;
}

/**
 * The admitted connection, as `authInfo` describes it.
 *
 * @example
 * ```ts
 * import type { AuthPeer } from "@mtls/mcp/auth";
 * const p: AuthPeer = { peer: "127.0.0.1:5000", trusted: true };
 * ```
 */
export interface AuthPeer extends TokenPeer {
  /** `host:port`. */
  peer: string;
  /** Whether the certificate chains to a configured CA. */
  trusted: boolean;
}

/**
 * Compiles `options` (see {@link AuthOptions}); `authorization` supplies the
 * default `scopes_supported`. Logs at warn when binding is not required.
 *
 * @throws {ConfigError} for bad options, naming the key
 *
 * @example
 * ```ts ignore
 * const auth = createServerAuth({ resource, authorizationServers, jwks }, { logger });
 * ```
 */
export function createServerAuth(
  options: AuthOptions,
  context: { logger: Logger; authorization?: AuthorizationOptions },
): ServerAuth {
  const o = resolveAuthOptions(options);
  const { logger } = context;
  const jwks = o.jwks;
  const remote = jwks !== undefined && "url" in jwks;
  // keepAlive off: keys and answers are cached, so a kept connection would mostly idle.
  const jwt = jwks === undefined ? undefined : createJwtVerifier(
    o,
    remote ? createMtlsFetch({ ca: jwks.ca, keepAlive: false, logger }) : undefined,
  );
  const i = o.introspection;
  const introspector = i === undefined ? undefined : createIntrospector(
    o,
    createMtlsFetch({ cert: i.cert, key: i.key, ca: i.ca, keepAlive: false, logger }),
  );
  const checker = createBearerChecker(o, { jwt, introspector });
  const scopes = o.scopesSupported ?? ruleScopes(context.authorization);
  const metadata: ProtectedResourceMetadata = {
    resource: o.resource,
    authorization_servers: o.authorizationServers,
    ...(scopes.length > 0 ? { scopes_supported: scopes } : {}),
    bearer_methods_supported: ["header"],
    tls_client_certificate_bound_access_tokens: true,
    ...(o.resourceName ? { resource_name: o.resourceName } : {}),
  };
  const body = JSON.stringify(metadata);
  const paths = new Set(protectedResourceMetadataPaths(o.resource));
  const metadataUrl = protectedResourceMetadataUrl(o.resource);
  const resource = new URL(o.resource);
  if (!o.requireBinding) {
    logger.warn(
      "Bound tokens are not required (auth.requireBinding false): a stolen token without cnf works with any admitted certificate",
      { requireBinding: false },
    );
  }
  return {
    options: o,
    logger,
    metadataUrl,
    metadata,
    check: checker.check,
    isMetadataPath: (path) => paths.has(path),
    sendMetadata(req, res) {
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { allow: "GET, HEAD" }).end();
        return;
      }
      res.writeHead(200, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
      });
      res.end(req.method === "GET" ? body : undefined);
    },
    challenge(refusal) {
      if (refusal.status === 503) return undefined;
      return bearerChallenge({
        resourceMetadata: metadataUrl,
        error: refusal.reason === "token_missing"
          ? undefined
          : refusal.reason === "insufficient_scope"
          ? "insufficient_scope"
          : "invalid_token",
        scope: refusal.scope,
        description: refusal.reason === "token_missing" ? undefined : refusal.description,
      });
    },
    authInfo(token, peer) {
      return {
        token: token.token,
        clientId: token.clientId ?? label(peer.identity),
        scopes: token.scopes,
        expiresAt: token.expiresAt,
        resource,
        extra: {
          identity: peer.identity,
          trusted: peer.trusted,
          peer: peer.peer,
          sub: token.sub,
          bound: token.thumbprint !== undefined,
          claims: token.claims,
        },
      };
    },
  };
}

function label(identity: PeerIdentity | undefined): string {
  return identity ? identityLabel(identity) : "anonymous";
}

/** Every scope the rules name, in order of first use. */
function ruleScopes(authorization: AuthorizationOptions | undefined): string[] {
  const out = new Set<string>();
  for (const rule of authorization?.rules ?? []) for (const s of rule.scopes ?? []) out.add(s);
  return [...out];
}
