/**
 * The `auth` option of `serveMcp`, `serveGateway` and the stdio bridge:
 * OAuth 2.1 bearer tokens bound to the client certificate (RFC 8705),
 * checked on every request, with the metadata of RFC 9728. Validated once,
 * with a {@link ConfigError} naming the key.
 *
 * @module
 */
import { ConfigError } from "../errors.ts";
import type { PemInput } from "../tls/client/options.ts";

/**
 * A JSON Web Key Set (RFC 7517 §5) of public keys.
 *
 * @example
 * ```ts
 * import type { JsonWebKeySet } from "@mtls/mcp/auth";
 * const set: JsonWebKeySet = { keys: [{ kty: "EC", crv: "P-256", x: "...", y: "...", kid: "k1" }] };
 * ```
 */
export interface JsonWebKeySet {
  /** The keys, each a JWK with an optional `kid`, `alg` and `use`. */
  keys: (JsonWebKey & { kid?: string; alg?: string; use?: string })[];
}

/**
 * A JWKS fetched over https, cached the way `jose`'s remote key set does.
 *
 * @example
 * ```ts
 * import type { RemoteJwksOptions } from "@mtls/mcp/auth";
 * const jwks: RemoteJwksOptions = { url: "https://as.example.com/jwks", timeoutMs: 2_000 };
 * ```
 */
export interface RemoteJwksOptions {
  /** The `jwks_uri`; must be `https:`. */
  url: string;
  /** CA certificate(s) the JWKS server must chain to. @default {the runtime's public roots} */
  ca?: PemInput | PemInput[];
  /** Time allowed for one fetch, ms. @default {5000} */
  timeoutMs?: number;
  /** After a fetch, ms before a token with an unknown `kid` may trigger another. @default {30000} */
  cooldownMs?: number;
  /** Keys older than this are fetched again, ms. @default {600000} */
  cacheMaxAgeMs?: number;
}

/**
 * RFC 7662 introspection of opaque (non-JWT) tokens, over mutual TLS with
 * `tls_client_auth` (RFC 8705 §2.1): the server's certificate authenticates it.
 *
 * @example
 * ```ts ignore
 * const introspection: IntrospectionOptions = {
 *   url: "https://as.example.com/token/introspection", clientId: "mcp-server", cert, key, ca,
 * };
 * ```
 */
export interface IntrospectionOptions {
  /** The introspection endpoint; must be `https:`. */
  url: string;
  /** Our client id at the authorization server (sent as `client_id`). */
  clientId: string;
  /** Certificate presented to the authorization server. */
  cert: PemInput;
  /** Its private key. */
  key: PemInput;
  /** CA certificate(s) the authorization server must chain to. @default {the runtime's public roots} */
  ca?: PemInput | PemInput[];
  /** Time allowed for one introspection, ms. @default {5000} */
  timeoutMs?: number;
  /** How long an answer is reused (never past the token's `exp`), ms. @default {60000} */
  cacheTtlMs?: number;
  /** Most answers kept. @default {10000} */
  maxCacheEntries?: number;
}

/**
 * The `auth` option.
 *
 * @example Tokens from one authorization server, keys from its JWKS URL
 * ```ts
 * import type { AuthOptions } from "@mtls/mcp/auth";
 * const auth: AuthOptions = {
 *   resource: "https://127.0.0.1:8443/mcp",
 *   authorizationServers: ["https://as.example.com"],
 *   jwks: { url: "https://as.example.com/jwks" },
 * };
 * ```
 */
export interface AuthOptions {
  /** This MCP endpoint's URL (https): the expected audience and the metadata's `resource`. */
  resource: string;
  /** Issuer identifiers of the authorization servers (metadata `authorization_servers`). */
  authorizationServers: string[];
  /** Accepted `iss`. @default {authorizationServers} */
  issuer?: string | string[];
  /** Accepted `aud` (any one). @default {resource} */
  audience?: string | string[];
  /** Keys of JWT access tokens: a key set, or where to fetch it. Needs this or `introspection`. */
  jwks?: JsonWebKeySet | RemoteJwksOptions;
  /** Accepted JWS algorithms; `none` and `HS*` are refused. @default {DEFAULT_ALGORITHMS} */
  algorithms?: string[];
  /** Leeway for `exp`, `nbf` and `iat`, seconds. @default {30} */
  clockToleranceSec?: number;
  /** Refuse tokens without `cnf["x5t#S256"]` (`token_unbound`). @default {true} */
  requireBinding?: boolean;
  /** Metadata `scopes_supported`. @default {the scopes named in authorization rules} */
  scopesSupported?: string[];
  /** Gateway only: pass the client's `Authorization` header to the upstream. @default {false} */
  forwardAuthorization?: boolean;
  /** Introspection of opaque tokens (JWTs are still checked with `jwks` when given). */
  introspection?: IntrospectionOptions;
  /** Metadata `resource_name`. */
  resourceName?: string;
  /** Clock, ms since the epoch (tests). @default {Date.now} */
  now?: () => number;
}

