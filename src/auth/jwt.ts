/**
 * JWT access tokens checked with `jose`: signature against a local or
 * remote key set (cached, with timeout and cooldown), allowed algorithms,
 * issuer, audience, `exp`/`nbf` with a clock tolerance. jose's errors become
 * {@link TokenRefusal}s with one sentence each; a key set that cannot be
 * fetched is `auth_unavailable`, never a verdict on the token.
 *
 * @module
 */
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  errors,
  type JSONWebKeySet,
  jwtVerify,
} from "jose";
import type { ResolvedAuthOptions } from "./options.ts";
import { invalidToken, tokenFromClaims, type TokenRefusal, type VerifiedToken } from "./token.ts";

/**
 * A `fetch` as `jose` and the introspection client call it.
 *
 * @example
 * ```ts
 * import type { AuthFetch } from "@mtls/mcp/auth";
 * const f: AuthFetch = (url, init) => fetch(url, init);
 * ```
 */
export type AuthFetch = (url: string, init?: RequestInit) => Promise<Response>;

/**
 * Checks one JWT.
 *
 * @example
 * ```ts ignore
 * const result = await verifier.verify(token);
 * ```
 */
export interface JwtVerifier {
  /** The verified token, or why it is refused. */
  verify(token: string): Promise<VerifiedToken | TokenRefusal>;
}

/**
 * Makes a JWT verifier. `fetch` serves a remote key set (an mTLS-capable
 * fetch that trusts `jwks.ca`).
 *
 * @example
 * ```ts ignore
 * const verifier = createJwtVerifier(resolveAuthOptions(options), fetch);
 * ```
 */
export function createJwtVerifier(o: ResolvedAuthOptions, fetch?: AuthFetch): JwtVerifier {
  const jwks = o.jwks!;
  const keys = "keys" in jwks
    ? createLocalJWKSet(jwks as unknown as JSONWebKeySet)
    : createRemoteJWKSet(new URL(jwks.url), {
      timeoutDuration: jwks.timeoutMs,
      cooldownDuration: jwks.cooldownMs,
      cacheMaxAge: jwks.cacheMaxAgeMs,
      ...(fetch ? { [customFetch]: fetch } : {}),
    });
  const accepted = {
    issuer: o.issuer,
    audience: o.audience,
    algorithms: o.algorithms,
    clockTolerance: o.clockToleranceSec,
    requiredClaims: ["exp"],
  };
  return {
    async verify(token) {
      try {
        const { payload } = await jwtVerify(token, keys, {
          ...accepted,
          currentDate: new Date(o.now()),
        });
        return tokenFromClaims(token, payload as Record<string, unknown>);
      } catch (error) {
        return refusalOf(error, o, token);
      }
    },
  };
}

function refusalOf(error: unknown, o: ResolvedAuthOptions, token: string): TokenRefusal {
  if (error instanceof errors.JWTExpired) return invalidToken("Token has expired");
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case "aud":
        return invalidToken(`Token audience is not ${o.audience.map(q).join(" or ")}`);
      case "iss":
        return invalidToken(`Token issuer ${q(error.payload.iss)} is not accepted`);
      case "nbf":
        return invalidToken("Token is not valid yet");
      case "iat":
        return invalidToken("Token is issued in the future");
      case "exp":
        return invalidToken("Token has no expiry (exp)");
    }
    return invalidToken(`Token claim ${q(error.claim)} is not accepted`);
  }
  if (error instanceof errors.JOSEAlgNotAllowed) {
    return invalidToken(`Token algorithm ${q(headerAlg(token))} is not accepted`);
  }
  if (error instanceof errors.JWKSNoMatchingKey) {
    return invalidToken("Token signing key is unknown");
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return invalidToken("Token signature does not verify");
  }
  if (error instanceof errors.JWKSMultipleMatchingKeys) {
    return invalidToken("Token names no key id (kid) and several keys match");
  }
  if (error instanceof errors.JWKSTimeout || error instanceof errors.JWKSInvalid) {
    return unavailable(error);
  }
  if (
    error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid ||
    error instanceof errors.JOSENotSupported
  ) {
    return invalidToken("Token is not a valid signed JWT");
  }
  // Anything else is the key set's fetch failing (network, TLS, HTTP status).
  return unavailable(error);
}

function unavailable(error: unknown): TokenRefusal {
  const why = error instanceof Error ? error.message : String(error);
  return {
    status: 503,
    reason: "auth_unavailable",
    description: "The authorization server's keys cannot be fetched; try again later",
    cause: why,
  };
}

function q(value: unknown): string {
  return JSON.stringify(typeof value === "string" ? value : String(value));
}

function headerAlg(token: string): string {
  try {
    const json = atob(token.split(".")[0].replaceAll("-", "+").replaceAll("_", "/"));
    return String(JSON.parse(json).alg);
  } catch {
    return "?";
  }
}
