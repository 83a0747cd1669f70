/**
 * The `WWW-Authenticate: Bearer ...` challenge of RFC 6750 §3 with the
 * `resource_metadata` parameter of RFC 9728 §5.1.
 *
 * @module
 */

/**
 * What a challenge says.
 *
 * @example
 * ```ts
 * import type { BearerChallenge } from "@mtls/mcp/auth";
 * const c: BearerChallenge = { resourceMetadata: "https://h/.well-known/oauth-protected-resource/mcp" };
 * ```
 */
export interface BearerChallenge {
  /** URL of the protected resource metadata document. */
  resourceMetadata: string;
  /** `invalid_token`, `insufficient_scope` or `invalid_request`; none when no token was sent (RFC 6750 §3.1). */
  error?: "invalid_token" | "insufficient_scope" | "invalid_request";
  /** Human-readable explanation. */
  description?: string;
  /** Scopes needed (space separated), with `insufficient_scope`. */
  scope?: string;
}

/** A quoted-string (RFC 9110 §5.6.4): `"` and `\` escaped, controls and non-ASCII replaced. */
function quoted(value: string): string {
  // deno-lint-ignore no-control-regex
  const safe = value.replace(/[\u0000-\u001f\u007f-\uffff]/g, "?").replace(/["\\]/g, "\\$&");
  return `"${safe}"`;
}

/**
 * The header value of `challenge`.
 *
 * @example
 * ```ts
 * import { bearerChallenge } from "@mtls/mcp/auth";
 * bearerChallenge({ resourceMetadata: "https://h/m", error: "invalid_token", description: "expired" });
 * // 'Bearer resource_metadata="https://h/m", error="invalid_token", error_description="expired"'
 * ```
 */
export function bearerChallenge(challenge: BearerChallenge): string {
  const parts = [`resource_metadata=${quoted(challenge.resourceMetadata)}`];
  if (challenge.error) parts.push(`error=${quoted(challenge.error)}`);
  if (challenge.scope !== undefined) parts.push(`scope=${quoted(challenge.scope)}`);
  if (challenge.description) parts.push(`error_description=${quoted(challenge.description)}`);
  return `Bearer ${parts.join(", ")}`;
}