/**
 * Algorithms accepted by default: asymmetric signatures only.
 *
 * @example
 * ```ts
 * import { DEFAULT_ALGORITHMS } from "@mtls/mcp/auth";
 * DEFAULT_ALGORITHMS.includes("ES256"); // true
 * ```
 */
export const DEFAULT_ALGORITHMS: readonly string[] = [
  "ES256",
  "ES384",
  "ES512",
  "PS256",
  "PS384",
  "PS512",
  "RS256",
  "RS384",
  "RS512",
  "EdDSA",
  "Ed25519",
];

/**
 * The options after validation and defaults (see {@link AuthOptions} for each field).
 *
 * @example
 * ```ts ignore
 * const o: ResolvedAuthOptions = resolveAuthOptions(options);
 * ```
 */
export interface ResolvedAuthOptions {
  /** This MCP endpoint's URL. */
  resource: string;
  /** Issuer identifiers for the metadata. */
  authorizationServers: string[];
  /** Accepted `iss` values. */
  issuer: string[];
  /** Accepted `aud` values. */
  audience: string[];
  /** A key set, or a remote one with its settings. */
  jwks?: JsonWebKeySet | ResolvedRemoteJwks;
  /** Accepted JWS algorithms. */
  algorithms: string[];
  /** Leeway, seconds. */
  clockToleranceSec: number;
  /** Refuse unbound tokens. */
  requireBinding: boolean;
  /** Metadata `scopes_supported`, when given. */
  scopesSupported?: string[];
  /** Gateway: pass `Authorization` upstream. */
  forwardAuthorization: boolean;
  /** Introspection with its settings. */
  introspection?: ResolvedIntrospection;
  /** Metadata `resource_name`. */
  resourceName?: string;
  /** Clock, ms. */
  now: () => number;
}

/**
 * {@link RemoteJwksOptions} with the defaults applied.
 *
 * @example
 * ```ts
 * import type { ResolvedRemoteJwks } from "@mtls/mcp/auth";
 * const r: ResolvedRemoteJwks = { url: "https://as/jwks", timeoutMs: 5000, cooldownMs: 30000, cacheMaxAgeMs: 600000 };
 * ```
 */
export type ResolvedRemoteJwks =
  & Required<Omit<RemoteJwksOptions, "ca">>
  & Pick<RemoteJwksOptions, "ca">;

/**
 * {@link IntrospectionOptions} with the defaults applied.
 *
 * @example
 * ```ts ignore
 * const i: ResolvedIntrospection = resolveAuthOptions(options).introspection!;
 * ```
 */
export type ResolvedIntrospection =
  & Required<Omit<IntrospectionOptions, "ca">>
  & Pick<IntrospectionOptions, "ca">;

function fail(key: string, message: string): never {
  throw new ConfigError(`Option "auth.${key}" ${message}`, { key: `auth.${key}` });
}

function httpsUrl(value: unknown, key: string): string {
  let url: URL | undefined;
  try {
    url = typeof value === "string" ? new URL(value) : undefined;
  } catch { /* reported below */ }
  if (url?.protocol !== "https:") fail(key, `must be an https URL, got ${JSON.stringify(value)}`);
  return value as string;
}

function strings(value: unknown, key: string): string[] {
  const list = typeof value === "string" ? [value] : value;
  if (!Array.isArray(list) || list.length === 0 || list.some((v) => typeof v !== "string" || !v)) {
    fail(key, `must be a non-empty list of strings, got ${JSON.stringify(value)}`);
  }
  return list as string[];
}

function ms(value: unknown, fallback: number, key: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) < 1) {
    fail(key, `must be a positive integer (ms), got ${JSON.stringify(value)}`);
  }
  return value as number;
}

