/**
 * `tokenBinding`: what a client can tell about its own access token without
 * asking anyone: is it a JWT, for whom, until when, and is it bound to our
 * certificate (RFC 8705 §3.1, `cnf["x5t#S256"]`).
 *
 * @module
 */
import { decodeJwt } from "jose";
import { parseCertificates } from "../pki/parse_certificates.ts";
import { certificateThumbprint, sameThumbprint } from "./thumbprint.ts";

/**
 * What {@link tokenBinding} found. The signature is NOT checked: this reads
 * a token we hold, for diagnosis; only the server can validate it.
 *
 * @example
 * ```ts
 * import type { TokenBinding } from "@mtls/mcp/auth";
 * const b: TokenBinding = { jwt: false, bound: false, ours: "abc" };
 * ```
 */
export interface TokenBinding {
  /** Whether the token is a JWT we could read. Opaque tokens tell nothing more. */
  jwt: boolean;
  /** Its claims (`iss`, `aud`, `exp`, `scope`, `client_id`, `cnf`, ...), when a JWT. */
  claims?: Record<string, unknown>;
  /** Whether it carries `cnf["x5t#S256"]`. */
  bound: boolean;
  /** The thumbprint it is bound to. */
  thumbprint?: string;
  /** Our certificate's thumbprint (when a certificate was given). */
  ours?: string;
  /** Whether `thumbprint` is ours (`false` when unbound or no certificate). */
  matches?: boolean;
}

/**
 * Reads `token` (a JWT access token, signature unchecked) and compares its
 * `cnf["x5t#S256"]` with the SHA-256 thumbprint of `certificate`.
 *
 * @param token the access token
 * @param certificate our client certificate (PEM or DER; the first one counts)
 * @returns what was found
 *
 * @example
 * ```ts ignore
 * import { tokenBinding } from "@mtls/mcp/auth";
 * const b = await tokenBinding(token, await Deno.readTextFile("certs/client.crt"));
 * console.log(b.bound, b.matches); // true true
 * ```
 */
export async function tokenBinding(
  token: string,
  certificate?: string | Uint8Array,
): Promise<TokenBinding> {
  const ours = certificate === undefined
    ? undefined
    : await certificateThumbprint(parseCertificates(certificate)[0].der);
  let claims: Record<string, unknown>;
  try {
    claims = decodeJwt(token);
  } catch {
    return { jwt: false, bound: false, ours };
  }
  const cnf = claims.cnf as Record<string, unknown> | undefined;
  const thumbprint = typeof cnf?.["x5t#S256"] === "string" ? cnf["x5t#S256"] : undefined;
  return {
    jwt: true,
    claims,
    bound: thumbprint !== undefined,
    thumbprint,
    ours,
    matches: thumbprint !== undefined && ours !== undefined && sameThumbprint(thumbprint, ours),
  };
}
