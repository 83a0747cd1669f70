/**
 * What a checked access token says, whatever checked it (a JWT verified
 * locally, or an introspection answer), and why a token is refused.
 *
 * @module
 */
import type { ReasonCode } from "../errors.ts";

/**
 * An access token that passed signature (or introspection), issuer,
 * audience and time checks; the binding is checked after.
 *
 * @example
 * ```ts
 * import type { VerifiedToken } from "@mtls/mcp/auth";
 * const t: VerifiedToken = { token: "eyJ...", scopes: ["mcp:tools"], claims: {} };
 * ```
 */
export interface VerifiedToken {
  /** The bearer token as sent. */
  token: string;
  /** `sub`. */
  sub?: string;
  /** `client_id` (RFC 9068), else `azp`. */
  clientId?: string;
  /** `scope` split on spaces (or `scp`). */
  scopes: string[];
  /** `exp`, seconds since the epoch. */
  expiresAt?: number;
  /** `cnf["x5t#S256"]`: the thumbprint of the certificate the token is bound to. */
  thumbprint?: string;
  /** Every claim (JWT payload or introspection answer). */
  claims: Record<string, unknown>;
}

/**
 * Why a request's token was refused: HTTP status, reason code and the
 * sentence sent as `error_description` and in the JSON-RPC error.
 *
 * @example
 * ```ts
 * import type { TokenRefusal } from "@mtls/mcp/auth";
 * const r: TokenRefusal = { status: 401, reason: "invalid_token", description: "Token has expired" };
 * ```
 */
export interface TokenRefusal {
  /** 401, 403 (`insufficient_scope`) or 503 (`auth_unavailable`). */
  status: 401 | 403 | 503;
  /** The reason code. */
  reason: Extract<
    ReasonCode,
    | "token_missing"
    | "invalid_token"
    | "token_binding_mismatch"
    | "token_unbound"
    | "insufficient_scope"
    | "auth_unavailable"
  >;
  /** What is wrong, for the client. */
  description: string;
  /** With `insufficient_scope`: the scopes needed, space separated. */
  scope?: string;
  /** For the server's log only (never sent): what failed underneath, e.g. a fetch error. */
  cause?: string;
}

/**
 * A refusal of `invalid_token` (HTTP 401) with `description`.
 *
 * @example
 * ```ts
 * import { invalidToken } from "@mtls/mcp/auth";
 * invalidToken("Token has expired").status; // 401
 * ```
 */
export function invalidToken(description: string): TokenRefusal {
  return { status: 401, reason: "invalid_token", description };
}

/**
 * Whether `value` is a {@link TokenRefusal} (and not a {@link VerifiedToken}).
 *
 * @example
 * ```ts
 * import { invalidToken, isTokenRefusal } from "@mtls/mcp/auth";
 * isTokenRefusal(invalidToken("no")); // true
 * ```
 */
export function isTokenRefusal(value: VerifiedToken | TokenRefusal): value is TokenRefusal {
  return "reason" in value;
}

/**
 * The fields of a {@link VerifiedToken} read from a claims object.
 *
 * @example
 * ```ts
 * import { tokenFromClaims } from "@mtls/mcp/auth";
 * tokenFromClaims("t", { scope: "a b", client_id: "c" }).scopes; // ["a", "b"]
 * ```
 */
export function tokenFromClaims(token: string, claims: Record<string, unknown>): VerifiedToken {
  const { sub, client_id: clientId, azp, scope, scp, exp, cnf } = claims;
  const scopes = typeof scope === "string"
    ? scope.split(" ").filter((s) => s !== "")
    : Array.isArray(scp)
    ? scp.filter((s): s is string => typeof s === "string")
    : typeof scp === "string"
    ? scp.split(" ").filter((s) => s !== "")
    : [];
  const x5t = typeof cnf === "object" && cnf !== null
    ? (cnf as Record<string, unknown>)["x5t#S256"]
    : undefined;
  return {
    token,
    sub: typeof sub === "string" ? sub : undefined,
    clientId: typeof clientId === "string" ? clientId : typeof azp === "string" ? azp : undefined,
    scopes,
    expiresAt: typeof exp === "number" ? exp : undefined,
    thumbprint: typeof x5t === "string" ? x5t : undefined,
    claims,
  };
}