/**
 * Validates `options` and applies the defaults.
 *
 * @throws {ConfigError} naming the key, e.g. `Option "auth.algorithms" must not include "HS256": ...`
 *
 * @example
 * ```ts
 * import { resolveAuthOptions } from "@mtls/mcp/auth";
 * const o = resolveAuthOptions({
 *   resource: "https://127.0.0.1:8443/mcp",
 *   authorizationServers: ["https://as.example.com"],
 *   jwks: { keys: [] },
 * });
 * console.log(o.requireBinding); // true
 * ```
 */
export function resolveAuthOptions(options: AuthOptions): ResolvedAuthOptions {
  if (typeof options !== "object" || options === null) {
    throw new ConfigError('Option "auth" must be an object', { key: "auth" });
  }
  const resource = httpsUrl(options.resource, "resource");
  if (new URL(resource).hash) fail("resource", `must not have a fragment, got "${resource}"`);
  const authorizationServers = strings(options.authorizationServers, "authorizationServers");
  authorizationServers.forEach((s, i) => httpsUrl(s, `authorizationServers[${i}]`));
  const algorithms = options.algorithms === undefined
    ? [...DEFAULT_ALGORITHMS]
    : strings(options.algorithms, "algorithms");
  for (const alg of algorithms) {
    if (alg.toLowerCase() === "none" || /^HS\d+$/i.test(alg)) {
      fail(
        "algorithms",
        `must not include "${alg}": only asymmetric signatures are accepted (a symmetric key shared with the resource server could mint tokens)`,
      );
    }
  }
  if (options.jwks === undefined && options.introspection === undefined) {
    throw new ConfigError('Option "auth" needs "jwks" or "introspection" to check tokens', {
      key: "auth.jwks",
    });
  }
  const tolerance = options.clockToleranceSec ?? 30;
  if (!Number.isInteger(tolerance) || tolerance < 0 || tolerance > 600) {
    fail("clockToleranceSec", `must be an integer from 0 to 600, got ${JSON.stringify(tolerance)}`);
  }
  return {
    resource,
    authorizationServers,
    issuer: options.issuer === undefined ? authorizationServers : strings(options.issuer, "issuer"),
    audience: options.audience === undefined ? [resource] : strings(options.audience, "audience"),
    jwks: resolveJwks(options.jwks),
    algorithms,
    clockToleranceSec: tolerance,
    requireBinding: options.requireBinding ?? true,
    scopesSupported: options.scopesSupported === undefined
      ? undefined
      : strings(options.scopesSupported, "scopesSupported"),
    forwardAuthorization: options.forwardAuthorization ?? false,
    introspection: resolveIntrospection(options.introspection),
    resourceName: options.resourceName,
    now: options.now ?? Date.now,
  };
}

function resolveJwks(jwks: AuthOptions["jwks"]): ResolvedAuthOptions["jwks"] {
  if (jwks === undefined) return undefined;
  if (typeof jwks !== "object" || jwks === null) {
    fail("jwks", "must be a key set ({ keys: [...] }) or { url }");
  }
  if ("keys" in jwks) {
    if (!Array.isArray(jwks.keys)) fail("jwks.keys", "must be an array of JWKs");
    return jwks;
  }
  return {
    url: httpsUrl(jwks.url, "jwks.url"),
    ca: jwks.ca,
    timeoutMs: ms(jwks.timeoutMs, 5_000, "jwks.timeoutMs"),
    cooldownMs: ms(jwks.cooldownMs, 30_000, "jwks.cooldownMs"),
    cacheMaxAgeMs: ms(jwks.cacheMaxAgeMs, 600_000, "jwks.cacheMaxAgeMs"),
  };
}

function resolveIntrospection(
  i: IntrospectionOptions | undefined,
): ResolvedAuthOptions["introspection"] {
  if (i === undefined) return undefined;
  if (typeof i.clientId !== "string" || !i.clientId) {
    fail("introspection.clientId", "must be a non-empty string");
  }
  if (i.cert === undefined || i.key === undefined) {
    fail("introspection.cert", 'and "auth.introspection.key" are required (tls_client_auth)');
  }
  return {
    url: httpsUrl(i.url, "introspection.url"),
    clientId: i.clientId,
    cert: i.cert,
    key: i.key,
    ca: i.ca,
    timeoutMs: ms(i.timeoutMs, 5_000, "introspection.timeoutMs"),
    cacheTtlMs: ms(i.cacheTtlMs, 60_000, "introspection.cacheTtlMs"),
    maxCacheEntries: ms(i.maxCacheEntries, 10_000, "introspection.maxCacheEntries"),
  };
}
