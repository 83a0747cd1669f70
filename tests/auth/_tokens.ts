/**
 * Helpers of the server-side auth tests: signing keys and tokens made with
 * jose in the test (an ES256 issuer, a second "unknown" key), the
 * certificate thumbprint of a test credential, an https JWKS server on
 * 127.0.0.1, and raw requests that show the wire.
 */
import https from "node:https";
import type { AddressInfo } from "node:net";
import {
  exportJWK,
  generateKeyPair,
  type JSONWebKeySet,
  type JWTPayload,
  SignJWT,
  UnsecuredJWT,
} from "jose";
import { certificateThumbprint } from "../../src/auth/thumbprint.ts";
import type { AuthOptions } from "../../src/auth/options.ts";
import { decodePem } from "../../src/cert/pem.ts";
import type { Credential, Fixtures } from "../server/_fixtures.ts";
import { INITIALIZE, rawPost } from "../server/_fixtures.ts";

export const ISSUER = "https://as.test.example";
export const RESOURCE = "https://127.0.0.1:8443/mcp";
export const METADATA_URL = "https://127.0.0.1:8443/.well-known/oauth-protected-resource/mcp";

/** A signing key with its public JWK. */
export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: Record<string, unknown>;
}

/** An ES256 key pair named `kid`. */
export async function signingKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
  return { kid, privateKey, jwk };
}

/** The key set publishing `keys`. */
export function jwksOf(...keys: SigningKey[]): JSONWebKeySet {
  return { keys: keys.map((k) => k.jwk) as JSONWebKeySet["keys"] };
}

/** `cnf["x5t#S256"]` of a credential's certificate. */
export function thumbprintOf(cred: Credential): Promise<string> {
  return certificateThumbprint(decodePem(cred.cert, "test")[0].der);
}

/** What {@link signToken} puts in a token, each overridable (`undefined` removes it). */
export interface TokenClaims extends JWTPayload {
  scope?: string;
  client_id?: string;
  cnf?: Record<string, unknown>;
}

/** A signed access token: issuer, audience, one hour, sub alice, client agent-1, scope mcp:tools. */
export async function signToken(
  key: SigningKey,
  claims: TokenClaims = {},
  header: { alg?: string; kid?: string | null } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const payload: TokenClaims = {
    iss: ISSUER,
    aud: RESOURCE,
    sub: "alice",
    client_id: "agent-1",
    scope: "mcp:tools",
    iat: now,
    exp: now + 3600,
    ...claims,
  };
  for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
  const kid = header.kid === null ? undefined : header.kid ?? key.kid;
  return await new SignJWT(payload)
    .setProtectedHeader({ alg: header.alg ?? "ES256", typ: "at+jwt", ...(kid ? { kid } : {}) })
    .sign(key.privateKey);
}

/** A token bound to `cred`'s certificate. */
export async function boundToken(
  key: SigningKey,
  cred: Credential,
  claims: TokenClaims = {},
): Promise<string> {
  return await signToken(key, { cnf: { "x5t#S256": await thumbprintOf(cred) }, ...claims });
}

/** An unsecured (`alg: none`) token with the claims of a good bound one. */
export async function noneToken(cred: Credential): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new UnsecuredJWT({
    sub: "alice",
    client_id: "agent-1",
    scope: "mcp:tools",
    cnf: { "x5t#S256": await thumbprintOf(cred) },
  }).setIssuer(ISSUER).setAudience(RESOURCE).setIssuedAt(now).setExpirationTime(now + 3600)
    .encode();
}

/** The `auth` option of the tests, with a local key set. */
export function authOptions(jwks: JSONWebKeySet, extra: Partial<AuthOptions> = {}): AuthOptions {
  return { resource: RESOURCE, authorizationServers: [ISSUER], jwks, ...extra };
}

/** A POST of `initialize` presenting `cred` and `token`: status, `WWW-Authenticate`, error. */
export async function initializeWith(
  fx: Fixtures,
  url: string,
  cred: Credential | undefined,
  token: string | undefined,
  body: unknown = INITIALIZE,
  headers: Record<string, string> = {},
): Promise<{
  status: number;
  headers: Headers;
  challenge: string | null;
  reason?: string;
  message?: string;
  text: string;
}> {
  const auth: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const r = await rawPost(fx, url, cred, body, { ...headers, ...auth });
  let error: { message?: string; data?: { reason?: string } } | undefined;
  try {
    error = JSON.parse(r.text).error;
  } catch { /* an SSE answer */ }
  return {
    status: r.status,
    headers: r.headers,
    challenge: r.headers.get("www-authenticate"),
    reason: error?.data?.reason,
    message: error?.message,
    text: r.text,
  };
}

/** The `WWW-Authenticate` of an `invalid_token` refusal saying `description`. */
export function invalidChallenge(description: string, metadataUrl = METADATA_URL): string {
  return `Bearer resource_metadata="${metadataUrl}", error="invalid_token", error_description="${description}"`;
}

/** An https server on 127.0.0.1 serving a JWKS (`keys()` read on each request), counting fetches. */
export async function startJwksServer(
  fx: Fixtures,
  keys: () => JSONWebKeySet,
): Promise<{ url: string; fetches: () => number; close(): Promise<void> }> {
  let fetches = 0;
  const server = https.createServer({ cert: fx.server.cert, key: fx.server.key }, (_req, res) => {
    fetches++;
    const body = JSON.stringify(keys());
    res.writeHead(200, { "content-type": "application/jwk-set+json" }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}/jwks`,
    fetches: () => fetches,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
