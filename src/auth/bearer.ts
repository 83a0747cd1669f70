/**
 * One request's bearer token, judged: read from the `Authorization` header
 * (the only method this server supports, RFC 6750 §2.1), verified as a JWT
 * or by introspection, then bound to the client certificate (RFC 8705 §3):
 * `cnf["x5t#S256"]` must equal the thumbprint of the certificate presented
 * on this connection. A connection that sends the same JWT again reuses the
 * verdict until the token expires (a signature does not change its mind);
 * a JWT verified on another connection is remembered (by its SHA-256, at
 * most {@link VERIFIED_MAX} of them, for at most {@link VERIFIED_TTL_MS} so
 * a key withdrawn from the key set stops counting) and only its binding is
 * checked again; an introspected token is asked again, within the
 * introspection cache's time to live, so a revocation at the authorization
 * server is seen.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { LruMap } from "../limits/lru.ts";
import type { PeerIdentity } from "../policy/identity.ts";
import type { JwtVerifier } from "./jwt.ts";
import type { Introspector } from "./introspection.ts";
import type { ResolvedAuthOptions } from "./options.ts";
import { sameThumbprint, thumbprintOfFingerprint } from "./thumbprint.ts";
import { invalidToken, isTokenRefusal, type TokenRefusal, type VerifiedToken } from "./token.ts";

/** Longest token read, characters: bounds the work a hostile header can cause. */
const MAX_TOKEN_LENGTH = 16_384;

/** Most verified JWTs remembered across connections. */
const VERIFIED_MAX = 10_000;

/** Longest a verified JWT is remembered across connections, ms. */
const VERIFIED_TTL_MS = 300_000;

/** RFC 6750 §2.1 `b64token`. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** Three base64url segments: a JWS in compact form. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * The connection a token arrives on, as far as the binding needs it.
 *
 * @example
 * ```ts
 * import type { TokenPeer } from "@mtls/mcp/auth";
 * const anonymous: TokenPeer = {};
 * ```
 */
export interface TokenPeer {
  /** The client certificate's identity; `undefined` when none was presented. */
  identity?: PeerIdentity;
}

/**
 * Judges bearer tokens.
 *
 * @example
 * ```ts ignore
 * const verdict = await checker.check(req.headers.authorization, state);
 * ```
 */
export interface BearerChecker {
  /** The verified, bound token of a request, or why it is refused. */
  check(authorization: string | undefined, peer: TokenPeer): Promise<VerifiedToken | TokenRefusal>;
}

/**
 * Makes the checker from the verifiers `o` configures.
 *
 * @example
 * ```ts ignore
 * const checker = createBearerChecker(o, { jwt, introspector });
 * ```
 */
export function createBearerChecker(
  o: ResolvedAuthOptions,
  verifiers: { jwt?: JwtVerifier; introspector?: Introspector },
): BearerChecker {
  const { jwt, introspector } = verifiers;
  // The last verdict per connection: clients send one token on many requests.
  const lastOf = new WeakMap<TokenPeer, { token: string; verdict: VerifiedToken }>();
  const verified = new LruMap<VerifiedToken>({ max: VERIFIED_MAX, now: o.now });
  const thumbprints = new WeakMap<PeerIdentity, string>();

  /** The connection certificate's thumbprint, computed once per identity object. */
  function thumbprintOf(identity: PeerIdentity): string {
    let t = thumbprints.get(identity);
    if (t === undefined) {
      t = thumbprintOfFingerprint(identity.fingerprint);
      thumbprints.set(identity, t);
    }
    return t;
  }

  /** A JWT's claims, verified now or remembered from an earlier verification. */
  async function verifyJwt(token: string): Promise<VerifiedToken | TokenRefusal> {
    const key = createHash("sha256").update(token).digest("base64url");
    const known = verified.get(key);
    if (known) return known;
    const verdict = await jwt!.verify(token);
    if (!isTokenRefusal(verdict)) {
      const exp = verdict.expiresAt === undefined ? Infinity : verdict.expiresAt * 1000;
      verified.set(key, verdict, Math.min(exp, o.now() + VERIFIED_TTL_MS));
    }
    return verdict;
  }

  function bind(t: VerifiedToken, peer: TokenPeer): VerifiedToken | TokenRefusal {
    if (t.thumbprint === undefined) {
      if (!o.requireBinding) return t;
      return {
        status: 401,
        reason: "token_unbound",
        description: 'Token is not bound to a client certificate (no cnf "x5t#S256")',
      };
    }
    const ours = peer.identity ? thumbprintOf(peer.identity) : undefined;
    if (ours === undefined || !sameThumbprint(ours, t.thumbprint)) {
      return {
        status: 401,
        reason: "token_binding_mismatch",
        description: ours === undefined
          ? "Token is bound to a client certificate, and none was presented"
          : "Token is bound to another client certificate",
      };
    }
    return t;
  }

  return {
    async check(authorization, peer) {
      const token = bearerToken(authorization);
      if (typeof token !== "string") return token;
      const last = lastOf.get(peer);
      if (last?.token === token) {
        const exp = last.verdict.expiresAt;
        if (exp === undefined || exp + o.clockToleranceSec > o.now() / 1000) return last.verdict;
        lastOf.delete(peer);
        return invalidToken("Token has expired");
      }
      let verdict: VerifiedToken | TokenRefusal;
      const signed = jwt !== undefined && COMPACT_JWS.test(token);
      if (signed) verdict = await verifyJwt(token);
      else if (introspector) verdict = await introspector.verify(token);
      else verdict = invalidToken("Token is not a valid signed JWT");
      if (isTokenRefusal(verdict)) return verdict;
      const bound = bind(verdict, peer);
      if (signed && !isTokenRefusal(bound)) lastOf.set(peer, { token, verdict: bound });
      return bound;
    },
  };
}

/** The token of an `Authorization: Bearer` header, or the refusal of what was sent instead. */
function bearerToken(authorization: string | undefined): string | TokenRefusal {
  const space = authorization?.indexOf(" ") ?? -1;
  if (authorization === undefined || authorization.slice(0, space).toLowerCase() !== "bearer") {
    // No token, or another scheme: RFC 6750 §3.1 says no error code then.
    return { status: 401, reason: "token_missing", description: "A bearer token is required" };
  }
  const token = authorization.slice(space + 1).trim();
  if (token.length > MAX_TOKEN_LENGTH) {
    return invalidToken(`Token is longer than ${MAX_TOKEN_LENGTH} characters`);
  }
  if (!B64TOKEN.test(token)) return invalidToken("Token is not a valid bearer token");
  return token;
}
